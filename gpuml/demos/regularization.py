"""Regularization side by side, in a window: a thin front end over
:class:`gpuml.playground.regularization.RegularizationModel`: the same LeNet-5 (same initial weights, same batches)
trained without a penalty, with L1 and with L2 on a small training subset, so the unregularised run overfits.
Curves per epoch (train loss, test accuracy) and the histograms of the conv/linear weights; lambda is set on a log
scale and restarts the runs.
"""

from __future__ import annotations

from ..playground.regularization import RegularizationModel
from ._data import training_data
from .app import Demo
from .render import DIM, PALETTE, TEXT

COLORS = {"none": PALETTE[9], "L1": PALETTE[1], "L2": PALETTE[0]}


class RegularizationDemo(Demo):
    name = "regularization"
    title = "regularization: none vs L1 vs L2"
    help = (("up/down or +/-", "lambda x10^(1/4)"), ("space", "pause"), ("r", "restart"), ("Esc", "quit"))

    def __init__(self, app, options):
        super().__init__(app, options)
        train, test, data_name = training_data()
        subset = int(options.get("subset") or 500)
        self.model = RegularizationModel(
            train.subset(subset, 0),
            test.subset(min(500, len(test)), 1),
            log_lambda=float(options.get("log_lambda") or -3.0),
            data_name=data_name,
            device=self.device,
        )

    def update(self) -> None:
        self.model.step()

    def on_key(self, key, modifiers):
        m = self.model
        if key in ("ArrowUp", "ArrowDown", "+", "=", "-", "WheelUp", "WheelDown"):
            m.nudge("log_lambda", key in ("ArrowUp", "+", "=", "WheelUp"))
        elif key == " ":
            m.set("playing", not m.get("playing"))
        elif key == "r":
            m.press("restart")

    def draw(self, r) -> None:
        v = self.model.view()
        r.text(v["title"], 40, 16, 22, TEXT)
        r.text(v["subtitle"], 40, 46, 12, DIM)
        # lambda control on a log scale
        x, y, w = 880, 14, 360
        lo, hi = v["range"]
        r.text(f"λ = {v['lambda']:.2e}", x, y - 2, 16, TEXT)
        r.rect(x, y + 24, w, 6, "#3a3e4c")
        for e in range(int(lo), int(hi) + 1):
            tx = x + (e - lo) / (hi - lo) * w
            r.rect(tx, y + 20, 1, 14, "#6b6b78")
            r.text(f"1e{e}", tx, y + 36, 10, DIM, "center")
        kx = x + (v["log_lambda"] - lo) / (hi - lo) * w
        r.rect(kx - 5, y + 17, 10, 20, PALETTE[5])
        hist = v["history"]
        series_loss = [(n, hist[n]["epoch"], hist[n]["train_loss"], c) for n, c in COLORS.items()]
        series_acc = [(n, hist[n]["epoch"], hist[n]["test_acc"], c) for n, c in COLORS.items()]
        paused = "" if v["playing"] else ", paused"
        r.plot(40, 80, 590, 320, series_loss, title=f"train loss per epoch (epoch {v['epoch']}{paused})", log_y=True)
        r.plot(650, 80, 590, 320, series_acc, title="test accuracy per epoch")
        span = v["span"]
        for i, (name, heights, mean_abs, near_zero, count) in enumerate(v["histograms"]):
            px, py, pw, ph = 40 + i * 405, 420, 390, 320
            r.panel(px, py, pw, ph, f"{name}: conv/fc weights ({count:,})")
            bw = (pw - 30) / len(heights)
            for j, f in enumerate(heights):
                hgt = (ph - 90) * f  # square-root scale shows the tails
                r.rect(px + 15 + j * bw, py + ph - 50 - hgt, max(bw - 1, 1), hgt, COLORS[name])
            r.text(f"{-span:.2f}", px + 15, py + ph - 44, 10, DIM)
            r.text("0", px + pw / 2, py + ph - 44, 10, DIM, "center")
            r.text(f"{span:.2f}", px + pw - 15, py + ph - 44, 10, DIM, "right")
            r.text(f"|w| mean {mean_abs:.4f} · |w|<1e-3: {near_zero * 100:.1f}%", px + 15, py + ph - 26, 12, TEXT)
        self.draw_help(r, 40, 772, 1200)
