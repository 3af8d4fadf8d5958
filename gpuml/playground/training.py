"""LeNet-5 trains live: optimisation steps on the device (forward, fused softmax cross-entropy, backward, Adam),
the running loss and accuracy, test accuracy at intervals, and the first-layer filters as they evolve.
Numpy-free (the web page runs it in Pyodide core).

The steps are :meth:`gpuml.train.Trainer.fit_steps`, advanced a few per frame: the training data is whatever
``Trainer.fit`` takes (device tensors on the page, a :class:`gpuml.datasets.Dataset` natively), shuffled per
epoch by the Trainer.
"""

from __future__ import annotations

import time

from .. import ops
from ..nn import from_spec
from ..optim import SGD, Adam, AdamW, RMSprop
from ..train import TrainConfig, Trainer
from ..train.data import DeviceData
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
    """Training data of device tensors ``x`` (N, 1, 28, 28) and ``y`` (N,) for :class:`TrainModel`, and the steps
    per epoch at this batch size: ``(train, per_epoch)``."""
    return (x, y), -(-y.shape[0] // batch)


class TrainModel(DemoModel):
    """``train``: the training data as ``Trainer.fit`` takes it ((images, labels) device tensors, a Dataset);
    ``per_epoch`` is kept for callers and recomputed (``ceil(N / batch)``, as the Trainer batches); ``test`` =
    (images, labels) device tensors; ``eval_every`` steps (None: at the end of every epoch) a test evaluation.
    ``epochs``: the run stops by itself after that many epochs (state "done", a final test evaluation); None
    trains until paused. ``optimizer``: a name in OPTIMIZERS. ``rebatch`` is accepted and unused (the Trainer
    batches the same data at any batch size)."""

    name = "train"
    title = "LeNet-5 training live"
    schedule = "cosine"  # the learning rate of a run of ``epochs``: cosine-annealed per epoch (Trainer's default)
    controls = (
        *SETTINGS,
        toggle("playing", True),
        slider("steps_per_frame", 2, 1, 16, integer=True, label="steps per frame"),
        button("step", label="one step"),
        button("restart"),
    )

    def __init__(self, train, per_epoch: int, test, *, batch: int = 64, lr: float = 1e-3, seed: int = 0,
                 eval_every: int | None = 100, steps_per_frame: int = 2, data_name: str = "", n_train: int = 0,
                 eval_at_start: bool = False, device=None, epochs: int | None = None, optimizer: str = "adam",
                 rebatch=None):  # fmt: skip
        super().__init__()
        self.train_data, self.test, self.rebatch = train, test, rebatch
        self._train = self._test = None  # checked once (Trainer.data), reused by every restart
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
        self.batch = ok.get("batch", self.batch)
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
    def per_epoch(self) -> int:
        return -(-len(self.train_set) // self.batch)

    @property
    def total_steps(self) -> int | None:
        return None if self.epochs is None else self.epochs * self.per_epoch

    @property
    def done(self) -> bool:
        return self.total_steps is not None and self.steps >= self.total_steps

    @property
    def trainer(self) -> Trainer:
        """The Trainer of this run, made for ``self.net`` and ``self.opt`` (a subclass may replace them after
        ``restart``: a new Trainer then)."""
        t = self._trainer
        if t is None or t.model is not self.net or t.optimizer is not self.opt:
            cfg = TrainConfig(model="", epochs=self.epochs or 2**31, batch_size=self.batch, lr=self.lr,
                              optimizer=self.optimizer, schedule=self.schedule, seed=self.seed,
                              input_shape=tuple(self.net.input_shape))  # fmt: skip
            t = self._trainer = Trainer(cfg, self.device, model=self.net, optimizer=self.opt)
            self._run = None
        return t

    @property
    def train_set(self):
        if self._train is None:
            self._train = self.trainer.data(self.train_data, what="training data")
        return self._train

    @property
    def test_set(self) -> DeviceData:
        if self._test is None:
            self._test = self.trainer.data(self.test, what="test data")
        return self._test

    def restart(self) -> None:
        self.net = from_spec("lenet5", (1, 28, 28), self.device, self.seed)
        self.device = self.net.device
        self.opt = self.make_optimizer(self.net.parameters())
        self._trainer = self._run = None
        self.steps = 0
        self.epoch = 0
        self.loss_steps: list[int] = []
        self.losses: list[float] = []
        self.accs: list[float] = []
        self.test_steps: list[int] = []
        self.test_accs: list[float] = []
        self.images_per_s = 0.0
        self.ms_per_step = 0.0
        if self.eval_at_start:
            self.evaluate()

    def train_steps(self, n: int) -> None:
        """``n`` steps of the run's ``Trainer.fit_steps``, one readback of their summed loss and correct count; then
        a test evaluation when one is due. Stops at ``total_steps`` (fewer steps then; none once done)."""
        if self.total_steps is not None:
            n = min(n, self.total_steps - self.steps)
        if n <= 0:
            return
        t0 = time.perf_counter()
        trainer = self.trainer
        if self._run is None:
            self._run = trainer.fit_steps(self.train_set, progress=False, log=None)
        loss = correct = None
        seen = taken = 0
        while taken < n:
            event = next(self._run, None)
            if event is None:  # the Trainer's epochs are over
                break
            if event.record is not None:  # an epoch's end: its history entry (no step)
                continue
            loss = event.loss if loss is None else ops.add(loss, event.loss)
            correct = event.correct if correct is None else ops.add(correct, event.correct)
            seen += event.size
            taken += 1
            self.steps += 1
            self.epoch = event.epoch - 1
        if not taken:
            return
        self.loss_steps.append(self.steps)
        self.losses.append(loss.item() / seen)
        self.accs.append(correct.item() / seen)
        dt = time.perf_counter() - t0
        self.images_per_s, self.ms_per_step = seen / dt, dt * 1e3 / taken
        due = self.steps % self.per_epoch < taken if self.eval_every is None else self.steps % self.eval_every < taken
        if self.done:
            for _ in self._run:  # the last epoch's end: the Trainer's history is complete
                pass
        if due or self.done:
            self.evaluate()
        if self.done:
            self.values["playing"] = False

    def evaluate(self) -> float:
        """Test accuracy (``Trainer.evaluate``: eval mode, one readback); recorded in the curves."""
        acc = self.trainer.evaluate(self.test_set)["accuracy"]
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
            f"{self.optimizer} lr {self.lr:g}" + (f" (cosine), {self.epochs} epochs" if self.epochs else ""),
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


def fit_subset(images: bytes, labels: bytes, n: int = 192, *, spec: str = "flatten | fc 32 relu | fc 10",
               epochs: int = 2, batch: int = 32, lr: float = 3e-3, optimizer: str = "adam",
               validation_split: float = 0.25, device=None) -> dict:  # fmt: skip
    """``Trainer.fit`` on the first ``n`` 28 x 28 images of uint8 ``images`` (and their uint8 ``labels``), numpy-free:
    the web page runs it in its worker and the tests natively on the same bytes, to compare. Returns the history,
    each step's mean loss (read every step), ``predict`` agreement with the labels, ``score``, a
    ``predict_proba`` row sum and the error a bad label (10) gives."""
    x = memoryview(bytes(images[: n * 784])).cast("B", (n, 28, 28))
    y = list(bytes(labels[:n]))
    cfg = TrainConfig(model=spec, epochs=epochs, batch_size=batch, lr=lr, optimizer=optimizer, schedule="none")
    trainer = Trainer(cfg, device)
    losses = []
    for event in trainer.fit_steps(x, y, validation_split=validation_split):
        if event.record is None:
            losses.append(event.loss.item() / event.size)
    predicted = trainer.predict(x).to_array().tolist()
    proba = trainer.predict_proba(x)
    try:
        trainer.fit(x, [10, *y[1:]], progress=False, log=None)
        error = None
    except ValueError as e:
        error = str(e)
    return {
        "backend": trainer.device.name,
        "history": trainer.history,
        "losses": losses,
        "predict_accuracy": sum(p == v for p, v in zip(predicted, y, strict=True)) / n,
        "score": trainer.score(x, y),
        "proba_row_sum": sum(proba.tolist()[0]),
        "proba_argmax_agrees": ops.argmax(proba, axis=1).to_array().tolist() == predicted,
        "bad_label_error": error,
    }
