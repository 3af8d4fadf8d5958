"""Optimizers racing on 2-D loss surfaces. Each optimizer owns a :class:`~gpuml.nn.ParameterStore` holding one
2-element parameter (the point); per step the surface gradient is computed on the host at the point just read
back, written to the store's gradient buffer, and the optimizer's own WGSL update kernel (shaders/optim/*.wgsl,
the same kernels that train networks) moves the point on the device.
"""

from __future__ import annotations

import math

import numpy as np

from ..nn import ParameterStore
from ..optim import SGD, Adam, AdamW, RMSprop
from .app import Demo
from .render import DIM, PALETTE, TEXT, colormap


def _rosenbrock(x, y):
    f = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    return f, np.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def _beale(x, y):
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3
    f = a * a + b * b + c * c
    gx = 2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y**3 - 1)
    gy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y
    return f, np.stack([gx, gy])


def _saddle(x, y):
    return x * x - y * y + 0.25 * y**4 / 4, np.stack([2 * x, -2 * y + 0.25 * y**3])


def _bowl(x, y):  # condition number 100
    return 0.05 * x * x + 5 * y * y, np.stack([0.1 * x, 10 * y])


# name: (function, x range, y range, start, minimum, lr for SGD-type rules, lr for adaptive rules)
SURFACES = {
    "rosenbrock": (_rosenbrock, (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5), (1.0, 1.0), 6e-4, 0.03),
    "beale": (_beale, (-4.5, 4.5), (-4.5, 4.5), (-2.5, -3.0), (3.0, 0.5), 5e-4, 0.05),
    "saddle": (_saddle, (-2.0, 2.0), (-3.5, 3.5), (-1.8, 0.01), None, 0.02, 0.02),
    "ill-conditioned bowl": (_bowl, (-5.0, 5.0), (-3.0, 3.0), (-4.5, 2.0), (0.0, 0.0), 0.09, 0.1),
}
SURFACE_KEYS = {"1": "rosenbrock", "2": "beale", "3": "saddle", "4": "ill-conditioned bowl"}
OPTIMIZERS = ("SGD", "momentum", "Nesterov", "Adam", "AdamW", "RMSprop")
PLOT = (40, 70, 760, 680)


