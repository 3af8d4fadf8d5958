"""Regularization side by side, in a window: a thin front end over
:class:`gpuml.playground.regularization.RegularizationModel`. The same small network (same initial weights, same
batches) trains without a penalty, with L1, with L2 and with decoupled weight decay on 512 MNIST images with a
quarter of their labels wrong, so the unregularised run overfits. One column per run: train and test accuracy per
epoch, and its weight histogram on axes shared by all four; each penalty's strength has its own log-scale slider
(keys), applied from the next step. Training runs on a worker thread (frames only draw the latest view).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from ..playground.regularization import RUNS, RegularizationModel
from .app import Demo
from .render import DIM, PALETTE, TEXT

COLORS = {"none": PALETTE[9], "L1": PALETTE[1], "L2": PALETTE[0], "weight decay": PALETTE[4]}
TRAIN, TEST = "#9aa0b4", "#ffb347"
SLIDERS = (("log_l1", "L1 λ", "1"), ("log_l2", "L2 λ", "2"), ("log_wd", "weight decay", "3"))
COL_W, COL_X = 300, 40


def page_subsets():
    """The page's MNIST subsets (gpuml.webbuild: 2,048 training images by seed 0, 512 test images by seed 1) as
    (uint8 images, labels) pairs, so the window and the page train on the same data; scikit-learn's digits
    upscaled to 28 x 28 when MNIST is not cached."""
    from ._data import training_data

    train, test, name = training_data()
    out = []
    for data, seed, n in ((train, 0, 2048), (test, 1, 512)):
        idx = np.random.default_rng(seed).permutation(len(data.labels))[:n]
        images = np.rint(data.images[idx, 0] * 255).astype(np.uint8)
        out.append((images.tobytes(), data.labels[idx].astype(int).tolist()))
    return out[0], out[1], name


class _Trainer:
    """Trains on a worker thread, a batch at a time under ``lock`` (input that changes the model takes it too);
    ``view`` is the model's view after the latest epoch, so a frame never computes histograms."""

    def __init__(self, model, app):
        self.model, self.app = model, app
        self.lock = threading.Lock()
        self.error: str | None = None
        self.view = model.view()
        self.thread = threading.Thread(target=self._run, name="gpuml-regularization", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        m = self.model
        try:
            while not self.app.closed:
                if m.get("playing") and not m.done:
                    with self.lock:
                        epoch = m.epoch
                        m.train_batch()
                        if m.epoch != epoch:
                            self.view = m.view()
                else:
                    time.sleep(0.02)
        except Exception as exc:  # shown in the window, not a traceback
            self.error = f"training failed: {exc}"

    def refresh(self) -> None:
        self.view = self.model.view()

    def wait_epochs(self, epochs: int, timeout: float = 300.0) -> None:
        """Until ``epochs`` epochs are trained (tests and offscreen screenshots)."""
        deadline = time.time() + timeout
        while self.model.epoch < epochs and self.thread.is_alive() and time.time() < deadline:
            time.sleep(0.01)


class RegularizationDemo(Demo):
    name = "regularization"
    title = "regularization: none vs L1 vs L2 vs weight decay"
    help = (
        ("1/2/3", "select L1 / L2 / weight decay"),
        ("up/down or +/-", "its λ x10^(±1/4), live"),
        ("space", "pause"),
        ("r", "restart"),
        ("Esc", "quit"),
    )

    def __init__(self, app, options):
        super().__init__(app, options)
        train, test, data_name = page_subsets()
        values = {k: float(options[k]) for k in ("log_l1", "log_l2", "log_wd") if options.get(k) is not None}
        self.model = RegularizationModel(
            train, test, n_train=int(options.get("subset") or 512), data_name=data_name, device=self.device, **values
        )
        self.selected = "log_l2"
        self.trainer = _Trainer(self.model, app)

    def on_key(self, key, modifiers):
        m = self.model
        keys = {k: name for name, _, k in SLIDERS}
        if key in keys:
            self.selected = keys[key]
            return
        with self.trainer.lock:
            if key in ("ArrowUp", "ArrowDown", "+", "=", "-", "WheelUp", "WheelDown"):
                m.nudge(self.selected, key in ("ArrowUp", "+", "=", "WheelUp"))
            elif key == " ":
                m.set("playing", not m.get("playing"))
            elif key == "r":
                m.press("restart")
            self.trainer.refresh()

    def _slider(self, r, x, y, w, name, label, key) -> None:
        c = self.model.control(name)
        value = self.model.get(name)
        selected = name == self.selected
        r.text(f"{key}  {label} = {10**value:.2g}", x, y, 14, TEXT if selected else DIM)
        r.rect(x, y + 24, w, 4, "#3a3e4c")
        for e in range(int(np.ceil(c.lo)), int(np.floor(c.hi)) + 1):
            tx = x + (e - c.lo) / (c.hi - c.lo) * w
            r.rect(tx, y + 20, 1, 12, "#6b6b78")
            r.text(f"1e{e}", tx, y + 34, 9, DIM, "center")
        kx = x + (value - c.lo) / (c.hi - c.lo) * w
        r.rect(kx - 4, y + 17, 8, 18, PALETTE[5] if selected else "#8a8fa3")

    def draw(self, r) -> None:
        v = self.trainer.view
        r.text(v["title"], 40, 12, 20, TEXT)
        r.text(v["subtitle"], 40, 40, 11, DIM)
        for j, (name, label, key) in enumerate(SLIDERS):
            self._slider(r, 40 + j * 300, 60, 260, name, label, key)
        m = self.model
        state = "done" if m.done else ("training" if m.get("playing") else "paused")
        if self.trainer.error:
            state = self.trainer.error
        r.text(f"epoch {m.epoch} of {v['epochs']} ({state})", 1240, 64, 14, TEXT, "right")
        hist = v["histograms"]
        edges = hist["edges"]
        for i, name in enumerate(RUNS):
            x = COL_X + i * (COL_W + 10)
            s = v["summary"][name]
            h = v["history"][name]
            lam = "" if name == "none" else f", λ {s['lambda']:.2g}"
            series = [("train", h["epoch"], h["train_acc"], TRAIN), ("test", h["epoch"], h["test_acc"], TEST)]
            r.plot(x, 118, COL_W, 270, series, title=f"{name}{lam}", ylim=(0.0, 1.0), xlim=(0, v["epochs"]),
                   legend=False)  # fmt: skip
            r.rect(x + 8, 398, 10, 10, TRAIN)
            r.text("train accuracy", x + 22, 395, 11, DIM)
            r.rect(x + 130, 398, 10, 10, TEST)
            r.text("test accuracy", x + 144, 395, 11, DIM)
            r.text(f"train {s['train_acc']:.1%}  test {s['test_acc']:.1%}", x + 8, 414, 13, TEXT)
            r.text(f"gap {s['gap'] * 100:.1f} points", x + 8, 432, 13, COLORS[name])
            self._histogram(r, x, 458, COL_W, 290, name, hist["runs"][i], edges, hist["near_zero_below"])
        self.draw_help(r, 40, 770, 1200)

    def _histogram(self, r, x, y, w, h, name, run, edges, below) -> None:
        """Log-scale shares (0.01% .. 100%) so the spike at zero and the tails are both on the plot."""
        r.panel(x, y, w, h, f"weights ({run['weights']:,})")
        px, py, pw, ph = x + 44, y + 28, w - 56, h - 86
        r.frame(px, py, pw, ph, "#343846")
        lo, hi = -4.0, 0.0
        for e in range(int(lo), int(hi) + 1):
            ty = py + ph - (e - lo) / (hi - lo) * ph
            r.rect(px - 4, ty, 4, 1, "#6b6b78")
            r.text(f"{10.0 ** (e + 2):g}%", px - 6, ty - 7, 10, DIM, "right")
        bw = pw / len(run["shares"])
        for j, f in enumerate(run["shares"]):
            if f > 0:
                t = (max(np.log10(f), lo) - lo) / (hi - lo)
                r.rect(px + j * bw, py + ph - t * ph, max(bw - 1, 1), t * ph, COLORS[name])
        span = edges[-1]
        for t in (-span, -span / 2, 0.0, span / 2, span):
            tx = px + (t + span) / (2 * span) * pw
            r.rect(tx, py + ph, 1, 4, "#6b6b78")
            r.text(f"{t:.2g}", tx, py + ph + 5, 10, DIM, "center")
        r.text("x: weight value  y: share, log scale", px, py + ph + 20, 10, DIM)
        r.text(f"|w| < {below:g}: {run['near_zero']:.1%} · mean |w| {run['mean_abs']:.3f}", x + 10, y + h - 18, 12,
               TEXT)  # fmt: skip
