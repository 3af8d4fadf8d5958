"""LeNet-5 trains live, in a window: a thin front end over :class:`gpuml.playground.training.TrainModel` (the web
page's live training drives the same model): a few optimisation steps per frame on the device, the running loss
and accuracy as curves, test accuracy every ``eval_every`` steps, and the six first-layer 5x5 filters."""

from __future__ import annotations

import numpy as np

from ..datasets import batches
from ..playground.training import TrainModel
from ..tensor import tensor
from ._data import training_data
from .app import Demo
from .render import DIM, PALETTE, TEXT


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


class TrainDemo(Demo):
    name = "train"
    title = "LeNet-5 training live"
    help = (
        ("space", "pause/resume"),
        ("s", "one step"),
        ("r", "restart"),
        ("+/-", "steps per frame"),
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
        device, batch = self.device, 64

        def rebatch(batch):  # shuffled per epoch, uploaded batch by batch
            def host_batches(epoch):
                for xb, yb in batches(train, batch, seed=0, epoch=epoch):
                    yield tensor(xb, device=device), tensor(yb.astype(np.int32), device=device)

            return host_batches, -(-len(train) // batch)

        self.model = TrainModel(
            *rebatch(batch),
            (tensor(test.images, device=device), tensor(test.labels.astype(np.int32), device=device)),
            batch=batch,
            lr=float(options.get("lr") or 1e-3),
            eval_every=int(options.get("eval_every") or 100),
            steps_per_frame=int(options.get("steps_per_frame") or 2),
            data_name=data_name,
            n_train=len(train),
            eval_at_start=True,
            device=device,
            epochs=3,
            rebatch=rebatch,
        )

    def update(self) -> None:
        self.model.step()

    def on_key(self, key, modifiers):
        m = self.model
        if key == " ":
            m.set("playing", not m.get("playing"))
        elif key == "s":
            m.press("step")
        elif key == "r":
            m.press("restart")
        elif key in ("+", "=", "WheelUp"):
            m.set("steps_per_frame", min(16, m.get("steps_per_frame") * 2))
        elif key in ("-", "WheelDown"):
            m.set("steps_per_frame", max(1, m.get("steps_per_frame") // 2))
        elif key in ("e", "E", "b", "B", "l", "L"):  # a new run setting restarts the run
            m.nudge({"e": "epochs", "b": "batch", "l": "lr"}[key.lower()], key.isupper())
        elif key == "o":
            names = m.control("optimizer").choices
            m.set("optimizer", names[(names.index(m.get("optimizer")) + 1) % len(names)])

    def draw(self, r) -> None:
        v = self.model.view()
        r.text(v["title"], 40, 16, 22, TEXT)
        r.text(v["subtitle"], 40, 46, 12, DIM)
        loss = [("train loss", v["loss_steps"], smooth(v["losses"]), PALETTE[2])]
        xlim = (0, self.model.total_steps) if self.model.total_steps else None  # the whole run, filled as it goes
        r.plot(40, 70, 600, 330, loss, title="loss (x: step)", log_y=True, xlim=xlim)
        r.plot(
            660,
            70,
            580,
            330,
            [
                ("train (batches)", v["loss_steps"], smooth(v["accs"]), PALETTE[0]),
                ("test", v["test_steps"], v["test_accs"], PALETTE[4]),
            ],
            title="accuracy (x: step)",
            xlim=xlim,
            ylim=(0.0, 1.0),
        )
        r.panel(40, 420, 1200, 300, "first convolution: 6 filters, 5x5 (red positive, blue negative)")
        for i, f in enumerate(v["filters"]):
            f = np.asarray(f, np.float32).reshape(5, 5)
            r.image(f"filter{i}", filter_image(f), 60 + i * 195, 460, 170, 170)
            r.text(f"|w| max {np.abs(f).max():.2f}", 60 + i * 195, 636, 11, DIM)
        r.text(v["status"], 60, 672, 14, TEXT)
        self.draw_help(r, 40, 772, 1200)
