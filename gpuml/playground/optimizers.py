"""Optimizers racing on 2-D loss surfaces. Each optimizer owns a :class:`~gpuml.nn.ParameterStore` holding one
2-element parameter (the point); per step the surface gradient is computed on the host at the points just read
back (one readback for all six), written to each store's gradient buffer, and the optimizer's own WGSL update
kernel (shaders/optim/*.wgsl, the same kernels that train networks) moves the point on the device. Numpy-free.

The race: a runner finishes when its point comes within ``tol`` of a minimum (its step count is its time); one
that leaves the plotted area or goes non-finite is out; the race is over when every runner has finished or is
out, or at the surface's step budget. The ranking puts finishers first (fewest steps), then the rest by loss.
Default learning rates are per surface and per optimizer, chosen (by running the race) so that every point stays
in view and most runners finish within the budget (benchmarks/RESULTS.md, "regularization-race").
"""

from __future__ import annotations

import array
import math
import time
from dataclasses import dataclass

from ..nn import ParameterStore
from ..ops import copy_into, zeros
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


def _saddle(x, y):  # a saddle at the origin, minima at (0, +-sqrt(8)) where f = -4
    return x * x - y * y + y**4 / 16, (2 * x, -2 * y + y**3 / 4)


def _bowl(x, y):  # condition number 100
    return 0.05 * x * x + 5 * y * y, (0.1 * x, 10 * y)


@dataclass(frozen=True)
class Surface:
    label: str
    fn: object
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    tol: float  # a runner finishes within this distance of a minimum
    budget: int  # steps before the race ends regardless
    lrs: dict  # optimizer -> default learning rate


OPTIMIZERS = ("SGD", "momentum", "Nesterov", "Adam", "AdamW", "RMSprop")
ADAMW_DECAY = 0.01  # torch.optim.AdamW's default

SURFACES = {
    "rosenbrock": Surface(
        "Rosenbrock", _rosenbrock, (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5), ((1.0, 1.0),), 0.1, 2000,
        {"SGD": 1e-3, "momentum": 1e-3, "Nesterov": 1e-3, "Adam": 0.1, "AdamW": 0.1, "RMSprop": 3e-3},
    ),
    "beale": Surface(
        "Beale", _beale, (-4.5, 4.5), (-4.5, 4.5), (1.0, 1.5), ((3.0, 0.5),), 0.15, 1500,
        {"SGD": 1e-2, "momentum": 1e-3, "Nesterov": 1e-3, "Adam": 0.1, "AdamW": 0.1, "RMSprop": 1e-2},
    ),
    "saddle": Surface(
        "saddle", _saddle, (-2.0, 2.0), (-3.5, 3.5), (-1.8, 0.01), ((0.0, 8**0.5), (0.0, -(8**0.5))), 0.15, 600,
        {"SGD": 1e-2, "momentum": 3e-3, "Nesterov": 3e-3, "Adam": 3e-2, "AdamW": 3e-2, "RMSprop": 1e-2},
    ),
    "bowl": Surface(
        "ill-conditioned bowl", _bowl, (-5.0, 5.0), (-3.0, 3.0), (-4.5, 2.0), ((0.0, 0.0),), 0.1, 600,
        {"SGD": 0.18, "momentum": 0.03, "Nesterov": 0.03, "Adam": 0.1, "AdamW": 0.1, "RMSprop": 0.03},
    ),
}  # fmt: skip
GRID = 240  # background samples per side


def check_surface(name) -> str:
    """``name`` if it is a surface, else a one-line ValueError listing the valid names."""
    if name not in SURFACES:
        raise ValueError(f"unknown surface {name!r}; choose one of: {', '.join(SURFACES)}")
    return name


def _optimizer(name: str, store, lr: float):
    if name == "SGD":
        return SGD(store, lr)
    if name == "momentum":
        return SGD(store, lr, momentum=0.9)
    if name == "Nesterov":
        return SGD(store, lr, momentum=0.9, nesterov=True)
    if name == "Adam":
        return Adam(store, lr)
    if name == "AdamW":
        return AdamW(store, lr, weight_decay=ADAMW_DECAY)
    return RMSprop(store, lr)


