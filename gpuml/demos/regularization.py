"""Regularization side by side, in a window: a thin front end over
:class:`gpuml.playground.regularization.RegularizationModel`. The same small network (same initial weights, same
batches) trains without a penalty, with L1, with L2 and with decoupled weight decay on 512 MNIST images with a
quarter of their labels wrong, so the unregularised run overfits. One column per run: train and test accuracy per
epoch, and its weight histogram on axes shared by all four; each penalty's strength has its own log-scale slider
(keys), applied from the next step.

Frames stay short (no frame over 50 ms after the first on lavapipe): training runs on the render thread, as many
batches per frame as fit in its work budget (:meth:`~gpuml.demos.app.App.work_budget`), and an epoch's evaluation
and weight readback get a frame of their own; histograms are counted with numpy. (A worker thread did not help:
the device queue is shared with rendering, and its pure-Python histograms held the GIL for tens of milliseconds.)
The four runs train where ``auto`` runs training (:mod:`gpuml.demos.train_device`: numpy on a software adapter
that measured slower, WebGPU on a GPU or with ``GPUML_BACKEND=native``); the top line says which.
"""

from __future__ import annotations

import time

import numpy as np

from .. import ops
from ..nn.functional import softmax_cross_entropy
from ..playground.regularization import BINS, NEAR_ZERO, RUNS, SAMPLE, RegularizationModel
from .app import Demo, WorkBudget
from .chart import nice_ticks, plot
from .render import DIM, PALETTE, TEXT, short_number
from .train_device import training_device

COLORS = {"none": PALETTE[9], "L1": PALETTE[1], "L2": PALETTE[0], "weight decay": PALETTE[4]}
TRAIN, TEST = "#9aa0b4", "#ffb347"
SLIDERS = (("log_l1", "L1 λ", "1"), ("log_l2", "L2 λ", "2"), ("log_wd", "weight decay", "3"))
COL_W, COL_X = 300, 40
# images per forward in an epoch's record: 512 at once is a 25.7M multiply-add GEMM, which the numpy backend gives
# OpenBLAS's threads; they stall on a loaded machine (3 ms -> 30-300 ms at load 4.5); 256 stay on one BLAS thread
RECORD_CHUNK = 256


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


