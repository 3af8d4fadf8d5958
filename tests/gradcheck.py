"""Finite differences that know about kinks (ReLU, max pooling): a central difference is only meaningful where
the function is smooth across the step, so points whose one-sided slopes disagree are reported as None."""

from __future__ import annotations

import numpy as np


def central(f_plus: float, f_zero: float, f_minus: float, eps: float, kink: float = 1e-2) -> float | None:
    """The central difference, or None where the one-sided slopes differ by more than ``kink`` + 5%: a kink
    crossed by the step (a central difference across one is off by up to half the slopes' difference)."""
    ahead, behind = (f_plus - f_zero) / eps, (f_zero - f_minus) / eps
    if abs(ahead - behind) > 0.05 * max(abs(ahead), abs(behind)) + kink:
        return None
    return (f_plus - f_minus) / (2 * eps)


def partial(
    f, x: np.ndarray, flat_index: int, eps: float = 1e-2, f_zero: float | None = None, kink: float = 1e-2
) -> float | None:
    """d f / d x[flat_index] by central differences, or None at a kink."""
    plus, minus = x.copy(), x.copy()
    plus.flat[flat_index] += eps
    minus.flat[flat_index] -= eps
    return central(f(plus), f(x) if f_zero is None else f_zero, f(minus), eps, kink)
