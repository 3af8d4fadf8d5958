"""Regularization side by side: the same small network (same initial weights, same batches) trained four times at
once — without a penalty, with L1, with L2 (both added to the gradient before Adam) and with AdamW's decoupled
weight decay — on a small training set that it can memorise, so the unregularised run overfits: its training
accuracy runs far ahead of its test accuracy. A quarter of the training labels are replaced by wrong ones
(deterministically): memorising them is exactly what hurts on the test set, and what the penalties resist.

Each penalty has its own strength on a log scale; a new strength applies from the next step (no restart). Curves
per epoch (train and test accuracy, the gap), weight histograms on shared axes (every weight inside the x range,
log-scale shares so the spike at zero is never clipped) and the share of near-zero weights. Numpy-free: the page
runs it in Pyodide core; data arrive as raw uint8 images and labels (the page's data files).
"""

from __future__ import annotations

import array
import random

from .. import ops
from ..nn import from_spec
from ..nn.functional import softmax_cross_entropy
from ..optim import Adam, AdamW
from ..tensor import tensor
from .controls import DemoModel, button, slider, toggle

RUNS = ("none", "L1", "L2", "weight decay")
PENALTY = {"L1": "log_l1", "L2": "log_l2", "weight decay": "log_wd"}  # run -> its strength control
SPEC = "fc 64 relu | fc 10"  # 784 -> 64 -> 10: ~51k weights, memorises 512 images in a few epochs
N_TRAIN, BATCH, LR, EPOCHS, NOISE = 512, 64, 2e-3, 40, 0.25
NEAR_ZERO = 1e-3  # |w| below this counts as pruned
BINS = 41  # odd: one bin centred on zero
SAMPLE = 16384  # weights per run in the histograms (a strided sample of the ~51k)


def _floats(u8) -> array.array:
    """uint8 values (bytes or a sequence of ints) as floats (scaled by 1/255 on the device)."""
    return array.array("f", array.array("B", bytes(u8)))


def noisy_labels(labels, fraction: float, seed: int = 0) -> list[int]:
    """``labels`` with ``fraction`` of them (chosen by ``seed``) replaced by a different class."""
    out = [int(v) for v in labels]
    rng = random.Random(seed)
    for i in rng.sample(range(len(out)), round(fraction * len(out))):
        out[i] = (out[i] + rng.randrange(1, 10)) % 10
    return out


