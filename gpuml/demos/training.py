"""LeNet-5 trains live: a few optimisation steps per frame on the device, the running loss and accuracy as
curves, test accuracy every ``eval_every`` steps, and the six first-layer 5x5 filters as they evolve."""

from __future__ import annotations

import time

import numpy as np

from ..datasets import batches
from ..train import TrainConfig, Trainer
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


class TrainDemo(Demo):
    name = "train"
    title = "LeNet-5 training live"
    help = (("space", "pause/resume"), ("s", "one step"), ("r", "restart"), ("+/-", "steps per frame"), ("Esc", "quit"))

    def __init__(self, app, options):
        super().__init__(app, options)
        self.train_set, test, self.data_name = training_data()
        self.test_set = test.subset(min(1000, len(test)), 0)
        self.batch_size = 64
        self.steps_per_frame = int(options.get("steps_per_frame") or 2)
        self.eval_every = int(options.get("eval_every") or 100)
        self.lr = float(options.get("lr") or 1e-3)
        self.playing = True
        self.restart()

    def restart(self) -> None:
        cfg = TrainConfig(model="lenet5", optimizer="adam", lr=self.lr, schedule="none", batch_size=self.batch_size)
        self.trainer = Trainer(cfg, self.device)
        self.step = 0
        self.epoch = 0
        self._batches = batches(self.train_set, self.batch_size, seed=0, epoch=0)
        self.loss_steps: list[int] = []
        self.losses: list[float] = []
        self.accs: list[float] = []
        self.test_steps: list[int] = [0]
        self.test_accs: list[float] = [self.trainer.evaluate(self.test_set)["accuracy"]]
        self.filters = self._read_filters()
        self.images_per_s = 0.0

    def _read_filters(self) -> np.ndarray:
        return self.trainer.model.parameters()["0.weight"].data.numpy()[:, 0]

    def _next_batch(self):
        try:
            return next(self._batches)
        except StopIteration:
            self.epoch += 1
            self._batches = batches(self.train_set, self.batch_size, seed=0, epoch=self.epoch)
            return next(self._batches)

    def train_steps(self, n: int) -> None:
        t0 = time.perf_counter()
        loss = correct = None
        seen = 0
        for _ in range(n):
            xb, yb = self._next_batch()
            s, c = self.trainer.train_step(xb, yb)
            loss = s if loss is None else loss + s
            correct = c if correct is None else correct + c
            seen += len(yb)
            self.step += 1
        # one readback for the frame's steps
        self.loss_steps.append(self.step)
        self.losses.append(float(loss.numpy()) / seen)
        self.accs.append(float(correct.numpy()) / seen)
        self.images_per_s = seen / (time.perf_counter() - t0)
        if self.step % self.eval_every < n:
            self.test_steps.append(self.step)
            self.test_accs.append(self.trainer.evaluate(self.test_set)["accuracy"])
        self.filters = self._read_filters()

    def update(self) -> None:
        if self.playing:
            self.train_steps(self.steps_per_frame)

    def on_key(self, key, modifiers):
        if key == " ":
            self.playing = not self.playing
        elif key == "s":
            self.playing = False
            self.train_steps(1)
        elif key == "r":
            self.restart()
        elif key in ("+", "=", "WheelUp"):
            self.steps_per_frame = min(16, self.steps_per_frame * 2)
        elif key in ("-", "WheelDown"):
            self.steps_per_frame = max(1, self.steps_per_frame // 2)

    def state(self) -> dict:
        return {
            "step": self.step,
            "epoch": self.epoch,
            "loss": self.losses[-1] if self.losses else None,
            "test_accuracy": self.test_accs[-1],
            "playing": self.playing,
            "steps_per_frame": self.steps_per_frame,
            "data": self.data_name,
        }

    def draw(self, r) -> None:
        r.text("LeNet-5 training live", 40, 16, 22, TEXT)
        r.text(
            f"{self.data_name}: {len(self.train_set):,} training images, batch {self.batch_size}, Adam lr {self.lr:g}",
            40,
            46,
            12,
            DIM,
        )

        def smooth(v, k=10):
            v = np.asarray(v, np.float64)
            if len(v) < k:
                return v
            c = np.cumsum(np.insert(v, 0, 0))
            head = c[1:k] / np.arange(1, k)
            return np.concatenate([head, (c[k:] - c[:-k]) / k])

        r.plot(
            40,
            70,
            600,
            330,
            [("train loss", self.loss_steps, smooth(self.losses), PALETTE[2])],
            title="loss",
            log_y=True,
        )
        r.plot(
            660,
            70,
            580,
            330,
            [
                ("train (batches)", self.loss_steps, smooth(self.accs), PALETTE[0]),
                ("test", self.test_steps, self.test_accs, PALETTE[4]),
            ],
            title="accuracy",
            ylim=(0.0, 1.0),
        )
        r.panel(40, 420, 1200, 300, "first convolution: 6 filters, 5x5 (red positive, blue negative)")
        for i, f in enumerate(self.filters):
            r.image(f"filter{i}", filter_image(f), 60 + i * 195, 460, 170, 170)
            r.text(f"|w| max {np.abs(f).max():.2f}", 60 + i * 195, 636, 11, DIM)
        status = "training" if self.playing else "paused"
        loss = self.losses[-1] if self.losses else float("nan")
        r.text(
            f"{status} · step {self.step} · epoch {self.epoch + 1} · loss {loss:.4f}"
            f" · test accuracy {self.test_accs[-1] * 100:.1f}% · {self.images_per_s:,.0f} images/s",
            60,
            672,
            14,
            TEXT,
        )
        self.draw_help(r, 40, 772, 1200)
