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


# --- activations and losses with a backward of their own (twins of shaders/nn/gelu*.wgsl, leaky_relu_backward,
# mse_loss, bce_with_logits)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = 0.044715


def _tanh_gate(x: float) -> float:
    """sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) (the tanh form without the cancellation of 1 + tanh u)."""
    try:
        u2 = 2.0 * _SQRT_2_PI * (x + _GELU_C * x**3)
    except OverflowError:
        u2 = math.copysign(math.inf, x)
    if u2 != u2:
        return math.nan
    return 1.0 / (1.0 + math.exp(-u2)) if u2 >= 0 else math.exp(u2) / (1.0 + math.exp(u2))


def _gelu(x: float, tanh: bool) -> float:
    return x * (_tanh_gate(x) if tanh else 0.5 * math.erfc(-x / math.sqrt(2.0)))


def _gelu_grad(x: float, tanh: bool) -> float:
    if x != x:
        return math.nan
    if abs(x) > 20.0:  # the kernel's cut-off (avoids inf * 0)
        return 1.0 if x > 0 else 0.0
    if tanh:
        s = _tanh_gate(x)
        return s + x * s * (1.0 - s) * 2.0 * _SQRT_2_PI * (1.0 + 3.0 * _GELU_C * x * x)
    return 0.5 * math.erfc(-x / math.sqrt(2.0)) + x * math.exp(-0.5 * x * x) * _INV_SQRT_2PI


def gelu(x: Tensor, approximate: str) -> Tensor:
    tanh = approximate == "tanh"
    return _out([_gelu(v, tanh) for v in x.values()], x.shape, x.device)


def gelu_backward(grad: Tensor, x: Tensor, approximate: str) -> Tensor:
    tanh = approximate == "tanh"
    out = [g * _gelu_grad(v, tanh) for g, v in zip(grad.values(), x.values(), strict=True)]
    return _out(out, x.shape, x.device)


def leaky_relu_backward(grad: Tensor, x: Tensor, slope: float) -> Tensor:
    out = [math.nan if v != v else (g if v > 0 else g * slope) for g, v in zip(grad.values(), x.values(), strict=True)]
    return _out(out, x.shape, x.device)


def mse_loss(x: Tensor, target: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    d = [a - b for a, b in zip(x.values(), target.values(), strict=True)]
    return _out([v * v for v in d], x.shape, x.device), _out([2.0 * v * scale for v in d], x.shape, x.device)


def _bce(v: float, t: float) -> tuple[float, float]:
    e = math.exp(-abs(v)) if v == v else math.nan
    s = 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)
    return max(v, 0.0) - v * t + math.log1p(e), s - t


def bce_with_logits(x: Tensor, target: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    pairs = [_bce(v, t) for v, t in zip(x.values(), target.values(), strict=True)]
    loss = _out([a for a, _ in pairs], x.shape, x.device)
    return loss, _out([b * scale for _, b in pairs], x.shape, x.device)
