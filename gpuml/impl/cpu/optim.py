"""numpy twins of the optimizer kernels (shaders/optim/): the same update rules on the store's flat arrays."""

from __future__ import annotations

import math

import numpy as np

from ...tensor import Tensor


def _sgd(w, g, state, u) -> None:
    if u["momentum"] != 0:
        buf = state["velocity"]
        buf[...] = g if u["first"] else u["momentum"] * buf + (1 - u["dampening"]) * g
        g = g + u["momentum"] * buf if u["nesterov"] else buf.copy()
    w -= np.float32(u["lr"]) * g


def _adam(w, g, state, u) -> None:
    d = u["n_decay"]
    w[:d] *= np.float32(1.0 - u["lr"] * u["weight_decay"])
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m[...] = u["beta1"] * m + (1 - u["beta1"]) * g
    v[...] = u["beta2"] * v + (1 - u["beta2"]) * g * g
    step = np.float32(u["lr"]) * (m / np.float32(u["bc1"])) / (np.sqrt(v / np.float32(u["bc2"])) + u["eps"])
    w -= step.astype(np.float32)


def _rmsprop(w, g, state, u) -> None:
    v = state["square_avg"]
    v[...] = u["alpha"] * v + (1 - u["alpha"]) * g * g
    step = g / (np.sqrt(v) + np.float32(u["eps"]))
    if u["momentum"] != 0:
        buf = state["velocity"]
        buf[...] = u["momentum"] * buf + step
        step = buf
    w -= np.float32(u["lr"]) * step


RULES = {"sgd": _sgd, "adam": _adam, "rmsprop": _rmsprop}


def optimizer_step(rule: str, params: Tensor, grads: Tensor, state: dict, norm_sq: Tensor | None, u: dict) -> None:
    """Update ``params`` (and ``state``) in place: clipping by global norm, the L1/L2 penalties on the weights
    (``[0, n_decay)``), then the rule."""
    w = params.host()
    g = grads.host().astype(np.float32)
    if u["clip"] > 0:
        g = g * np.float32(min(1.0, u["clip"] / (math.sqrt(float(norm_sq.host()[0])) + 1e-6)))
    d = u["n_decay"]
    g[:d] += np.float32(u["l2"]) * w[:d] + np.float32(u["l1"]) * np.sign(w[:d])
    RULES[rule](w, g, {k: t.host() for k, t in state.items()}, u)
