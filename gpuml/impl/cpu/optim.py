"""numpy twins of the optimizer kernels (shaders/optim/): the same update rules on the store's flat arrays."""

from __future__ import annotations

import math

import numpy as np

from ...tensor import Tensor
from .threads import run_parts


def _sgd(w, g, state, u) -> None:
    if u["momentum"] != 0:
        buf = state["velocity"]
        buf[...] = g if u["first"] else u["momentum"] * buf + (1 - u["dampening"]) * g
        g = g + u["momentum"] * buf if u["nesterov"] else buf.copy()
    w -= np.float32(u["lr"]) * g


def _adam(w, g, state, u) -> None:
    # every coefficient (1 - beta, step size, sqrt of the bias correction, AdamW's decay) comes from the host in
    # double precision; the arithmetic here is float32, in torch.optim.Adam's order, as in shaders/optim/adam.wgsl;
    # in place into two scratch arrays (the same roundings as the expression form, a third of the passes);
    # elementwise, so ranges of the flat arrays split over threads
    m, v = state["exp_avg"], state["exp_avg_sq"]
    run_parts(lambda a, b: _adam_range(w, g, m, v, u, a, b), w.size, min_per_part=ADAM_PER_PART)


ADAM_PER_PART = 1 << 18  # parameters per thread at least: shorter numpy calls make the threads queue for the GIL


def _adam_range(w, g, m, v, u, a: int, b: int) -> None:
    d = min(max(u["n_decay"] - a, 0), b - a)  # the decayed weights [0, n_decay) within this range
    w, g, m, v = w[a:b], g[a:b], m[a:b], v[a:b]
    if u["decay"] != 1.0:
        w[:d] *= np.float32(u["decay"])
    t, s = np.empty_like(w), np.empty_like(w)
    np.subtract(g, m, out=t)  # torch's lerp: m += (1 - beta1) * (g - m)
    t *= np.float32(u["one_minus_beta1"])
    m += t
    np.multiply(g, np.float32(u["one_minus_beta2"]), out=t)  # v = beta2 * v + (1 - beta2) * g * g
    t *= g
    v *= np.float32(u["beta2"])
    v += t
    np.sqrt(v, out=s)  # denom = sqrt(v) / sqrt(bias correction 2) + eps
    s /= np.float32(u["sqrt_bc2"])
    s += np.float32(u["eps"])
    np.divide(m, s, out=t)
    t *= np.float32(u["step_size"])
    w -= t


def _rmsprop(w, g, state, u) -> None:
    v = state["square_avg"]
    v[...] = np.float32(u["alpha"]) * v + np.float32(u["one_minus_alpha"]) * g * g
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
    g = grads.host()  # only read below: copied where clipping or a penalty changes it
    d = u["n_decay"]
    # zero penalties change nothing but a non-finite weight's gradient (0 * Inf = NaN, as in the kernels)
    penalise = u["l1"] or u["l2"] or not np.isfinite(w[:d]).all()
    if u["clip"] > 0:
        g = g * np.float32(min(1.0, u["clip"] / (math.sqrt(float(norm_sq.host()[0])) + 1e-6)))
    elif penalise:
        g = g.copy()
    if penalise:
        g[:d] += np.float32(u["l2"]) * w[:d] + np.float32(u["l1"]) * np.sign(w[:d])
    RULES[rule](w, g, {k: t.host() for k, t in state.items()}, u)
