"""Regularization side by side: the same LeNet-5 (same initial weights, same batches) trained without a penalty,
with L1 and with L2 on a small training subset, so the unregularised run overfits. Curves per epoch (train loss,
test accuracy) and histograms of the conv/linear weights; lambda on a log scale restarts the runs.
Uses ``gpuml.train.Trainer`` (numpy).
"""

from __future__ import annotations

import math

from .controls import DemoModel, button, slider, toggle

RUNS = ("none", "L1", "L2")
BINS = 60


class RegularizationModel(DemoModel):
    """``train`` and ``test``: ``gpuml.datasets.Dataset`` objects (the training subset and the test images)."""

    name = "regularization"
    title = "regularization: none vs L1 vs L2"
    controls = (
        slider("log_lambda", -3.0, -6.0, -1.0, step=0.25, label="log10 lambda"),
        toggle("playing", True),
        button("restart"),
    )

    def __init__(self, train, test, *, log_lambda: float = -3.0, data_name: str = "", device=None):
        super().__init__()
        self.train_set, self.test_set, self.data_name, self.device = train, test, data_name, device
        self.values["log_lambda"] = self.control("log_lambda").validate(log_lambda)
        self.restarts = 0
        self.restart()

    @property
    def lam(self) -> float:
        return 10.0 ** self.values["log_lambda"]

    def restart(self) -> None:
        from ..datasets import batches
        from ..train import TrainConfig, Trainer

        self.restarts += 1
        self.trainers = []
        for name in RUNS:
            cfg = TrainConfig(
                model="lenet5",
                optimizer="adam",
                lr=1e-3,
                schedule="none",
                l1=self.lam if name == "L1" else 0.0,
                l2=self.lam if name == "L2" else 0.0,
                seed=0,
            )
            self.trainers.append(Trainer(cfg, self.device))
        self.epoch = 0
        self.step_in_epoch = 0
        self._batches = list(batches(self.train_set, 64, seed=0, epoch=0))
        self.history = {name: {"epoch": [], "train_loss": [], "test_acc": []} for name in RUNS}
        self._sums = [None] * len(RUNS)
        self.hists = [self._weights(t) for t in self.trainers]

    def _weights(self, trainer):
        store = trainer.model.parameters()
        return store.data.numpy()[: store.n_decay]

    def step(self) -> None:
        """One batch for every run; at the end of an epoch the curves and histograms are updated."""
        from ..datasets import batches

        if not self.values["playing"]:
            return
        xb, yb = self._batches[self.step_in_epoch]
        for i, t in enumerate(self.trainers):
            loss, _ = t.train_step(xb, yb)
            self._sums[i] = loss if self._sums[i] is None else self._sums[i] + loss
        self.step_in_epoch += 1
        if self.step_in_epoch == len(self._batches):  # end of an epoch: one readback per run
            self.epoch += 1
            for name, t, s in zip(RUNS, self.trainers, self._sums, strict=True):
                h = self.history[name]
                h["epoch"].append(self.epoch)
                h["train_loss"].append(float(s.numpy()) / len(self.train_set))
                h["test_acc"].append(t.evaluate(self.test_set)["accuracy"])
            self.hists = [self._weights(t) for t in self.trainers]
            self._sums = [None] * len(RUNS)
            self.step_in_epoch = 0
            self._batches = list(batches(self.train_set, 64, seed=0, epoch=self.epoch))

    def _changed(self, name, value) -> None:
        if name == "log_lambda":
            self.restart()

    def _pressed(self, name) -> None:
        if name == "restart":
            self.restart()

    def histograms(self):
        """Per run: (name, counts as fractions of the weights in BINS bins over [-span, span], |w| mean, fraction
        with |w| < 1e-3, number of weights), and span (the 99.5th percentile of |w| over all runs)."""
        import numpy as np

        allw = np.concatenate(self.hists)
        span = float(np.percentile(np.abs(allw), 99.5)) or 1.0
        edges = np.linspace(-span, span, BINS + 1)
        out = []
        for name, wts in zip(RUNS, self.hists, strict=True):
            counts, _ = np.histogram(np.clip(wts, -span, span), edges)
            frac = (counts / max(1, len(wts))).tolist()
            out.append((name, frac, float(np.abs(wts).mean()), float(np.mean(np.abs(wts) < 1e-3)), len(wts)))
        return out, span

    def view(self) -> dict:
        """What to draw: lambda, the per-epoch curves per run, the weight histograms (square-root heights)."""
        hists, span = self.histograms()
        return {
            "title": "regularization: none vs L1 vs L2",
            "subtitle": f"LeNet-5, Adam lr 1e-3, {len(self.train_set)} training images ({self.data_name}), "
            f"{len(self.test_set)} test images; same initial weights and batches",
            "lambda": self.lam,
            "log_lambda": self.values["log_lambda"],
            "range": (self.control("log_lambda").lo, self.control("log_lambda").hi),
            "epoch": self.epoch,
            "playing": self.values["playing"],
            "history": self.history,
            "histograms": [(n, [math.sqrt(f / max(max(c), 1e-9)) for f in c], m, z, k) for n, c, m, z, k in hists],
            "span": span,
        }

    def state(self) -> dict:
        return {
            "lambda": self.lam,
            "epoch": self.epoch,
            "restarts": self.restarts,
            "test_acc": {k: (v["test_acc"][-1] if v["test_acc"] else None) for k, v in self.history.items()},
            "playing": self.values["playing"],
        }