class RegularizationModel(DemoModel):
    """``train`` and ``test``: (images, labels), images as N*784 uint8 values (bytes, row-major 28 x 28), labels
    as N ints; the first ``n_train`` training images are used, with ``noise`` of their labels made wrong."""

    name = "regularization"
    title = "regularization: none vs L1 vs L2 vs weight decay"
    controls = (
        slider("log_l1", -3.0, -6.0, -1.0, step=0.25, label="log10 L1 strength"),
        slider("log_l2", -1.5, -5.0, 0.0, step=0.25, label="log10 L2 strength"),
        slider("log_wd", 0.5, -3.0, 1.0, step=0.25, label="log10 decoupled weight decay"),
        slider("epochs", EPOCHS, 1, 200, integer=True, label="epochs"),
        toggle("playing", True),
        button("restart"),
    )

    def __init__(self, train, test, *, n_train: int = N_TRAIN, noise: float = NOISE, seed: int = 0,
                 data_name: str = "", device=None, **values):  # fmt: skip
        super().__init__()
        for k, v in values.items():
            self.values[k] = self.control(k).validate(v)
        images, labels = train
        n_train = min(int(n_train), len(labels))
        if n_train < BATCH:
            raise ValueError(f"regularization needs at least {BATCH} training images, got {n_train}")
        self.n_train, self.noise, self.seed, self.data_name = n_train, float(noise), int(seed), data_name
        self._x = _floats(images[: n_train * 784])
        self._y = noisy_labels(list(labels)[:n_train], self.noise, self.seed)
        self.n_batches = n_train // BATCH
        self.device = device
        self.x_train = self._upload(self._x, n_train)
        self.y_train = self._labels(self._y)
        test_images, test_labels = test
        self.n_test = len(test_labels)
        self.x_test = self._upload(_floats(test_images[: self.n_test * 784]), self.n_test)
        self.y_test = self._labels(list(test_labels))
        self.restarts = 0
        self.restart()

    def _upload(self, values, n):
        t = ops.mul(self._tensor(values), 1.0 / 255)
        return t.reshape(n, 1, 28, 28)

    def _tensor(self, values):
        t = tensor(values, device=self.device)
        self.device = t.device
        return t

    def _labels(self, values):
        return self._tensor(array.array("i", values))

    def lam(self, run: str) -> float:
        return 0.0 if run == "none" else 10.0 ** self.values[PENALTY[run]]

    def restart(self) -> None:
        self.restarts += 1
        self.runs = []
        for name in RUNS:
            net = from_spec(SPEC, (1, 28, 28), self.device, self.seed)  # same seed: same initial weights
            store = net.parameters()
            if name == "weight decay":
                opt = AdamW(store, LR, weight_decay=self.lam(name))
            else:
                lam = self.lam(name)
                opt = Adam(store, LR, l1=lam if name == "L1" else 0.0, l2=lam if name == "L2" else 0.0)
            self.runs.append({"name": name, "net": net, "opt": opt})
        self.epoch = 0
        self.batch_index = 0
        self._order = self._shuffle(0)
        self.history = {n: {k: [] for k in ("epoch", "train_acc", "test_acc", "train_loss", "test_loss")} for n in RUNS}
        self.changes: list[tuple[int, str, float]] = []  # (epoch, run, new strength) for the curves
        self._record()

    def _shuffle(self, epoch: int):
        """The training set in this epoch's order (the same for every run), uploaded once per epoch."""
        order = list(range(self.n_train))
        random.Random(self.seed * 1000 + epoch).shuffle(order)
        x = array.array("f")
        for i in order:
            x.extend(self._x[i * 784 : (i + 1) * 784])
        xs = self._upload(x, self.n_train)
        ys = self._labels([self._y[i] for i in order])
        return xs, ys

    @property
    def done(self) -> bool:
        return self.epoch >= self.values["epochs"]

    def step(self) -> None:
        """One batch for every run; at the end of an epoch the curves and histograms are updated."""
        if not self.values["playing"] or self.done:
            return
        self.train_batch()

    def train_batch(self) -> None:
        xs, ys = self._order
        i = self.batch_index
        xb = xs.view(i * BATCH * 784, (BATCH, 1, 28, 28))
        yb = ys.view(i * BATCH, (BATCH,))
        for run in self.runs:
            _, _, grad = softmax_cross_entropy(run["net"].forward(xb), yb)
            run["net"].backward(grad)
            run["opt"].step()
        self.batch_index += 1
        if self.batch_index == self.n_batches:
            self.epoch += 1
            self.batch_index = 0
            self._record()
            if not self.done:
                self._order = self._shuffle(self.epoch)

    def train_epoch(self) -> None:
        """The rest of the current epoch (whatever ``playing`` says)."""
        start = self.epoch
        while self.epoch == start and not self.done:
            self.train_batch()

    def _record(self) -> None:
        """Train and test accuracy and loss of every run (eval mode, one readback for all), and the weights."""
        sums = []
        for run in self.runs:
            net = run["net"]
            net.eval()
            for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
                loss, correct, _ = softmax_cross_entropy(net.forward(x), y)
                sums += [ops.sum(loss), ops.sum(correct)]
            net.train()
        packed = ops.zeros((len(sums),), "float32", self.device)
        for k, s in enumerate(sums):
            ops.copy_into(s.reshape(1), packed.view(k, (1,)))
        vals = packed.to_array()
        for j, run in enumerate(self.runs):
            h = self.history[run["name"]]
            tl, tc, sl, sc = vals[4 * j : 4 * j + 4]
            h["epoch"].append(self.epoch)
            h["train_loss"].append(tl / self.n_train)
            h["train_acc"].append(tc / self.n_train)
            h["test_loss"].append(sl / self.n_test)
            h["test_acc"].append(sc / self.n_test)
        self.weights = [self._weights(run) for run in self.runs]

    def _weights(self, run):
        store = run["net"].parameters()
        flat = store.data.view(0, (store.n_decay,)).to_array()  # weights first; alignment gaps are zeros
        ws = array.array("f")
        for p in store:
            if p.decay:
                ws.extend(flat[p.offset : p.offset + p.size])
        return ws

    def _changed(self, name, value) -> None:
        for run in self.runs:  # a strength applies from the next step: training goes on
            if PENALTY.get(run["name"]) == name:
                lam = self.lam(run["name"])
                key = {"L1": "l1", "L2": "l2", "weight decay": "weight_decay"}[run["name"]]
                for group in run["opt"].param_groups:
                    group[key] = lam
                self.changes.append((self.epoch, run["name"], lam))

    def _pressed(self, name) -> None:
        if name == "restart":
            self.restart()

    def histograms(self) -> dict:
        """Shared axes for the four runs: ``edges`` (BINS + 1, symmetric, wide enough for every weight), per run
        the share of weights in each bin, the near-zero share and the mean |w| (over a strided sample of at most
        SAMPLE weights per run)."""
        samples = [w[:: max(1, len(w) // SAMPLE)] for w in self.weights]
        span = max(max(max(w), -min(w)) for w in self.weights) or 1.0  # over every weight, not the sample
        span *= 1.0001  # the largest weight falls inside the last bin
        width = 2 * span / BINS
        runs = []
        for name, s, ws in zip(RUNS, samples, self.weights, strict=True):
            counts = [0] * BINS
            near = 0
            total = 0.0
            for w in s:
                counts[min(int((w + span) / width), BINS - 1)] += 1
                a = abs(w)
                total += a
                near += a < NEAR_ZERO
            n = len(s)
            shares = [c / n for c in counts]
            runs.append(
                {"name": name, "shares": shares, "near_zero": near / n, "mean_abs": total / n, "sampled": n,
                 "weights": len(ws)}
            )  # fmt: skip
        return {"edges": [-span + k * width for k in range(BINS)] + [span], "runs": runs, "near_zero_below": NEAR_ZERO}

    def summary(self) -> dict:
        """Per run: the latest train and test accuracy, their gap, test loss and the strength."""
        out = {}
        for name in RUNS:
            h = self.history[name]
            out[name] = {
                "lambda": self.lam(name),
                "train_acc": h["train_acc"][-1],
                "test_acc": h["test_acc"][-1],
                "gap": h["train_acc"][-1] - h["test_acc"][-1],
                "test_loss": h["test_loss"][-1],
            }
        return out

    def view(self) -> dict:
        """What to draw: per run its curves and summary, the histograms and a subtitle."""
        return {
            "title": self.title,
            "subtitle": f"MLP 784-64-10, Adam lr {LR:g}, batch {BATCH}; {self.n_train} training images "
            f"({self.data_name}{', ' if self.data_name else ''}{self.noise:.0%} of their labels wrong), "
            f"{self.n_test} test images; same initial weights and batches",
            "epoch": self.epoch,
            "epochs": self.values["epochs"],
            "done": self.done,
            "playing": self.values["playing"],
            "runs": list(RUNS),
            "history": self.history,
            "summary": self.summary(),
            "changes": self.changes,
            "histograms": self.histograms(),
            "controls": {k: self.values[k] for k in ("log_l1", "log_l2", "log_wd")},
        }

    def state(self) -> dict:
        return {
            "epoch": self.epoch,
            "restarts": self.restarts,
            "lambda": {n: self.lam(n) for n in RUNS},
            "summary": self.summary(),
            "playing": self.values["playing"],
            "done": self.done,
        }