class OptimizersModel(DemoModel):
    name = "optimizers"
    title = "optimizers racing"
    controls = (
        choice("surface", "rosenbrock", tuple(SURFACES)),
        slider("lr_scale", 0.0, -2.0, 1.0, step=0.25, label="log10 of the learning-rate multiplier"),
        slider("steps_per_frame", 10, 1, 200, integer=True, label="steps per frame"),
        toggle("playing", True),
        button("step"),
        button("restart"),
    )

    def __init__(self, *, surface: str = "rosenbrock", steps_per_frame: int = 10, lr_scale: float = 0.0, device=None):
        super().__init__()
        self.device = device
        self.values["steps_per_frame"] = self.control("steps_per_frame").validate(steps_per_frame)
        self.values["lr_scale"] = self.control("lr_scale").validate(lr_scale)
        self.restarts = 0
        self.values["surface"] = check_surface(surface)
        self._surface_changed()

    def set(self, name, value) -> None:
        if name == "surface":
            check_surface(value)
        super().set(name, value)

    @property
    def surface(self) -> str:
        return self.values["surface"]

    @property
    def spec(self) -> Surface:
        return SURFACES[self.surface]

    def _surface_changed(self) -> None:
        s = self.spec
        (x0, x1), (y0, y1), n = s.x_range, s.y_range, GRID
        z = []
        for i in range(n):
            y = y1 + (y0 - y1) * i / (n - 1)
            z.extend(s.fn(x0 + (x1 - x0) * j / (n - 1), y)[0] for j in range(n))
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

    def lr_of(self, name: str) -> float:
        return self.spec.lrs[name] * 10.0 ** self.values["lr_scale"]

    def restart(self) -> None:
        self.restarts += 1
        start = self.spec.start
        self.runs = []
        for name in OPTIMIZERS:
            store = ParameterStore(self.device)
            store.add("point", array.array("f", start), decay=True)
            store.build()
            self.device = store.device
            run = {"name": name, "store": store, "opt": _optimizer(name, store, self.lr_of(name))}
            run.update(path=[tuple(start)], status="running", steps=None)
            self.runs.append(run)
        self._points = zeros((2 * len(self.runs),), "float32", self.device)  # gathered for one readback
        self.steps = 0
        self.finished = False

    def _distance(self, x: float, y: float) -> float:
        return min(math.hypot(x - a, y - b) for a, b in self.spec.minima)

    def step(self) -> None:
        """One update of every runner still running, then one readback of all the points."""
        if self.finished:
            return
        s = self.spec
        live = [r for r in self.runs if r["status"] == "running"]
        for run in live:
            x, y = run["path"][-1]
            run["store"]["point"].grad.assign(array.array("f", s.fn(x, y)[1]))
            run["opt"].step()  # the WGSL update kernel, recorded on the device
        for i, run in enumerate(self.runs):
            copy_into(run["store"]["point"].data, self._points.view(2 * i, (2,)))
        pts = self._points.to_array()
        self.steps += 1
        (x0, x1), (y0, y1) = s.x_range, s.y_range
        for run in live:
            i = self.runs.index(run)
            x, y = float(pts[2 * i]), float(pts[2 * i + 1])
            if not (math.isfinite(x) and math.isfinite(y)) or not (x0 <= x <= x1 and y0 <= y <= y1):
                run["status"] = "out"  # diverged or left the plot: stopped where it was last seen
                run["steps"] = self.steps
                continue
            run["path"].append((x, y))
            if self._distance(x, y) <= s.tol:
                run["status"], run["steps"] = "finished", self.steps
        if all(r["status"] != "running" for r in self.runs) or self.steps >= s.budget:
            self.finished = True

    def advance(self, budget_s: float | None = 0.025) -> None:
        """Up to ``steps_per_frame`` steps, stopping early once ``budget_s`` seconds have passed (a frame stays
        short on slow adapters; each step reads back once)."""
        if self.values["playing"]:
            t0 = time.perf_counter()
            for _ in range(self.values["steps_per_frame"]):
                self.step()
                if budget_s is not None and time.perf_counter() - t0 > budget_s:
                    break

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
        f = float(self.spec.fn(float(x), float(y))[0])
        return f if math.isfinite(f) else float("inf")

    def ranking(self) -> list[int]:
        """Run indices, best first: finishers by steps, then runners and budget-enders by loss, then the out."""
        order = {"finished": 0, "running": 1, "out": 2}

        def key(i):
            r = self.runs[i]
            return (order[r["status"]], r["steps"] if r["status"] == "finished" else self.loss(r), i)

        return sorted(range(len(self.runs)), key=key)

    def leaderboard(self) -> list[dict]:
        rows = []
        for rank, i in enumerate(self.ranking()):
            r = self.runs[i]
            status = r["status"]
            if status == "running" and self.finished:
                status = "budget"  # the race ended at the step budget with this runner still on its way
            rows.append(
                {
                    "rank": rank + 1,
                    "index": i,
                    "name": r["name"],
                    "status": status,
                    "steps": r["steps"],
                    "loss": self.loss(r),
                    "distance": self._distance(*r["path"][-1]),
                    "lr": r["opt"].lr,
                    "point": list(r["path"][-1]),
                }
            )
        return rows

    def status_line(self) -> str:
        done = sum(r["status"] == "finished" for r in self.runs)
        if self.finished:
            winner = self.leaderboard()[0]
            head = f"finished at step {self.steps}: {done} of {len(self.runs)} reached the minimum"
            return head + (f"; {winner['name']} won in {winner['steps']} steps" if done else "")
        return f"step {self.steps} of at most {self.spec.budget}: {done} of {len(self.runs)} at the minimum"

    def view(self) -> dict:
        """What to draw: the surface (``background``: GRID x GRID values in [0, 1]; its ranges, start, minima and
        tolerance), each optimizer's path (data coordinates), the leaderboard and the learning rates."""
        s = self.spec
        scale = 10.0 ** self.values["lr_scale"]
        return {
            "title": f"optimizers racing · {s.label}",
            "surface": self.surface,
            "background": self.background,
            "grid": GRID,
            "x_range": s.x_range,
            "y_range": s.y_range,
            "start": s.start,
            "minima": s.minima,
            "minimum": s.minima[0],
            "tol": s.tol,
            "budget": s.budget,
            "paths": [(r["name"], r["path"]) for r in self.runs],
            "leaderboard": self.leaderboard(),
            "steps": self.steps,
            "finished": self.finished,
            "status": self.status_line(),
            "playing": self.values["playing"],
            "lr_scale": scale,
            "lr_lines": [
                f"x {scale:.3g} of this surface's defaults",
                "SGD {SGD:.2g} · momentum {momentum:.2g} · Nesterov {Nesterov:.2g}".format(
                    **{k: self.lr_of(k) for k in OPTIMIZERS}
                ),
                "Adam {Adam:.2g} · AdamW {AdamW:.2g} · RMSprop {RMSprop:.2g}".format(
                    **{k: self.lr_of(k) for k in OPTIMIZERS}
                ),
                f"momentum 0.9; AdamW: decoupled weight decay {ADAMW_DECAY:g}",
            ],
        }

    def state(self) -> dict:
        return {
            "surface": self.surface,
            "steps": self.steps,
            "finished": self.finished,
            "lr_scale": 10.0 ** self.values["lr_scale"],
            "restarts": self.restarts,
            "loss": {r["name"]: self.loss(r) for r in self.runs},
            "status": {r["name"]: r["status"] for r in self.runs},
            "ranking": [self.runs[i]["name"] for i in self.ranking()],
        }
