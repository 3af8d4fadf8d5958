"""Pure-Python twins: matmul and linear."""

from __future__ import annotations

from ...tensor import Tensor
from ._base import _out, _rows, dot, gather_index

# --- linear algebra -------------------------------------------------------------------------------------------------


def matmul(a: Tensor, b: Tensor, batch_shape, m: int, k: int, n: int, final_shape, kernel=None) -> Tensor:
    """(batch..., m, k) @ (batch..., k, n); batch dimensions of size 1 (or missing) broadcast."""
    av, bv = a.values(), b.values()
    a_batch = a.shape[:-2] if a.ndim > 2 else ()
    b_batch = b.shape[:-2] if b.ndim > 2 else ()
    nd = len(batch_shape)

    def starts(bshape, size):
        full = (1,) * (nd - len(bshape)) + tuple(bshape)
        strides, acc = [], size
        for d in reversed(full):
            strides.append(0 if d == 1 else acc)
            acc *= d
        return gather_index(batch_shape, strides[::-1])

    out = []
    for sa, sb in zip(starts(a_batch, m * k), starts(b_batch, k * n), strict=True):
        a_rows = _rows(av[sa : sa + m * k], m, k)
        b_cols = [bv[sb + j : sb + k * n : n] for j in range(n)]
        for row in a_rows:
            out.extend([dot(row, col) for col in b_cols])
    return _out(out, final_shape, a.device)


def linear(x: Tensor, w: Tensor, b: Tensor | None, relu: bool) -> Tensor:
    """x (N, in) @ w (out, in)^T + b, optionally ReLU: rows of x dotted with rows of w."""
    n, k = x.shape
    o = w.shape[0]
    xr, wr = _rows(x.values(), n, k), _rows(w.values(), o, k)
    bias = b.values() if b is not None else [0.0] * o
    out = []
    for row in xr:
        y = [dot(row, wrow) + bb for wrow, bb in zip(wr, bias, strict=True)]
        out.extend([v if v > 0 else 0.0 for v in y] if relu else y)
    return _out(out, (n, o), x.device)
