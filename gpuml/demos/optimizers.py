"""Optimizers racing on 2-D loss surfaces, in a window: a thin front end over
:class:`gpuml.playground.optimizers.OptimizersModel` (each optimizer's point moved by its own WGSL update kernel).
The race ends when every runner is within the tolerance circle of a minimum (or out), or at the surface's step
budget; the leaderboard then shows the ranking.
"""

from __future__ import annotations

import math

import numpy as np

from ..playground.optimizers import SURFACES, OptimizersModel, check_surface
from .app import Demo
from .chart import nice_ticks
from .render import DIM, PALETTE, TEXT, colormap, short_number

SURFACE_KEYS = {str(i + 1): name for i, name in enumerate(SURFACES)}
PLOT = (76, 70, 724, 644)  # the surface; its axes' tick labels left of it and under it
COLORS = [PALETTE[j] for j in (0, 1, 2, 4, 6, 10)]
# each step reads the points back (so the time is the device's too); the budget is checked after a step: one over
STEP_S = 0.003
STATUS = {"finished": "at the minimum", "running": "running", "budget": "out of steps", "out": "left the plot"}


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

    @classmethod
    def check_options(cls, options: dict) -> None:
        surface = options.get("surface")
        if surface is not None:  # an empty --surface '' is a mistake, not the default
            check_surface(surface)

    def __init__(self, app, options):
        super().__init__(app, options)
        self.model = OptimizersModel(
            surface=options.get("surface") or "rosenbrock",
            steps_per_frame=int(options.get("steps_per_frame") or 10),
            device=self.device,
        )
        self._background = (None, None)  # (the model's values, their colormapped image)

    def update(self) -> None:
        self.model.advance(budget_s=self.app.work_budget() - STEP_S)

    def on_key(self, key, modifiers):
        m = self.model
        if key in SURFACE_KEYS:
            m.set("surface", SURFACE_KEYS[key])
        elif key in ("+", "=", "-", "WheelUp", "WheelDown"):
            old = m.get("lr_scale")
            m.nudge("lr_scale", key in ("+", "=", "WheelUp"))  # a new learning rate restarts the race
            if m.get("lr_scale") == old:
                m.press("restart")
        elif key == " ":
            m.set("playing", not m.get("playing"))
        elif key == "r":
            m.press("restart")
        elif key == "s":
            m.press("step")

    def _surface_image(self, values, n) -> np.ndarray:
        if self._background[0] is not values:
            self._background = (values, colormap(np.asarray(values, np.float32).reshape(n, n), "magma"))
        return self._background[1]

    def draw(self, r) -> None:
        v = self.model.view()
        (x0, x1), (y0, y1) = v["x_range"], v["y_range"]
        r.text(v["title"], 40, 16, 22, TEXT)
        r.text(
            "one 2-element parameter per optimizer, updated by gpuml's WGSL optimizer kernels; gradients from the "
            "surface formula",
            40,
            46,
            12,
            DIM,
        )
        px, py, pw, ph = PLOT
        image = self._surface_image(v["background"], v["grid"])
        r.image_keyed("surface", v["surface"], image, px, py, pw, ph, smooth=True)  # uploaded once per surface

        for t in nice_ticks(x0, x1, 8):  # axes: the surface's coordinates
            tx = px + (t - x0) / (x1 - x0) * pw
            r.rect(tx, py + ph, 1, 5, DIM)
            r.text(short_number(t), tx, py + ph + 6, 11, DIM, "center")
        for t in nice_ticks(y0, y1, 8):
            ty = py + (y1 - t) / (y1 - y0) * ph
            r.rect(px - 5, ty, 5, 1, DIM)
            r.text(short_number(t), px - 8, ty - 7, 11, DIM, "right")
        r.text("x", px + pw + 6, py + ph - 7, 12, DIM)
        r.text("y", 30, py - 7, 12, DIM)  # on the top tick's row, left of its label

        def to_px(pts):
            a = np.asarray(pts, np.float64).reshape(-1, 2)
            return np.stack([px + (a[:, 0] - x0) / (x1 - x0) * pw, py + (y1 - a[:, 1]) / (y1 - y0) * ph], 1)

        for mx, my in to_px(v["minima"]):  # the finish: a cross inside the tolerance circle
            r.line([(mx - 8, my), (mx + 8, my)], "#ffffff", 2)
            r.line([(mx, my - 8), (mx, my + 8)], "#ffffff", 2)
            rx, ry = v["tol"] / (x1 - x0) * pw, v["tol"] / (y1 - y0) * ph
            ring = [(mx + rx * math.cos(t / 24 * math.pi), my + ry * math.sin(t / 24 * math.pi)) for t in range(49)]
            r.line(ring, "#ffffff", 1.0)
        ((sx, sy),) = to_px([v["start"]])
        r.rect(sx - 4, sy - 4, 8, 8, "#ffffff")
        for i, (_, path) in enumerate(v["paths"]):
            pts = np.clip(to_px(path[-3000:]), [px, py], [px + pw, py + ph])
            r.line(pts, COLORS[i], 2.0)
            r.rect(pts[-1, 0] - 5, pts[-1, 1] - 5, 10, 10, COLORS[i])
            r.frame(pts[-1, 0] - 6, pts[-1, 1] - 6, 12, 12, "#000000")  # markers visible on any background
        # leaderboard
        lx, ly = 830, 70
        head = "finished" if v["finished"] else f"step {v['steps']} of at most {v['budget']}"
        r.panel(lx, ly, 410, 300, head + ("" if v["playing"] or v["finished"] else " (paused)"))
        for row in v["leaderboard"]:
            yy = ly + 34 + (row["rank"] - 1) * 40
            r.rect(lx + 14, yy + 3, 14, 14, COLORS[row["index"]])
            r.text(f"{row['rank']}. {row['name']}", lx + 38, yy, 16, TEXT)
            what = STATUS[row["status"]]
            if row["status"] == "finished":
                what += f" in {row['steps']} steps"
            r.text(what, lx + 396, yy, 13, TEXT, "right")
            r.text(f"lr {row['lr']:.2g} · f = {row['loss']:.4g}", lx + 38, yy + 19, 10, DIM)
        r.panel(lx, 390, 410, 150, "learning rate")
        for j, line in enumerate(v["lr_lines"]):
            r.text(line, lx + 14, 420 + (0 if j == 0 else 6 + 24 * j), 14 if j == 0 else 12, TEXT if j == 0 else DIM)
        r.panel(lx, 560, 410, 190, "surfaces")
        for j, (k, name) in enumerate(SURFACE_KEYS.items()):
            label = f"{k}  {name}" + (f" ({SURFACES[name].label})" if SURFACES[name].label.lower() != name else "")
            r.text(label, lx + 14, 590 + j * 24, 14, TEXT if name == self.model.surface else DIM)
        r.text(f"+ minimum, circle: tolerance {v['tol']:g}", lx + 14, 694, 12, DIM)
        r.text("white square: start", lx + 14, 712, 12, DIM)
        r.text(v["status"], 40, 756, 12, TEXT)
        self.draw_help(r, 40, 776, 1200)
