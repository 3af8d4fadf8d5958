"""Regularization side by side: the same LeNet-5 (same initial weights, same batches) trained without a penalty,
with L1 and with L2 on a small training subset, so the unregularised run overfits. Curves per epoch (train loss,
test accuracy) and the histograms of the conv/linear weights; lambda is set on a log scale and restarts the runs.
"""

from __future__ import annotations

import math

import numpy as np

from ..datasets import batches
from ..train import TrainConfig, Trainer
from ._data import training_data
from .app import Demo
from .render import DIM, PALETTE, TEXT

RUNS = (("none", PALETTE[9]), ("L1", PALETTE[1]), ("L2", PALETTE[0]))
LOG_LAMBDA = (-6.0, -1.0)  # log10 range of the control


class RegularizationDemo(Demo):
    name = "regularization"
    title = "regularization: none vs L1 vs L2"
    help = (("up/down or +/-", "lambda x10^(1/4)"), ("space", "pause"), ("r", "restart"), ("Esc", "quit"))

    def __init__(self, app, options):
        super().__init__(app, options)
        train, test, self.data_name = training_data()
        self.subset = int(options.get("subset") or 500)
        self.train_set = train.subset(self.subset, 0)
        self.test_set = test.subset(min(500, len(test)), 1)
        self.log_lambda = float(options.get("log_lambda") or -3.0)
        self.playing = True
        self.restarts = 0
        self.restart()

    @property
    def lam(self) -> float:
        return 10.0**self.log_lambda

    def restart(self) -> None:
        self.restarts += 1
        self.trainers = []
        for name, _ in RUNS:
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
        self.history = {name: {"epoch": [], "train_loss": [], "test_acc": []} for name, _ in RUNS}
        self._sums = [None] * len(RUNS)
        self.hists = [self._weights(t) for t in self.trainers]

    def _weights(self, trainer) -> np.ndarray:
        store = trainer.model.parameters()
        return store.data.numpy()[: store.n_decay]

    def update(self) -> None:
        if not self.playing:
            return
        xb, yb = self._batches[self.step_in_epoch]
        for i, t in enumerate(self.trainers):
            loss, _ = t.train_step(xb, yb)
            self._sums[i] = loss if self._sums[i] is None else self._sums[i] + loss
        self.step_in_epoch += 1
        if self.step_in_epoch == len(self._batches):  # end of an epoch: one readback per run
            self.epoch += 1
            for (name, _), t, s in zip(RUNS, self.trainers, self._sums, strict=True):
                h = self.history[name]
                h["epoch"].append(self.epoch)
                h["train_loss"].append(float(s.numpy()) / len(self.train_set))
                h["test_acc"].append(t.evaluate(self.test_set)["accuracy"])
            self.hists = [self._weights(t) for t in self.trainers]
            self._sums = [None] * len(RUNS)
            self.step_in_epoch = 0
            self._batches = list(batches(self.train_set, 64, seed=0, epoch=self.epoch))

    def on_key(self, key, modifiers):
        if key in ("ArrowUp", "ArrowDown", "+", "=", "-", "WheelUp", "WheelDown"):
            up = key in ("ArrowUp", "+", "=", "WheelUp")
            self.log_lambda = float(np.clip(self.log_lambda + (0.25 if up else -0.25), *LOG_LAMBDA))
            self.restart()
        elif key == " ":
            self.playing = not self.playing
        elif key == "r":
            self.restart()

    def state(self) -> dict:
        return {
            "lambda": self.lam,
            "epoch": self.epoch,
            "restarts": self.restarts,
            "test_acc": {k: (v["test_acc"][-1] if v["test_acc"] else None) for k, v in self.history.items()},
            "playing": self.playing,
        }

    def draw(self, r) -> None:
        r.text("regularization: none vs L1 vs L2", 40, 16, 22, TEXT)
        r.text(
            f"LeNet-5, Adam lr 1e-3, {self.subset} training images ({self.data_name}), "
            f"{len(self.test_set)} test images; same initial weights and batches",
            40,
            46,
            12,
            DIM,
        )
        # lambda control on a log scale
        x, y, w = 880, 14, 360
        lo, hi = LOG_LAMBDA
        r.text(f"λ = {self.lam:.2e}", x, y - 2, 16, TEXT)
        r.rect(x, y + 24, w, 6, "#3a3e4c")
        for e in range(int(lo), int(hi) + 1):
            tx = x + (e - lo) / (hi - lo) * w
            r.rect(tx, y + 20, 1, 14, "#6b6b78")
            r.text(f"1e{e}", tx, y + 36, 10, DIM, "center")
        kx = x + (self.log_lambda - lo) / (hi - lo) * w
        r.rect(kx - 5, y + 17, 10, 20, PALETTE[5])
        series_loss = [(n, self.history[n]["epoch"], self.history[n]["train_loss"], c) for n, c in RUNS]
        series_acc = [(n, self.history[n]["epoch"], self.history[n]["test_acc"], c) for n, c in RUNS]
        r.plot(
            40,
            80,
            590,
            320,
            series_loss,
            title=f"train loss per epoch (epoch {self.epoch}{'' if self.playing else ', paused'})",
            log_y=True,
        )
        r.plot(650, 80, 590, 320, series_acc, title="test accuracy per epoch")
        # weight histograms on a shared range
        allw = np.concatenate(self.hists)
        span = float(np.percentile(np.abs(allw), 99.5)) or 1.0
        edges = np.linspace(-span, span, 61)
        for i, ((name, color), wts) in enumerate(zip(RUNS, self.hists, strict=True)):
            px, py, pw, ph = 40 + i * 405, 420, 390, 320
            counts, _ = np.histogram(np.clip(wts, -span, span), edges)
            frac = counts / max(1, len(wts))
            near_zero = float(np.mean(np.abs(wts) < 1e-3))
            r.panel(px, py, pw, ph, f"{name}: conv/fc weights ({len(wts):,})")
            top = max(float(frac.max()), 1e-9)
            bw = (pw - 30) / len(frac)
            for j, f in enumerate(frac):
                hgt = (ph - 90) * math.sqrt(f / top)  # square-root scale shows the tails
                r.rect(px + 15 + j * bw, py + ph - 50 - hgt, max(bw - 1, 1), hgt, color)
            r.text(f"{-span:.2f}", px + 15, py + ph - 44, 10, DIM)
            r.text("0", px + pw / 2, py + ph - 44, 10, DIM, "center")
            r.text(f"{span:.2f}", px + pw - 15, py + ph - 44, 10, DIM, "right")
            r.text(
                f"|w| mean {np.abs(wts).mean():.4f} · |w|<1e-3: {near_zero * 100:.1f}%", px + 15, py + ph - 26, 12, TEXT
            )
        self.draw_help(r, 40, 772, 1200)
