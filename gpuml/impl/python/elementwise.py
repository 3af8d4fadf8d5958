"""Pure-Python twins: Elementwise ops, layout and reductions."""

from __future__ import annotations

import operator

from ...tensor import Tensor
from ._base import BINARY, UNARY, _fsum, _out, extreme_index, gather_index


# --- elementwise ----------------------------------------------------------------------------------------------------
def unary(op: str, x: Tensor, alpha: float, beta: float) -> Tensor:
    f = UNARY[op]
    if op == "relu":
        return _out([v if v > 0 or v != v else 0.0 for v in x.values()], x.shape, x.device)  # NaN stays NaN
    if op == "scale":
        return _out([v * alpha for v in x.values()], x.shape, x.device)
    return _out([f(v, alpha, beta) for v in x.values()], x.shape, x.device)


def binary(op: str, a: Tensor, b: Tensor, alpha: float, shape: tuple[int, ...], strides_a, strides_b) -> Tensor:
    f = BINARY[op]
    av, bv = a.values(), b.values()
    if a.shape != shape:
        av = [av[i] for i in gather_index(shape, strides_a)]
    if b.shape != shape:
        bv = [bv[i] for i in gather_index(shape, strides_b)]
    if op == "add":
        vals = list(map(operator.add, av, bv))
    elif op == "mul":
        vals = list(map(operator.mul, av, bv))
    elif op == "sub":
        vals = list(map(operator.sub, av, bv))
    else:
        vals = [f(p, q, alpha) for p, q in zip(av, bv, strict=True)]
    return _out(vals, shape, a.device)


def fill(out: Tensor, value) -> Tensor:
    out.words()[:] = Tensor.from_values([value] * out.size, out.shape, out.device, out.dtype_name).words()
    return out


# --- layout ---------------------------------------------------------------------------------------------------------
def transpose(x: Tensor, axes: tuple[int, ...], shape: tuple[int, ...], strides: list[int]) -> Tensor:
    vals = x.values()
    src = gather_index(shape, [strides[a] for a in axes])
    return _out([vals[i] for i in src], shape, x.device, x.dtype_name)


def copy_into(src: Tensor, dst: Tensor) -> Tensor:
    dst.words()[:] = src.words()
    return dst


def copy(x: Tensor) -> Tensor:
    return copy_into(x, Tensor.empty(x.shape, x.dtype_name, x.device))


# --- reductions -----------------------------------------------------------------------------------------------------
def reduce(kind: str, index: bool, x: Tensor, outer: int, r: int, inner: int, out_shape) -> Tensor:
    vals = x.values()
    rows = [vals[o * r * inner + i : (o + 1) * r * inner : inner] for o in range(outer) for i in range(inner)]
    if index:
        return _out([extreme_index(row, kind) for row in rows], out_shape, x.device, "int32")
    if kind in ("sum", "mean"):
        out = [_fsum(row) for row in rows]
        if kind == "mean":
            out = [v / r for v in out]
    else:
        out = [row[extreme_index(row, kind)] for row in rows]  # NaN if any, as np.max
    return _out(out, out_shape, x.device)
