"""matmul and linear as numpy twins (BLAS)."""

from __future__ import annotations

import math

import numpy as np

from ...tensor import Tensor
from .threads import blas_single


def matmul(a: Tensor, b: Tensor, batch_shape, m: int, k: int, n: int, final_shape, kernel=None) -> Tensor:
    with blas_single(m * k * n * max(1, math.prod(batch_shape))):
        y = np.matmul(a.host(), b.host())
    return Tensor.wrap_numpy(y.reshape(final_shape), a.device)


def linear(x: Tensor, w: Tensor, b: Tensor | None, relu: bool) -> Tensor:
    xh, wh = x.host(), w.host()
    with blas_single(xh.size * wh.shape[0]):
        y = np.matmul(xh, wh.T)
    if b is not None:
        y += b.host()  # in place: the same sums, no temporaries
    if relu:
        np.maximum(y, 0, out=y)
    return Tensor.wrap_numpy(y.astype(np.float32, copy=False), x.device)
