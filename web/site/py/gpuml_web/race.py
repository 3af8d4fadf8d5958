"""The optimizer race on 2-D loss surfaces (gpuml.playground.optimizers): six optimizers, each point moved by its
own WGSL update kernel; the worker's loop calls race_steps in slices and the main thread draws the surface, the
paths and the leaderboard (Canvas 2D) from what is returned here (new path points only)."""

import base64
import json
import time

from gpuml.playground.optimizers import SURFACES, OptimizersModel, check_surface

from .core import PAGE, _ms

__all__ = ["race_set", "race_setup", "race_steps", "race_surfaces"]


def race_surfaces():
    return json.dumps({name: s.label for name, s in SURFACES.items()})


def race_setup(surface, lr_scale=0.0):
    """A new race on ``surface`` (validated: a one-line error lists the names); the background as base64 uint8."""
    t0 = time.perf_counter()
    check_surface(surface)
    model = OptimizersModel(surface=surface, lr_scale=float(lr_scale), device=PAGE.device)
    PAGE.race, PAGE.race_sent = model, [0] * len(model.runs)
    view = model.view()
    bg = bytes(min(255, int(v * 255)) for v in view.pop("background"))
    out = dict(_update(model, view), background=base64.b64encode(bg).decode(), grid=view["grid"])
    out["setup_ms"] = _ms(t0)
    return json.dumps(out)


def race_steps(count=20, budget_ms=40.0):
    """Up to ``count`` steps (stopping after ``budget_ms``); the new path points, leaderboard and status."""
    model = PAGE.race
    t0 = time.perf_counter()
    for _ in range(int(count)):
        if model.finished:
            break
        model.step()
        if _ms(t0) > budget_ms:
            break
    view = model.view()
    view.pop("background")
    out = _update(model, view)
    out["ms"] = _ms(t0)
    return json.dumps(out)


def race_set(name, value):
    """lr_scale (restarts the race); a bad value is a ValueError naming the control and its range."""
    model = PAGE.race
    model.set(str(name), value)
    PAGE.race_sent = [0] * len(model.runs)
    view = model.view()
    view.pop("background")
    return json.dumps(dict(_update(model, view), restarted=True))


def _update(model, view):
    """The view without the full paths: each run's points not sent before."""
    new = []
    for i, (name, path) in enumerate(view.pop("paths")):
        new.append({"name": name, "points": [list(p) for p in path[PAGE.race_sent[i] :]]})
        PAGE.race_sent[i] = len(path)
    view["new_points"] = new
    return view