def histograms(weights) -> dict:
    """:meth:`RegularizationModel.histograms` with numpy (the model's pure-Python loop takes tens of ms)."""
    ws = [np.frombuffer(w, np.float32).astype(np.float64) for w in weights]
    span = max(max(float(w.max()), -float(w.min())) for w in ws) or 1.0
    span *= 1.0001
    width = 2 * span / BINS
    runs = []
    for name, w in zip(RUNS, ws, strict=True):
        s = w[:: max(1, len(w) // SAMPLE)]
        counts = np.bincount(np.minimum(((s + span) / width).astype(np.int64), BINS - 1), minlength=BINS)
        a = np.abs(s)
        runs.append(
            {"name": name, "shares": (counts / len(s)).tolist(), "near_zero": float((a < NEAR_ZERO).mean()),
             "mean_abs": float(a.mean()), "sampled": len(s), "weights": len(w)}
        )  # fmt: skip
    return {"edges": [-span + k * width for k in range(BINS)] + [span], "runs": runs, "near_zero_below": NEAR_ZERO}


class WindowModel(RegularizationModel):
    """The model with its end-of-epoch evaluation deferred (``record_due``) and done one run per :meth:`record`
    call (a frame each: all four at once took 22-34 ms of a frame on lavapipe), and numpy histograms."""

    record_due = False

    def restart(self) -> None:
        self._parts = []  # (train loss, train correct, test loss, test correct), weights: one per run recorded
        super().restart()

    def _record(self) -> None:
        self.record_due = True

    def record(self) -> None:
        """The next run's part of the epoch's record (train and test forwards in eval mode, one readback, its
        weights); with the last run's, every run's values go into the history at once."""
        run = self.runs[len(self._parts)]
        net = run["net"]
        net.eval()
        packed = ops.zeros((4,), "float32", self.device)
        for k, (x, y) in enumerate(((self.x_train, self.y_train), (self.x_test, self.y_test))):
            n, sums = y.shape[0], None
            for at in range(0, n, RECORD_CHUNK):
                m = min(RECORD_CHUNK, n - at)
                loss, correct, _ = softmax_cross_entropy(
                    net.forward(x.view(at * 784, (m, 1, 28, 28))), y.view(at, (m,))
                )
                part = (ops.sum(loss), ops.sum(correct))
                sums = part if sums is None else (ops.add(sums[0], part[0]), ops.add(sums[1], part[1]))
            ops.copy_into(sums[0].reshape(1), packed.view(2 * k, (1,)))
            ops.copy_into(sums[1].reshape(1), packed.view(2 * k + 1, (1,)))
        net.train()
        self._parts.append((packed.to_array(), self._weights(run)))
        if len(self._parts) < len(self.runs):
            return
        for run, ((tl, tc, sl, sc), _) in zip(self.runs, self._parts, strict=True):
            h = self.history[run["name"]]
            h["epoch"].append(self.epoch)
            h["train_loss"].append(tl / self.n_train)
            h["train_acc"].append(tc / self.n_train)
            h["test_loss"].append(sl / self.n_test)
            h["test_acc"].append(sc / self.n_test)
        self.weights = [w for _, w in self._parts]
        self._parts = []
        self.record_due = False

    def histograms(self) -> dict:
        return histograms(self.weights)


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
        device, self.backend_text = training_device(self.device)
        self.model = WindowModel(
            train, test, n_train=int(options.get("subset") or 512), data_name=data_name, device=device, **values
        )
        self.selected = "log_l2"
        while self.model.record_due:  # epoch 0, before the first frame
            self.model.record()
        self.budget, self.record_budget = WorkBudget(), WorkBudget()
        self.error: str | None = None
        self._view = None

    def update(self) -> None:
        """The deferred epoch evaluation when one is due (runs' parts while they fit the frame's budget, at least
        one), else training batches within the budget."""
        m = self.model
        try:
            if m.record_due:
                end = time.perf_counter() + self.app.work_budget()
                while True:  # each part ends in a readback: its time includes the device's
                    self.record_budget.timed(lambda _: m.record(), 1)
                    if not m.record_due or time.perf_counter() + self.record_budget.per_unit > end:
                        break
                self._view = None
            elif m.get("playing") and not m.done:
                self.budget.seconds = self.app.work_budget()
                self.budget.timed(self._train, self.budget.units(m.n_batches))
                self._view = None
        except Exception as exc:  # shown in the window, not a traceback
            self.error = f"training failed: {exc}"
            m.set("playing", False)

    def _train(self, n: int) -> int:
        m = self.model
        done = 0
        while done < n:
            m.train_batch()
            done += 1
            if m.record_due or m.done:
                break
        m.device.sync()  # the batches' device time counts in the budget (rendering waits for it anyway)
        return done

    @property
    def view(self) -> dict:
        if self._view is None:
            self._view = self.model.view()
        return self._view

    def state(self) -> dict:
        return {**self.model.state(), "train_backend": self.model.device.name, "backend_text": self.backend_text}

    def on_key(self, key, modifiers):
        m = self.model
        keys = {k: name for name, _, k in SLIDERS}
        if key in keys:
            self.selected = keys[key]
            return
        if key in ("ArrowUp", "ArrowDown", "+", "=", "-", "WheelUp", "WheelDown"):
            m.nudge(self.selected, key in ("ArrowUp", "+", "=", "WheelUp"))
        elif key == " ":
            m.set("playing", not m.get("playing"))
        elif key == "r":
            m.press("restart")
            m.record()
        self._view = None

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
        v = self.view
        r.text(v["title"], 40, 12, 20, TEXT)
        r.text(self.backend_text, 1240, 18, 11, DIM, "right")
        r.text(v["subtitle"], 40, 40, 11, DIM)
        for j, (name, label, key) in enumerate(SLIDERS):
            self._slider(r, 40 + j * 300, 60, 260, name, label, key)
        m = self.model
        state = "done" if m.done else ("training" if m.get("playing") else "paused")
        if self.error:
            state = self.error
        r.text(f"epoch {m.epoch} of {v['epochs']} ({state})", 1240, 64, 14, TEXT, "right")
        hist = v["histograms"]
        edges = hist["edges"]
        for i, name in enumerate(RUNS):
            x = COL_X + i * (COL_W + 10)
            s = v["summary"][name]
            h = v["history"][name]
            lam = "" if name == "none" else f", λ {s['lambda']:.2g}"
            series = [("train", h["epoch"], h["train_acc"], TRAIN), ("test", h["epoch"], h["test_acc"], TEST)]
            plot(r, x, 118, COL_W, 270, series, title=f"{name}{lam}", ylim=(0.0, 1.0), xlim=(0, v["epochs"]),
                 legend=False, xlabel="epoch")  # fmt: skip
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
        for t in nice_ticks(-span, span, 4):
            tx = px + (t + span) / (2 * span) * pw
            r.rect(tx, py + ph, 1, 4, "#6b6b78")
            r.text(short_number(t), tx, py + ph + 5, 10, DIM, "center")
        r.text("x: weight value  y: share, log scale", px, py + ph + 20, 10, DIM)
        r.text(f"|w| < {below:g}: {run['near_zero']:.1%} · mean |w| {run['mean_abs']:.3f}", x + 10, y + h - 18, 12,
               TEXT)  # fmt: skip
