"""LeNet-5 trains live: optimisation steps on the device (forward, fused softmax cross-entropy, backward, Adam),
the running loss and accuracy, test accuracy at intervals, and the first-layer filters as they evolve.
Numpy-free (the web page runs it in Pyodide core).

Batches come from ``batches(epoch)``, an iterator of (images (B, 1, 28, 28), labels (B,)) device tensors per
epoch: :func:`device_batches` slices tensors already on the device (the page); the native demo uploads shuffled
host batches.
"""

from __future__ import annotations

import time

from .. import ops
from ..nn import from_spec
from ..nn.functional import softmax_cross_entropy
from ..optim import Adam
from .controls import DemoModel, button, slider, toggle


def device_batches(x, y, batch: int):
    """``batches`` for tensors on the device: epoch -> consecutive (B, 1, 28, 28), (B,) views of x and y."""
    per_epoch = y.shape[0] // batch

    def epoch_batches(epoch: int):
        for i in range(per_epoch):
            yield x.view(i * batch * 784, (batch, 1, 28, 28)), y.view(i * batch, (batch,))

    return epoch_batches, per_epoch


class TrainModel(DemoModel):
    """``batches(epoch)`` and ``per_epoch`` (steps per epoch; see the module docstring), ``test`` = (images,
    labels) device tensors; ``eval_every`` steps (None: at the end of every epoch) a test evaluation."""

    name = "train"
    title = "LeNet-5 training live"
    controls = (
        toggle("playing", True),
        slider("steps_per_frame", 2, 1, 16, integer=True, label="steps per frame"),
        button("step", label="one step"),
        button("restart"),
    )

    def __init__(self, batches, per_epoch: int, test, *, batch: int = 64, lr: float = 1e-3, seed: int = 0,
                 eval_every: int | None = 100, steps_per_frame: int = 2, data_name: str = "", n_train: int = 0,
                 eval_at_start: bool = False, device=None):  # fmt: skip
        super().__init__()
        self.batches, self.per_epoch, self.test = batches, per_epoch, test
        self.batch, self.lr, self.seed, self.eval_every = int(batch), float(lr), int(seed), eval_every
        self.data_name, self.n_train, self.device = data_name, n_train, device or test[0].device
        self.eval_at_start = eval_at_start
        self.values["steps_per_frame"] = self.control("steps_per_frame").validate(steps_per_frame)
        self.restart()

    def restart(self) -> None:
        self.net = from_spec("lenet5", (1, 28, 28), self.device, self.seed)
        self.device = self.net.device
        self.opt = Adam(self.net.parameters(), lr=self.lr)
        self.steps = 0
        self.epoch = 0
        self._iter = self.batches(0)
        self.loss_steps: list[int] = []
        self.losses: list[float] = []
        self.accs: list[float] = []
        self.test_steps: list[int] = []
        self.test_accs: list[float] = []
        self.images_per_s = 0.0
        self.ms_per_step = 0.0
        if self.eval_at_start:
            self.evaluate()

    def _next_batch(self):
        try:
            return next(self._iter)
        except StopIteration:
            self.epoch += 1
            self._iter = self.batches(self.epoch)
            return next(self._iter)

    def train_steps(self, n: int) -> None:
        """``n`` optimisation steps, one readback of their summed loss and correct count; then a test evaluation
        when one is due."""
        t0 = time.perf_counter()
        self.net.train()
        loss = correct = None
        seen = 0
        for _ in range(n):
            xb, yb = self._next_batch()
            row_loss, row_correct, grad = softmax_cross_entropy(self.net.forward(xb), yb)
            self.net.backward(grad)
            self.opt.step()
            s, c = ops.sum(row_loss), ops.sum(row_correct)
            loss = s if loss is None else ops.add(loss, s)
            correct = c if correct is None else ops.add(correct, c)
            seen += yb.shape[0]
            self.steps += 1
        self.loss_steps.append(self.steps)
        self.losses.append(loss.item() / seen)
        self.accs.append(correct.item() / seen)
        dt = time.perf_counter() - t0
        self.images_per_s, self.ms_per_step = seen / dt, dt * 1e3 / n
        due = self.steps % self.per_epoch < n if self.eval_every is None else self.steps % self.eval_every < n
        if due:
            self.evaluate()

    def evaluate(self) -> float:
        """Test accuracy (eval mode, one forward of the test set, one readback); recorded in the curves."""
        x, y = self.test
        self.net.eval()
        _, correct, _ = softmax_cross_entropy(self.net.forward(x), y)
        acc = ops.sum(correct).item() / y.shape[0]
        self.net.train()
        self.test_steps.append(self.steps)
        self.test_accs.append(acc)
        return acc

    def step(self) -> None:
        if self.values["playing"]:
            self.train_steps(self.values["steps_per_frame"])

    def _pressed(self, name) -> None:
        if name == "step":
            self.values["playing"] = False
            self.train_steps(1)
        elif name == "restart":
            self.restart()

    def filters(self) -> list[list[float]]:
        """The first convolution's filters (6 flat 5 x 5 lists); one readback."""
        w = self.net.parameters()["0.weight"].data
        vals = w.to_array().tolist()
        size = w.size // w.shape[0]
        return [vals[i * size : (i + 1) * size] for i in range(w.shape[0])]

    def view(self) -> dict:
        """What to draw: the loss and accuracy series, test accuracy points, the filters and a status line."""
        status = "training" if self.values["playing"] else "paused"
        loss = self.losses[-1] if self.losses else float("nan")
        test = f"{self.test_accs[-1] * 100:.1f}%" if self.test_accs else "-"
        return {
            "title": "LeNet-5 training live",
            "subtitle": f"{self.data_name}: {self.n_train:,} training images, batch {self.batch}, Adam lr {self.lr:g}",
            "loss_steps": list(self.loss_steps),
            "losses": list(self.losses),
            "accs": list(self.accs),
            "test_steps": list(self.test_steps),
            "test_accs": list(self.test_accs),
            "filters": self.filters(),
            "status": f"{status} · step {self.steps} · epoch {self.epoch + 1} · loss {loss:.4f}"
            f" · test accuracy {test} · {self.images_per_s:,.0f} images/s",
        }

    def state(self) -> dict:
        return {
            "step": self.steps,
            "epoch": self.epoch,
            "loss": self.losses[-1] if self.losses else None,
            "test_accuracy": self.test_accs[-1] if self.test_accs else None,
            "playing": self.values["playing"],
            "steps_per_frame": self.values["steps_per_frame"],
            "data": self.data_name,
        }
