"""LeNet-5 trains live, in a window: a thin front end over :class:`gpuml.playground.training.TrainModel` (the web
page's live training drives the same model): optimisation steps on the device, the running loss and accuracy as
curves, test accuracy every ``eval_every`` steps, and the six first-layer 5x5 filters.

Frames stay short (no frame over 50 ms after the first on lavapipe): each frame trains as many steps as fit in its
work budget (:meth:`~gpuml.demos.app.App.work_budget`; the time per step is learnt as it goes, ``+``/``-`` cap the
steps), and a test evaluation runs in slices of :data:`EVAL_SLICE` images over several frames while training
waits, so its accuracy belongs to the step it was due at. The device queue is shared with rendering, so work in a
thread would still hold frames.

The model trains where ``auto`` runs training (:mod:`gpuml.demos.train_device`): on a software adapter that is
numpy when it measured faster (a frame is then a few numpy steps plus the render, not a lavapipe step plus the
render on the same cores), else, and on a GPU or with ``GPUML_BACKEND=native``, the window's WebGPU device. The
filters are drawn from a host copy of the weights either way; the subtitle says where training runs.
"""

from __future__ import annotations

import time

import numpy as np

from .. import ops
from ..nn.functional import softmax_cross_entropy
from ..playground.training import TrainModel
from ..tensor import tensor
from ._data import training_data
from .app import Demo, WorkBudget
from .chart import plot
from .render import DIM, PALETTE, TEXT
from .train_device import training_device

EVAL_SLICE = 128  # test images per evaluation slice (a multiple of 64: label views stay 256-byte aligned)
MAX_STEPS_PER_FRAME = 16


def filter_image(w: np.ndarray) -> np.ndarray:
    """A (5, 5) filter -> RGBA with a diverging map (blue negative, red positive), scaled by its max |w|."""
    m = float(np.abs(w).max()) or 1.0
    v = w / m
    out = np.empty((*w.shape, 4), np.uint8)
    pos, neg = np.clip(v, 0, 1), np.clip(-v, 0, 1)
    out[..., 0] = (40 + 215 * pos).astype(np.uint8)
    out[..., 1] = 40
    out[..., 2] = (40 + 215 * neg).astype(np.uint8)
    out[..., 3] = 255
    return out


def smooth(v, k: int = 10) -> np.ndarray:
    """Running mean over ``k`` values (shorter at the start)."""
    v = np.asarray(v, np.float64)
    if len(v) < k:
        return v
    c = np.cumsum(np.insert(v, 0, 0))
    head = c[1:k] / np.arange(1, k)
    return np.concatenate([head, (c[k:] - c[:-k]) / k])


class SlicedEvalModel(TrainModel):
    """:class:`TrainModel` whose test evaluation is done in slices: ``evaluate`` queues one (for the current
    step), :meth:`evaluate_slice` advances it by ``n`` images and records the accuracy after the last slice."""

    def restart(self) -> None:
        self.pending_eval = None  # (step, images done, correct so far)
        super().restart()

    @property
    def evaluating(self) -> bool:
        return self.pending_eval is not None

    def evaluate(self) -> float:
        self.pending_eval = (self.steps, 0, 0.0)
        return float("nan")

    def evaluate_slice(self, n: int = EVAL_SLICE) -> None:
        step, at, correct = self.pending_eval
        x, y = self.test
        total = y.shape[0]
        m = min(n, total - at)
        self.net.eval()
        _, right, _ = softmax_cross_entropy(self.net.forward(x.view(at * 784, (m, 1, 28, 28))), y.view(at, (m,)))
        correct += ops.sum(right).item()  # one readback per slice: the frame's budget counts its device time
        self.net.train()
        if at + m < total:
            self.pending_eval = (step, at + m, correct)
            return
        self.pending_eval = None
        self.test_steps.append(step)
        self.test_accs.append(correct / total)