class OptimizersDemo(Demo):
    name = "optimizers"
    title = "optimizers racing"
    help = (
        ("1-4", "surface"),
        ("+/-", "learning rate x10^(1/4)"),
        ("space", "pause"),
        ("r", "restart"),
        ("s", "step"),
        ("Esc", "quit"),
    )

    def __init__(self, app, options):
        super().__init__(app, options)
        self.surface = options.get("surface") or "rosenbrock"
        self.lr_scale = 0.0  # log10 multiplier of the per-surface learning rates
        self.steps_per_frame = int(options.get("steps_per_frame") or 4)
        self.playing = True
        self.restarts = 0
        self.set_surface(self.surface)

    def set_surface(self, name: str) -> None:
        self.surface = name
        fn, (x0, x1), (y0, y1), *_ = SURFACES[name]
        n = 240
        xs, ys = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y1, y0, n))
        f, _ = fn(xs, ys)
        z = np.log10(f - f.min() + 1e-2)
        z = (z - z.min()) / (np.ptp(z) or 1)
        bands = (np.floor(z * 18) % 2) * 0.06  # contour-like banding
        self.background = colormap(np.clip(z * 0.85 + bands, 0, 1), "magma")
        self.restart()

    def restart(self) -> None:
        self.restarts += 1
        _, _, _, start, _, lr_sgd, lr_adapt = SURFACES[self.surface]
        scale = 10.0**self.lr_scale
        self.runs = []
        for name in OPTIMIZERS:
            store = ParameterStore(self.device)
            store.add("point", np.asarray(start, np.float32), decay=True)
            store.build()
            lr = (lr_sgd if name in ("SGD", "momentum", "Nesterov") else lr_adapt) * scale
            if name == "SGD":
                opt = SGD(store, lr)
            elif name == "momentum":
                opt = SGD(store, lr, momentum=0.9)
            elif name == "Nesterov":
                opt = SGD(store, lr, momentum=0.9, nesterov=True)
            elif name == "Adam":
                opt = Adam(store, lr)
            elif name == "AdamW":
                opt = AdamW(store, lr, weight_decay=0.1)
            else:
                opt = RMSprop(store, lr * 0.3)
            self.runs.append({"name": name, "store": store, "opt": opt, "path": [tuple(start)], "done": False})
        self.steps = 0

    def step(self) -> None:
        fn = SURFACES[self.surface][0]
        for run in self.runs:
            if run["done"]:
                continue
            p = run["store"]["point"]
            x, y = (float(v) for v in p.data.numpy())
            if not (math.isfinite(x) and math.isfinite(y)) or abs(x) > 1e3 or abs(y) > 1e3:
                run["done"] = True  # diverged
                continue
            _, g = fn(np.float64(x), np.float64(y))
            p.grad.assign(np.asarray(g, np.float32))
            run["opt"].step()  # the WGSL update kernel, recorded on the device
            run["path"].append((x, y))
        self.steps += 1

    def update(self) -> None:
        if self.playing:
            for _ in range(self.steps_per_frame):
                self.step()

    def on_key(self, key, modifiers):
        if key in SURFACE_KEYS:
            self.set_surface(SURFACE_KEYS[key])
        elif key in ("+", "=", "-", "WheelUp", "WheelDown"):
            up = key in ("+", "=", "WheelUp")
            self.lr_scale = float(np.clip(self.lr_scale + (0.25 if up else -0.25), -2, 1.5))
            self.restart()
        elif key == " ":
            self.playing = not self.playing
        elif key == "r":
            self.restart()
        elif key == "s":
            self.playing = False
            self.step()

    def state(self) -> dict:
        fn = SURFACES[self.surface][0]
        return {
            "surface": self.surface,
            "steps": self.steps,
            "lr_scale": 10.0**self.lr_scale,
            "restarts": self.restarts,
            "loss": {r["name"]: float(fn(*np.asarray(r["path"][-1], np.float64))[0]) for r in self.runs},
        }

    def draw(self, r) -> None:
        fn, (x0, x1), (y0, y1), start, minimum, lr_sgd, lr_adapt = SURFACES[self.surface]
        r.text(f"optimizers racing · {self.surface}", 40, 16, 22, TEXT)
        r.text(
            "one 2-element parameter per optimizer, updated by gpuml's WGSL optimizer kernels; gradients from the "
            "surface formula",
            40,
            46,
            12,
            DIM,
        )
        px, py, pw, ph = PLOT
        r.image("surface", self.background, px, py, pw, ph, smooth=True)

        def to_px(pts):
            a = np.asarray(pts, np.float64).reshape(-1, 2)
            return np.stack([px + (a[:, 0] - x0) / (x1 - x0) * pw, py + (y1 - a[:, 1]) / (y1 - y0) * ph], 1)

        if minimum is not None:
            ((mx, my),) = to_px([minimum])
            r.line([(mx - 8, my), (mx + 8, my)], "#ffffff", 2)
            r.line([(mx, my - 8), (mx, my + 8)], "#ffffff", 2)
        ((sx, sy),) = to_px([start])
        r.rect(sx - 4, sy - 4, 8, 8, "#ffffff")
        for i, run in enumerate(self.runs):
            pts = to_px(run["path"][-2000:])
            pts = np.clip(pts, [px, py], [px + pw, py + ph])
            color = PALETTE[[0, 1, 2, 4, 6, 10][i]]
            r.line(pts, color, 2.0)
            r.rect(pts[-1, 0] - 5, pts[-1, 1] - 5, 10, 10, color)
        # leaderboard
        lx, ly = 830, 70
        r.panel(lx, ly, 410, 300, f"step {self.steps}" + ("" if self.playing else " (paused)"))
        losses = []
        for i, run in enumerate(self.runs):
            x, y = run["path"][-1]
            f = float(fn(np.float64(x), np.float64(y))[0])
            losses.append((f if math.isfinite(f) else float("inf"), i))
        for rank, (f, i) in enumerate(sorted(losses)):
            run = self.runs[i]
            yy = ly + 34 + rank * 40
            color = PALETTE[[0, 1, 2, 4, 6, 10][i]]
            r.rect(lx + 14, yy + 3, 14, 14, color)
            r.text(run["name"], lx + 38, yy, 16, TEXT)
            r.text("diverged" if run["done"] else f"f = {f:.4g}", lx + 396, yy, 14, TEXT, "right")
            r.text(f"lr {run['opt'].lr:.2g}", lx + 38, yy + 19, 10, DIM)
        r.panel(lx, 390, 410, 150, "learning rate")
        r.text(f"x {10.0**self.lr_scale:.3g} of the surface's defaults", lx + 14, 420, 14, TEXT)
        r.text(f"SGD / momentum / Nesterov: {lr_sgd * 10.0**self.lr_scale:.2g}", lx + 14, 448, 13, DIM)
        r.text(
            f"Adam / AdamW: {lr_adapt * 10.0**self.lr_scale:.2g}; RMSprop: {lr_adapt * 0.3 * 10.0**self.lr_scale:.2g}",
            lx + 14,
            470,
            13,
            DIM,
        )
        r.text("AdamW: decoupled weight decay 0.1", lx + 14, 492, 13, DIM)
        r.panel(lx, 560, 410, 190, "surfaces")
        for j, (k, name) in enumerate(SURFACE_KEYS.items()):
            r.text(f"{k}  {name}", lx + 14, 590 + j * 24, 14, TEXT if name == self.surface else DIM)
        r.text("+ minimum   white square: start", lx + 14, 590 + 4 * 24 + 8, 12, DIM)
        self.draw_help(r, 40, 772, 1200)
