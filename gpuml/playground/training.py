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
from ..optim import SGD, Adam, AdamW, RMSprop
from .controls import DemoModel, button, choice, slider, toggle

OPTIMIZERS = {
    "adam": lambda params, lr: Adam(params, lr=lr),
    "adamw": lambda params, lr: AdamW(params, lr=lr),
    "sgd": lambda params, lr: SGD(params, lr=lr, momentum=0.9),
    "rmsprop": lambda params, lr: RMSprop(params, lr=lr),
}
# the run's settings (validated together by ``TrainModel.check``; a new value applies from the next restart)
SETTINGS = (
    slider("epochs", 3, 1, 20, integer=True, label="epochs"),
    choice("batch", 64, (16, 32, 64, 128), label="batch size"),
    slider("lr", 3e-3, 1e-4, 0.1, log=True, label="learning rate"),
    choice("optimizer", "adam", tuple(OPTIMIZERS), label="optimizer"),
)


def device_batches(x, y, batch: int):
    """``batches`` for tensors on the device: epoch -> consecutive (B, 1, 28, 28), (B,) views of x and y."""
    per_epoch = y.shape[0] // batch

    def epoch_batches(epoch: int):
        for i in range(per_epoch):
            yield x.view(i * batch * 784, (batch, 1, 28, 28)), y.view(i * batch, (batch,))

    return epoch_batches, per_epoch


class TrainModel(DemoModel):
    """``batches(epoch)`` and ``per_epoch`` (steps per epoch; see the module docstring), ``test`` = (images,
    labels) device tensors; ``eval_every`` steps (None: at the end of every epoch) a test evaluation.
    ``epochs``: the run stops by itself after that many epochs (state "done", a final test evaluation); None
    trains until paused. ``optimizer``: a name in OPTIMIZERS. ``rebatch(batch) -> (batches, per_epoch)``, when
    given, lets ``configure`` change the batch size."""

    name = "train"
    title = "LeNet-5 training live"
    controls = (
        *SETTINGS,
        toggle("playing", True),
        slider("steps_per_frame", 2, 1, 16, integer=True, label="steps per frame"),
        button("step", label="one step"),
        button("restart"),
    )

    def __init__(self, batches, per_epoch: int, test, *, batch: int = 64, lr: float = 1e-3, seed: int = 0,
                 eval_every: int | None = 100, steps_per_frame: int = 2, data_name: str = "", n_train: int = 0,
                 eval_at_start: bool = False, device=None, epochs: int | None = None, optimizer: str = "adam",
                 rebatch=None):  # fmt: skip
        super().__init__()
        self.batches, self.per_epoch, self.test, self.rebatch = batches, per_epoch, test, rebatch
        self.batch, self.lr, self.seed, self.eval_every = int(batch), float(lr), int(seed), eval_every
        self.epochs = None if epochs is None else self.control("epochs").validate(epochs)
        self.optimizer = self.control("optimizer").validate(optimizer)
        self.data_name, self.n_train, self.device = data_name, n_train, device or test[0].device
        self.eval_at_start = eval_at_start
        self.values["steps_per_frame"] = self.control("steps_per_frame").validate(steps_per_frame)
        self._sync()
        self.restart()

    @classmethod
    def check(cls, settings: dict) -> tuple[dict, dict]:
        """(valid values, {name: one-line error}) for run settings (names in SETTINGS; unknown names are errors)."""
        ok, errors = {}, {}
        known = {c.name: c for c in SETTINGS}
        for name, value in settings.items():
            if name not in known:
                errors[name] = f"unknown setting {name!r} (one of {', '.join(known)})"
                continue
            try:
                ok[name] = known[name].validate(value)
            except ValueError as e:
                errors[name] = str(e)
        return ok, errors

    def configure(self, **settings) -> None:
        """New run settings (epochs, batch, lr, optimizer), validated all together (ValueError naming the first
        bad one, nothing changed), then a restart with them."""
        ok, errors = self.check(settings)
        if errors:
            raise ValueError(next(iter(errors.values())))
        if "batch" in ok and ok["batch"] != self.batch:
            if self.rebatch is None:
                raise ValueError("this training run cannot change its batch size")
            self.batches, self.per_epoch = self.rebatch(ok["batch"])
            self.batch = ok["batch"]
        self.epochs = ok.get("epochs", self.epochs)
        self.lr = ok.get("lr", self.lr)
        self.optimizer = ok.get("optimizer", self.optimizer)
        self._sync()
        self.restart()

    def _sync(self) -> None:
        self.values.update(batch=self.batch, lr=self.lr, optimizer=self.optimizer)
        if self.epochs is not None:
            self.values["epochs"] = self.epochs

    def make_optimizer(self, params):
        return OPTIMIZERS[self.optimizer](params, self.lr)

    @property
    def total_steps(self) -> int | None:
        return None if self.epochs is None else self.epochs * self.per_epoch

    @property
    def done(self) -> bool:
        return self.total_steps is not None and self.steps >= self.total_steps

    def restart(self) -> None:
        self.net = from_spec("lenet5", (1, 28, 28), self.device, self.seed)
        self.device = self.net.device
        self.opt = self.make_optimizer(self.net.parameters())
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
        when one is due. Stops at ``total_steps`` (fewer steps then; none once done)."""
        if self.total_steps is not None:
            n = min(n, self.total_steps - self.steps)
        if n <= 0:
            return
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
        if due or self.done:
            self.evaluate()
        if self.done:
            self.values["playing"] = False

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

    def _changed(self, name, value) -> None:
        if name in {c.name for c in SETTINGS}:
            self.configure(**{name: value})

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
        status = "done" if self.done else "training" if self.values["playing"] else "paused"
        loss = self.losses[-1] if self.losses else float("nan")
        test = f"{self.test_accs[-1] * 100:.1f}%" if self.test_accs else "-"
        return {
            "title": "LeNet-5 training live",
            "subtitle": f"{self.data_name}: {self.n_train:,} training images, batch {self.batch}, "
            f"{self.optimizer} lr {self.lr:g}" + (f", {self.epochs} epochs" if self.epochs else ""),
            "state": status,
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
            "done": self.done,
            "epochs": self.epochs,
            "batch": self.batch,
            "lr": self.lr,
            "optimizer": self.optimizer,
            "steps_per_frame": self.values["steps_per_frame"],
            "data": self.data_name,
        }