class TrainDemo(Demo):
    name = "train"
    title = "LeNet-5 training live"
    help = (
        ("space", "pause/resume"),
        ("s", "one step"),
        ("r", "restart"),
        ("+/-", "max steps per frame"),
        ("e/E", "epochs"),
        ("b/B", "batch size"),
        ("l/L", "learning rate"),
        ("o", "optimizer"),
        ("Esc", "quit"),
    )

    def __init__(self, app, options):
        super().__init__(app, options)
        train, test, data_name = training_data()
        test = test.subset(min(1000, len(test)), 0)
        # numpy on a software adapter when auto measured it faster (frames then hold the render only)
        device, self.backend_text = training_device(self.device)
        batch = 64
        self.model = SlicedEvalModel(
            train,  # Trainer.fit's numpy path: shuffled per epoch, uploaded batch by batch
            -(-len(train) // batch),
            (tensor(test.images, device=device), tensor(test.labels.astype(np.int32), device=device)),
            batch=batch,
            lr=float(options.get("lr") or 1e-3),
            eval_every=int(options.get("eval_every") or 100),
            steps_per_frame=int(options.get("steps_per_frame") or MAX_STEPS_PER_FRAME),
            data_name=data_name,
            n_train=len(train),
            eval_at_start=True,
            device=device,
            epochs=3,
        )
        while self.model.evaluating:  # the evaluation at step 0 (and its kernel compiles) before the first frame
            self.model.evaluate_slice()
        self.steps_budget, self.eval_budget = WorkBudget(), WorkBudget()
        self._view = (None, None)

    def update(self) -> None:
        """Evaluation slices while an evaluation is due, else training steps, until the frame's budget is spent
        (at least one unit; steps capped by the model's steps per frame)."""
        m = self.model
        budget = self.app.work_budget()
        if m.evaluating:
            end = time.perf_counter() + budget
            while True:  # at least one slice per frame
                self.eval_budget.timed(lambda _: m.evaluate_slice(), 1)
                if not m.evaluating or time.perf_counter() + self.eval_budget.per_unit > end:
                    break
        elif m.get("playing") and not m.done:
            self.steps_budget.seconds = budget
            self.steps_budget.timed(m.train_steps, self.steps_budget.units(m.get("steps_per_frame")))

    def view(self) -> dict:
        """The model's view, read again (one filter readback) only when training moved on."""
        m = self.model
        key = (id(m.net), m.steps, len(m.test_accs), m.evaluating, m.get("playing"))
        if self._view[0] != key:
            self._view = (key, m.view())
        return self._view[1]

    def state(self) -> dict:
        return {**self.model.state(), "train_backend": self.model.device.name, "backend_text": self.backend_text}

    def on_key(self, key, modifiers):
        m = self.model
        if key == " ":
            m.set("playing", not m.get("playing"))
        elif key == "s":
            m.press("step")
        elif key == "r":
            m.press("restart")
        elif key in ("+", "=", "WheelUp"):
            m.set("steps_per_frame", min(MAX_STEPS_PER_FRAME, m.get("steps_per_frame") * 2))
        elif key in ("-", "WheelDown"):
            m.set("steps_per_frame", max(1, m.get("steps_per_frame") // 2))
        elif key in ("e", "E", "b", "B", "l", "L"):  # a new run setting restarts the run
            m.nudge({"e": "epochs", "b": "batch", "l": "lr"}[key.lower()], key.isupper())
        elif key == "o":
            names = m.control("optimizer").choices
            m.set("optimizer", names[(names.index(m.get("optimizer")) + 1) % len(names)])

    def draw(self, r) -> None:
        v = self.view()
        m = self.model
        r.text(v["title"], 40, 16, 22, TEXT)
        r.text(v["subtitle"], 40, 46, 12, DIM)
        r.text(self.backend_text, 1240, 46, 12, DIM, "right")
        loss = [("train loss (running mean)", v["loss_steps"], smooth(v["losses"]), PALETTE[2])]
        xlim = (0, m.total_steps) if m.total_steps else None  # the whole run, filled as it goes
        plot(r, 40, 70, 600, 330, loss, title="loss (log scale)", log_y=True, xlim=xlim, xlabel="training step")
        n_test = m.test[1].shape[0]
        accuracy = [
            ("train (batches)", v["loss_steps"], smooth(v["accs"]), PALETTE[0]),
            (f"test ({n_test:,} images)", v["test_steps"], v["test_accs"], PALETTE[4]),
        ]
        plot(r, 660, 70, 580, 330, accuracy, title="accuracy", xlim=xlim, ylim=(0.0, 1.0), xlabel="training step")
        r.panel(40, 420, 1200, 300, "first convolution: 6 filters, 5x5 (red positive, blue negative)")
        for i, f in enumerate(v["filters"]):
            f = np.asarray(f, np.float32).reshape(5, 5)
            r.image_keyed(f"filter{i}", f.tobytes(), lambda f=f: filter_image(f), 60 + i * 195, 460, 170, 170)
            r.text(f"|w| max {np.abs(f).max():.2f}", 60 + i * 195, 636, 11, DIM)
        status = v["status"]
        if m.evaluating:
            step, at, _ = m.pending_eval
            if v["state"] == "done":  # the run's last steps are in; its final test evaluation is not yet
                status = "finishing" + status[len("done") :]
            status += f" · evaluating step {step}: {at} of {n_test} test images"
        r.text(status, 60, 672, 14, TEXT)
        self.draw_help(r, 40, 750, 1200)  # two lines, clear of the frame-time line at the bottom right
