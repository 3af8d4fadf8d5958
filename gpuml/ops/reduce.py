"""Reductions over one axis or all axes: sum, mean, max, min, argmax, argmin.

The tensor is viewed as (outer, R, inner) around the reduced axis. A long last axis (inner == 1, R >= 256)
goes to shaders/reduce/reduce_rows.wgsl (a workgroup per row chunk, tree in workgroup memory); every other
case to reduce_cols.wgsl (an invocation per output, adjacent invocations on adjacent memory). When there are
too few outputs to fill the device, R is split into chunks and a second pass reduces the partial results,
carrying argmax/argmin indices along.
"""

from __future__ import annotations

import builtins
import math

from ..tensor import Tensor
from . import pure
from ._common import WG, normalize_axis, operands, require_float

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

_NONE = "0xffffffffu"  # index of the identity element: "no value yet"
_PICK = (
    "if (a.i == {none}) {{ return b; }}\n"
    "    if (b.i == {none}) {{ return a; }}\n"
    "    if (b.v {cmp} a.v || (b.v == a.v && b.i < a.i)) {{ return b; }}\n"
    "    return a;"
)
# op -> (IDENTITY, COMBINE) for shaders/reduce/pair.wgsl
KINDS = {
    "sum": (f"Pair(0.0, {_NONE})", "return Pair(a.v + b.v, 0u);"),
    "max": (f"Pair(0.0, {_NONE})", _PICK.format(none=_NONE, cmp=">")),
    "min": (f"Pair(0.0, {_NONE})", _PICK.format(none=_NONE, cmp="<")),
}
ROWS_WG = 256
ROWS_CHUNK = ROWS_WG * 16  # elements per workgroup in reduce_rows
TARGET_THREADS = 8192  # below this many outputs, reduce_cols splits R to keep the device busy
MIN_CHUNK = 64

_numpy_twins = {
    ("sum", False): lambda x, axis: np.sum(x, axis=axis, dtype=np.float64).astype(np.float32),
    ("mean", False): lambda x, axis: np.mean(x, axis=axis, dtype=np.float64).astype(np.float32),
    ("max", False): lambda x, axis: np.max(x, axis=axis),
    ("min", False): lambda x, axis: np.min(x, axis=axis),
    ("max", True): lambda x, axis: np.argmax(x, axis=axis).astype(np.int32),
    ("min", True): lambda x, axis: np.argmin(x, axis=axis).astype(np.int32),
}
_dummy: dict[int, Tensor] = {}


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
    if r == 0 and (kind != "sum" or index):
        raise ValueError(f"{name}: cannot reduce an empty axis (shape {x.shape}, axis {axis})")
    if device.pure:
        return pure.reduce(kind, index, x, outer, r, inner, out_shape)
    if not device.is_gpu:
        out = _numpy_twins[(kind, index)](x.host(), axis)
        return Tensor.wrap_numpy(np.asarray(out).reshape(out_shape), device)
    mean = kind == "mean"
    identity, combine = KINDS["sum" if mean else kind]
    if r == 0 or outer * inner == 0:
        from .elementwise import zeros

        return zeros(out_shape, "int32" if index else "float32", device)
    if device not in _dummy:
        _dummy[device] = Tensor.empty((4,), "uint32", device)
    values, indices, indexed = x, _dummy[device], False
    total = r
    while True:
        if inner == 1 and r >= ROWS_WG:
            chunks = -(-r // ROWS_CHUNK)
            chunk = -(-r // chunks)
            path, groups, wg = "reduce/reduce_rows.wgsl", outer * chunks, ROWS_WG
            params = {"rows": outer, "r": r, "chunks": chunks, "chunk": chunk}
        else:
            threads = outer * inner
            chunks = (
                1
                if threads >= TARGET_THREADS
                else builtins.max(1, builtins.min(-(-r // MIN_CHUNK), TARGET_THREADS // threads))
            )
            chunk = -(-r // chunks)
            chunks = -(-r // chunk)
            path, groups, wg = "reduce/reduce_cols.wgsl", -(-outer * chunks * inner // WG), WG
            params = {"outer": outer, "r": r, "inner": inner, "chunks": chunks, "chunk": chunk}
        params["scale"] = 1.0 / total if (mean and chunks == 1) else 1.0
        out = Tensor.empty((outer * chunks * inner,), "float32", device)
        out_idx = Tensor.empty((outer * chunks * inner,), "int32", device)
        kernel = device.kernel(path, WG=wg, INDEXED=indexed, IDENTITY=identity, COMBINE=combine)
        kernel(device.grid_1d(groups), params, x_in=values, x_idx=indices, out=out, out_idx=out_idx)
        if chunks == 1:
            return (out_idx if index else out).reshape(out_shape)
        values, indices, indexed, r = out, out_idx, True, chunks


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
