"""Pure-Python twins of the optimizer kernels: the same update rules on lists."""

from __future__ import annotations

import array
import math

from ...tensor import Tensor


def _sgd(w: list, g: list, state: dict, u: dict) -> None:
    mom = u["momentum"]
    if mom != 0:
        buf = state["velocity"]
        damp = 1 - u["dampening"]
        buf[:] = g if u["first"] else [mom * b + damp * gi for b, gi in zip(buf, g, strict=True)]
        g = [gi + mom * b for gi, b in zip(g, buf, strict=True)] if u["nesterov"] else buf
    lr = u["lr"]
    w[:] = [wi - lr * gi for wi, gi in zip(w, g, strict=True)]


def _adam(w: list, g: list, state: dict, u: dict) -> None:
    d, b2, eps = u["n_decay"], u["beta2"], u["eps"]
    c1, c2 = u["one_minus_beta1"], u["one_minus_beta2"]  # from the host, as the kernel's
    if u["decay"] != 1.0:
        f = u["decay"]
        w[:d] = [wi * f for wi in w[:d]]
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m[:] = [mi + c1 * (gi - mi) for mi, gi in zip(m, g, strict=True)]  # torch's lerp
    v[:] = [b2 * vi + c2 * gi * gi for vi, gi in zip(v, g, strict=True)]
    s, r = u["step_size"], u["sqrt_bc2"]
    w[:] = [wi - s * (mi / (math.sqrt(vi) / r + eps)) for wi, mi, vi in zip(w, m, v, strict=True)]


def _rmsprop(w: list, g: list, state: dict, u: dict) -> None:
    a, c, eps, mom, lr = u["alpha"], u["one_minus_alpha"], u["eps"], u["momentum"], u["lr"]
    v = state["square_avg"]
    v[:] = [a * vi + c * gi * gi for vi, gi in zip(v, g, strict=True)]
    step = [gi / (math.sqrt(vi) + eps) for gi, vi in zip(g, v, strict=True)]
    if mom != 0:
        buf = state["velocity"]
        buf[:] = [mom * b + s for b, s in zip(buf, step, strict=True)]
        step = buf
    w[:] = [wi - lr * s for wi, s in zip(w, step, strict=True)]


RULES = {"sgd": _sgd, "adam": _adam, "rmsprop": _rmsprop}


def optimizer_step(rule: str, params: Tensor, grads: Tensor, state: dict, norm_sq: Tensor | None, u: dict) -> None:
    """Update ``params`` (and ``state``) in place, as the numpy twin does."""
    w, g = params.values(), grads.values()
    if u["clip"] > 0:
        f = min(1.0, u["clip"] / (math.sqrt(norm_sq.values()[0]) + 1e-6))
        g = [v * f for v in g]
    d = u["n_decay"]
    if u["l1"] or u["l2"]:
        l1, l2 = u["l1"], u["l2"]
        sign = [(wi > 0) - (wi < 0) for wi in w[:d]]
        g[:d] = [gi + l2 * wi + l1 * s for gi, wi, s in zip(g, w[:d], sign, strict=False)]
    lists = {k: t.values() for k, t in state.items()}
    RULES[rule](w, g, lists, u)
    params.words()[:] = array.array("f", w)
    for k, t in state.items():
        t.words()[:] = array.array("f", lists[k])
