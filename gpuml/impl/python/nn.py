"""Pure-Python twins: the layer kernels of gpuml.nn.functional."""

from __future__ import annotations

import math
import struct

from ...tensor import Tensor
from ._base import _out, _rows
from .elementwise import copy_into, transpose
from .linalg import matmul


# --- layer kernels (gpuml.nn.functional) ----------------------------------------------------------------------------
def softmax_cross_entropy(logits: Tensor, labels: Tensor, scale: float):
    n, k = logits.shape
    z_rows = _rows(logits.values(), n, k)
    y = labels.values()
    if n and (min(y) < 0 or max(y) >= k):
        raise ValueError(f"softmax_cross_entropy: labels must lie in [0, {k})")
    loss, correct, grad = [], [], []
    for row, t in zip(z_rows, y, strict=True):
        m = max(row)
        e = [math.exp(v - m) for v in row]
        s = math.fsum(e)
        loss.append(math.log(s) - (row[t] - m))
        correct.append(1.0 if row.index(m) == t else 0.0)
        p = [v / s * scale for v in e]
        p[t] -= scale
        grad.extend(p)
    dev = logits.device
    return _out(loss, (n,), dev), _out(correct, (n,), dev), _out(grad, (n, k), dev)


def pcg_hash(v: int) -> int:
    """Pure twin of shaders/common/hash.wgsl (uint32 arithmetic, wrapping)."""
    state = (v * 747796405 + 2891336453) & 0xFFFFFFFF
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & 0xFFFFFFFF
    return (word >> 22) ^ word


def dropout(x: Tensor, rate: float, seed: int, scale: float) -> Tensor:
    rate32, scale = (struct.unpack("<f", struct.pack("<f", v))[0] for v in (rate, scale))  # the kernel's f32s
    s = pcg_hash(seed)
    out = []
    for i, v in enumerate(x.values()):
        keep = (pcg_hash(i ^ s) >> 8) * (1.0 / 16777216.0) >= rate32
        out.append(v * scale if keep else 0.0)
    return _out(out, x.shape, x.device)


def channel_affine(x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    c = x.shape[1]
    hw = x.size // (x.shape[0] * c) if x.size else 1
    sc, sh = scale.values(), shift.values()
    vals = x.values()
    out = []
    for i in range(0, x.size, hw):
        ch = (i // hw) % c
        a, b = sc[ch], sh[ch]
        out.extend([v * a + b for v in vals[i : i + hw]])
    return _out(out, x.shape, x.device)


def batchnorm_input_grad(x, dy, mean, rstd, scale, dgamma, dbeta) -> Tensor:
    c = x.shape[1]
    m = x.size // c
    hw = m // x.shape[0]
    mu, rs, sc, dg, db = (t.values() for t in (mean, rstd, scale, dgamma, dbeta))
    xv, dv = x.values(), dy.values()
    out = []
    for i in range(0, x.size, hw):
        ch = (i // hw) % c
        a, r, s, gg, bb = mu[ch], rs[ch], sc[ch], dg[ch], db[ch]
        out.extend([s * (d - (bb + (v - a) * r * gg) / m) for v, d in zip(xv[i : i + hw], dv[i : i + hw], strict=True)])
    return _out(out, x.shape, x.device)


def linear_weight_grad(grad: Tensor, x: Tensor, out: Tensor) -> Tensor:
    """``out = grad.T @ x`` for grad (M, N), x (M, K), out (N, K)."""
    m, n = grad.shape
    k = x.shape[1]
    gt = transpose(grad, (1, 0), (n, m), [n, 1])
    return copy_into(matmul(gt, x, (), n, m, k, (n, k)), out)
