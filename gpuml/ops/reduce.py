"""Reductions over one axis or all axes: sum, mean, max, min, argmax, argmin.

The tensor is viewed as (outer, R, inner) around the reduced axis and each backend's ``reduce`` works on that view
(gpuml/impl/webgpu/reduce.py says how the kernels split it)."""

from __future__ import annotations

import math
import warnings

from ..tensor import Tensor
from .elementwise import full
from .validate import normalize_axis, operands, require_float


def _plan(shape: tuple[int, ...], axis: int | None) -> tuple[int, int, int]:
    if axis is None:
        return 1, math.prod(shape), 1
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])


def _reduce(kind: str, x, axis: int | None, keepdims: bool, index: bool, name: str) -> Tensor:
    device, (x,) = operands(x)
    require_float(name, x)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, name)
    outer, r, inner = _plan(x.shape, axis)
    if axis is None:
        out_shape = (1,) * x.ndim if keepdims else ()
    else:
        out_shape = x.shape[:axis] + ((1,) if keepdims else ()) + x.shape[axis + 1 :]
    if r == 0 and kind == "mean" and not index:  # numpy: NaN, with a RuntimeWarning
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=3)
        return full(out_shape, math.nan, "float32", device)
    if r == 0 and (kind != "sum" or index):  # numpy raises for max/min/argmax/argmin of nothing
        raise ValueError(f"{name}: cannot reduce an empty axis (shape {x.shape}, axis {axis})")
    return device.impl.reduce(kind, index, x, outer, r, inner, out_shape)


def sum(x, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when None)."""
    return _reduce("sum", x, axis, keepdims, False, "sum")


def mean(x, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _reduce("mean", x, axis, keepdims, False, "mean")


def max(x, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _reduce("max", x, axis, keepdims, False, "max")


def min(x, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _reduce("min", x, axis, keepdims, False, "min")


def argmax(x, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (the first one on ties, as numpy); int32. With axis=None, a flat index."""
    return _reduce("max", x, axis, keepdims, True, "argmax")


def argmin(x, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return _reduce("min", x, axis, keepdims, True, "argmin")
