"""numpy twins of the layer kernels of gpuml.nn (shaders/nn/)."""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor
from .threads import blas_single


def softmax_cross_entropy(logits: Tensor, labels: Tensor, scale: float) -> tuple[Tensor, Tensor, Tensor]:
    device = logits.device
    n, k = logits.shape
    z = logits.host().astype(np.float64)
    y = labels.host().astype(np.int64)
    if n and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"softmax_cross_entropy: labels must lie in [0, {k})")
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    grad = np.exp(logp)
    grad[rows, y] -= 1.0
    correct = (logits.host().argmax(axis=1) == y).astype(np.float32)
    return (
        Tensor.wrap_numpy((-logp[rows, y]).astype(np.float32), device),
        Tensor.wrap_numpy(correct, device),
        Tensor.wrap_numpy((grad * scale).astype(np.float32), device),
    )


def pcg_hash(v):
    """numpy twin of shaders/common/hash.wgsl (uint32 arithmetic, wrapping)."""
    v = np.asarray(v, dtype=np.uint32)
    state = v * np.uint32(747796405) + np.uint32(2891336453)
    word = ((state >> ((state >> np.uint32(28)) + np.uint32(4))) ^ state) * np.uint32(277803737)
    return (word >> np.uint32(22)) ^ word


def dropout(x: Tensor, rate: float, seed: int, scale: float) -> Tensor:
    with np.errstate(over="ignore"):
        idx = np.arange(x.size, dtype=np.uint32)
        h = pcg_hash(idx ^ pcg_hash(np.uint32(seed)))
    keep = (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0) >= np.float32(rate)
    out = np.where(keep.reshape(x.shape), x.host() * np.float32(scale), np.float32(0.0))
    return Tensor.wrap_numpy(out.astype(np.float32), x.device)


def _per_channel(t: Tensor, x: Tensor):
    return t.host().reshape((1, x.shape[1]) + (1,) * (x.ndim - 2))


def channel_affine(x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    out = x.host() * _per_channel(scale, x) + _per_channel(shift, x)
    return Tensor.wrap_numpy(out.astype(np.float32), x.device)


def batchnorm_input_grad(x, dy, mean, rstd, scale, dgamma, dbeta) -> Tensor:
    m = x.size // x.shape[1]
    xhat = (x.host() - _per_channel(mean, x)) * _per_channel(rstd, x)
    out = _per_channel(scale, x) * (dy.host() - (_per_channel(dbeta, x) + xhat * _per_channel(dgamma, x)) / m)
    return Tensor.wrap_numpy(out.astype(np.float32), x.device)


def linear_weight_grad(grad: Tensor, x: Tensor, out: Tensor) -> Tensor:
    """``out = grad.T @ x``, written into ``out`` (BLAS reads the transpose in place)."""
    gh, xh = grad.host(), x.host()
    with blas_single(gh.size * xh.shape[-1]):
        np.matmul(gh.T, xh, out=out.host())
    return out


# --- activations and losses with a backward of their own (twins of shaders/nn/gelu*.wgsl, leaky_relu_backward,
# mse_loss, bce_with_logits): float64 arithmetic, float32 results
def _erfc(v):
    """erfc on an array: scipy's (scikit-learn's dependency), imported on first use — importing scipy.special
    costs ~0.2 s, too much for ``import gpuml``; math.erfc per element where scipy is missing."""
    try:
        from scipy.special import erfc
    except ImportError:  # pragma: no cover - numpy alone
        import math

        erfc = np.vectorize(math.erfc, otypes=[np.float64])
    return erfc(v)


_SQRT_2_PI = np.sqrt(2.0 / np.pi)
_GELU_C = 0.044715


def _f32(values, device) -> Tensor:
    return Tensor.wrap_numpy(np.asarray(values).astype(np.float32), device)


def _tanh_gate(x):
    """sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the tanh form's 0.5 (1 + tanh u) without cancellation."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-2.0 * _SQRT_2_PI * (x + _GELU_C * x**3)))


def gelu(x: Tensor, approximate: str) -> Tensor:
    v = x.host().astype(np.float64)
    with np.errstate(invalid="ignore"):
        out = v * (_tanh_gate(v) if approximate == "tanh" else 0.5 * _erfc(-v / np.sqrt(2.0)))
    return _f32(out, x.device)


def gelu_backward(grad: Tensor, x: Tensor, approximate: str) -> Tensor:
    v = x.host().astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        if approximate == "tanh":
            s = _tanh_gate(v)
            d = s + v * s * (1.0 - s) * 2.0 * _SQRT_2_PI * (1.0 + 3.0 * _GELU_C * v * v)
        else:
            d = 0.5 * _erfc(-v / np.sqrt(2.0)) + v * np.exp(-0.5 * v * v) / np.sqrt(2.0 * np.pi)
        d = np.where(np.abs(v) > 20.0, (v > 0).astype(np.float64), d)  # the kernel's cut-off (avoids inf * 0)
        return _f32(grad.host() * d, x.device)


def leaky_relu_backward(grad: Tensor, x: Tensor, slope: float) -> Tensor:
    v = x.host()
    out = grad.host().astype(np.float64) * np.where(v > 0, 1.0, slope)
    return _f32(np.where(np.isnan(v), np.nan, out), x.device)  # a NaN input gives NaN, as in the kernel


def mse_loss(x: Tensor, target: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    d = x.host().astype(np.float64) - target.host()
    return _f32(d * d, x.device), _f32(2.0 * d * scale, x.device)


def bce_with_logits(x: Tensor, target: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    v, t = x.host().astype(np.float64), target.host().astype(np.float64)
    with np.errstate(invalid="ignore"):
        e = np.exp(-np.abs(v))
        loss = np.maximum(v, 0.0) - v * t + np.log1p(e)
        s = np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return _f32(loss, x.device), _f32((s - t) * scale, x.device)
