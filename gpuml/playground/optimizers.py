"""Optimizers racing on 2-D loss surfaces. Each optimizer owns a :class:`~gpuml.nn.ParameterStore` holding one
2-element parameter (the point); per step the surface gradient is computed on the host at the point just read
back, written to the store's gradient buffer, and the optimizer's own WGSL update kernel (shaders/optim/*.wgsl,
the same kernels that train networks) moves the point on the device. Numpy-free.
"""

from __future__ import annotations

import array
import math

from ..nn import ParameterStore
from ..optim import SGD, Adam, AdamW, RMSprop
from .controls import DemoModel, button, choice, slider, toggle


def _rosenbrock(x, y):
    f = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    return f, (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x))


def _beale(x, y):
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3
    f = a * a + b * b + c * c
    gx = 2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y**3 - 1)
    gy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y
    return f, (gx, gy)


def _saddle(x, y):
    return x * x - y * y + 0.25 * y**4 / 4, (2 * x, -2 * y + 0.25 * y**3)


def _bowl(x, y):  # condition number 100
    return 0.05 * x * x + 5 * y * y, (0.1 * x, 10 * y)


# name: (function, x range, y range, start, minimum, lr for SGD-type rules, lr for adaptive rules)
SURFACES = {
    "rosenbrock": (_rosenbrock, (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5), (1.0, 1.0), 6e-4, 0.03),
    "beale": (_beale, (-4.5, 4.5), (-4.5, 4.5), (-2.5, -3.0), (3.0, 0.5), 5e-4, 0.05),
    "saddle": (_saddle, (-2.0, 2.0), (-3.5, 3.5), (-1.8, 0.01), None, 0.02, 0.02),
    "ill-conditioned bowl": (_bowl, (-5.0, 5.0), (-3.0, 3.0), (-4.5, 2.0), (0.0, 0.0), 0.09, 0.1),
}
OPTIMIZERS = ("SGD", "momentum", "Nesterov", "Adam", "AdamW", "RMSprop")
GRID = 240  # background samples per side


class OptimizersModel(DemoModel):
    name = "optimizers"
    title = "optimizers racing"
    controls = (
        choice("surface", "rosenbrock", tuple(SURFACES)),
        slider("lr_scale", 0.0, -2.0, 1.5, step=0.25, label="log10 of the learning-rate multiplier"),
        slider("steps_per_frame", 4, 1, 100, integer=True),
        toggle("playing", True),
        button("step"),
        button("restart"),
    )

    def __init__(self, *, surface: str = "rosenbrock", steps_per_frame: int = 4, device=None):
        super().__init__()
        self.device = device
        self.values["steps_per_frame"] = self.control("steps_per_frame").validate(steps_per_frame)
        self.restarts = 0
        self.values["surface"] = self.control("surface").validate(surface)
        self._surface_changed()

    @property
    def surface(self) -> str:
        return self.values["surface"]

    def _surface_changed(self) -> None:
        fn, (x0, x1), (y0, y1), *_ = SURFACES[self.surface]
        n = GRID
        z = []
        for i in range(n):
            y = y1 + (y0 - y1) * i / (n - 1)
            z.extend(fn(x0 + (x1 - x0) * j / (n - 1), y)[0] for j in range(n))
        lo = min(z)
        z = [math.log10(v - lo + 1e-2) for v in z]
        zmin, span = min(z), (max(z) - min(z)) or 1.0
        out = []
        for v in z:
            v = (v - zmin) / span
            bands = (math.floor(v * 18) % 2) * 0.06  # contour-like banding
            out.append(min(max(v * 0.85 + bands, 0.0), 1.0))
        self.background = out  # GRID x GRID values in [0, 1], row 0 at the top (y1)
        self.restart()

    def restart(self) -> None:
        self.restarts += 1
        _, _, _, start, _, lr_sgd, lr_adapt = SURFACES[self.surface]
        scale = 10.0 ** self.values["lr_scale"]
        self.runs = []
        for name in OPTIMIZERS:
            store = ParameterStore(self.device)
            store.add("point", array.array("f", start), decay=True)
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
        """One update of every optimizer still running (a diverged one stops)."""
        fn = SURFACES[self.surface][0]
        for run in self.runs:
            if run["done"]:
                continue
            p = run["store"]["point"]
            x, y = (float(v) for v in p.data.to_array())
            if not (math.isfinite(x) and math.isfinite(y)) or abs(x) > 1e3 or abs(y) > 1e3:
                run["done"] = True  # diverged
                continue
            _, g = fn(x, y)
            p.grad.assign(array.array("f", g))
            run["opt"].step()  # the WGSL update kernel, recorded on the device
            run["path"].append((x, y))
        self.steps += 1

    def advance(self) -> None:
        if self.values["playing"]:
            for _ in range(self.values["steps_per_frame"]):
                self.step()

    def _changed(self, name, value) -> None:
        if name == "surface":
            self._surface_changed()
        elif name == "lr_scale":
            self.restart()

    def _pressed(self, name) -> None:
        if name == "step":
            self.values["playing"] = False
            self.step()
        elif name == "restart":
            self.restart()

    def loss(self, run) -> float:
        x, y = run["path"][-1]
        f = float(SURFACES[self.surface][0](float(x), float(y))[0])
        return f if math.isfinite(f) else float("inf")

    def view(self) -> dict:
        """What to draw: the surface (``background``: GRID x GRID values in [0, 1]; its ranges, start, minimum),
        each optimizer's path (data coordinates), the leaderboard (sorted by loss) and the learning rates."""
        _, xr, yr, start, minimum, lr_sgd, lr_adapt = SURFACES[self.surface]
        scale = 10.0 ** self.values["lr_scale"]
        ranked = sorted(range(len(self.runs)), key=lambda i: (self.loss(self.runs[i]), i))
        return {
            "title": f"optimizers racing · {self.surface}",
            "background": self.background,
            "grid": GRID,
            "x_range": xr,
            "y_range": yr,
            "start": start,
            "minimum": minimum,
            "paths": [(r["name"], r["path"]) for r in self.runs],
            "leaderboard": [
                (i, self.runs[i]["name"], self.loss(self.runs[i]), self.runs[i]["done"], self.runs[i]["opt"].lr)
                for i in ranked
            ],
            "steps": self.steps,
            "playing": self.values["playing"],
            "lr_scale": scale,
            "lr_lines": [
                f"x {scale:.3g} of the surface's defaults",
                f"SGD / momentum / Nesterov: {lr_sgd * scale:.2g}",
                f"Adam / AdamW: {lr_adapt * scale:.2g}; RMSprop: {lr_adapt * 0.3 * scale:.2g}",
                "AdamW: decoupled weight decay 0.1",
            ],
        }

    def state(self) -> dict:
        return {
            "surface": self.surface,
            "steps": self.steps,
            "lr_scale": 10.0 ** self.values["lr_scale"],
            "restarts": self.restarts,
            "loss": {r["name"]: self.loss(r) for r in self.runs},
        }
