"""Layer kernels that are not general ops: fused softmax cross-entropy, dropout, batch-norm pieces.

Each runs its WGSL kernel on a GPU device and its numpy twin on the cpu device.
"""

from __future__ import annotations

from ..impl import python as pure
from ..ops._common import WG, operands, require_float
from ..tensor import Tensor

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None


def softmax_cross_entropy(logits, labels, *, mean: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Fused softmax + cross-entropy for (N, K) logits and (N,) int32 labels.

    Returns ``(row_loss, row_correct, grad)``: per-row loss (N,), 1.0 where argmax == label (N,), and the
    gradient of the (mean, when ``mean``) loss with respect to the logits (N, K). Sum ``row_loss`` on the
    device and read it back only when you want to see it.
    """
    device, (logits, labels) = operands(logits, labels)
    require_float("softmax_cross_entropy", logits)
    if labels.dtype_name not in ("int32", "uint32"):
        raise TypeError(f"softmax_cross_entropy: labels must be int32, got {labels.dtype_name}")
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"softmax_cross_entropy: logits (N, K) and labels (N,), got {logits.shape} and {labels.shape}")
    n, k = logits.shape
    scale = 1.0 / n if mean else 1.0
    if device.pure:
        return pure.softmax_cross_entropy(logits, labels, scale)
    if not device.is_gpu:
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
    row_loss = Tensor.empty((n,), "float32", device)
    row_correct = Tensor.empty((n,), "float32", device)
    grad = Tensor.empty((n, k), "float32", device)
    kernel = device.kernel("nn/softmax_xent.wgsl", WG=64)
    kernel(
        device.grid_1d(-(-n // 64)),
        {"n": n, "k": k, "grad_scale": scale},
        logits=logits,
        labels=labels,
        grad=grad,
        row_loss=row_loss,
        row_correct=row_correct,
    )
    return row_loss, row_correct, grad


def pcg_hash(v):
    """numpy twin of shaders/common/hash.wgsl (uint32 arithmetic, wrapping)."""
    v = np.asarray(v, dtype=np.uint32)
    state = v * np.uint32(747796405) + np.uint32(2891336453)
    word = ((state >> ((state >> np.uint32(28)) + np.uint32(4))) ^ state) * np.uint32(277803737)
    return (word >> np.uint32(22)) ^ word


def dropout(x, rate: float, seed: int) -> Tensor:
    """Inverted dropout with a mask that is a pure function of (seed, index): calling it again with the same
    seed on the gradient is the backward pass."""
    device, (x,) = operands(x)
    require_float("dropout", x)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    seed = int(seed) & 0xFFFFFFFF
    scale = 1.0 / (1.0 - rate)
    if device.pure:
        return pure.dropout(x, rate, seed, scale)
    if not device.is_gpu:
        with np.errstate(over="ignore"):
            idx = np.arange(x.size, dtype=np.uint32)
            h = pcg_hash(idx ^ pcg_hash(np.uint32(seed)))
        keep = (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0) >= np.float32(rate)
        out = np.where(keep.reshape(x.shape), x.host() * np.float32(scale), np.float32(0.0))
        return Tensor.wrap_numpy(out.astype(np.float32), device)
    out = Tensor.empty(x.shape, "float32", device)
    if x.size:
        kernel = device.kernel("nn/dropout.wgsl", WG=WG)
        kernel(
            device.grid_1d(-(-x.size // WG)),
            {"n": x.size, "seed": seed, "rate": rate, "scale": scale},
            x_in=x,
            out=out,
        )
    return out


def channel_affine(x, scale, shift) -> Tensor:
    """out[n, c, ...] = x[n, c, ...] * scale[c] + shift[c] for an (N, C, ...) tensor."""
    device, (x, scale, shift) = operands(x, scale, shift)
    c = x.shape[1]
    hw = x.size // (x.shape[0] * c) if x.size else 1
    if device.pure:
        return pure.channel_affine(x, scale, shift)
    if not device.is_gpu:
        shape = (1, c) + (1,) * (x.ndim - 2)
        out = x.host() * scale.host().reshape(shape) + shift.host().reshape(shape)
        return Tensor.wrap_numpy(out.astype(np.float32), device)
    out = Tensor.empty(x.shape, "float32", device)
    kernel = device.kernel("nn/channel_affine.wgsl", WG=WG)
    kernel(
        device.grid_1d(-(-x.size // WG)),
        {"n": x.size, "channels": c, "hw": hw},
        x_in=x,
        scale=scale,
        shift=shift,
        out=out,
    )
    return out


def batchnorm_input_grad(x, dy, mean, rstd, scale, dgamma, dbeta) -> Tensor:
    """dx of training-mode batch norm from per-channel statistics and reductions (see the kernel header)."""
    device, (x, dy, mean, rstd, scale, dgamma, dbeta) = operands(x, dy, mean, rstd, scale, dgamma, dbeta)
    c = x.shape[1]
    m = x.size // c
    if device.pure:
        return pure.batchnorm_input_grad(x, dy, mean, rstd, scale, dgamma, dbeta)
    if not device.is_gpu:
        shape = (1, c) + (1,) * (x.ndim - 2)

        def per_c(t):
            return t.host().reshape(shape)

        xhat = (x.host() - per_c(mean)) * per_c(rstd)
        out = per_c(scale) * (dy.host() - (per_c(dbeta) + xhat * per_c(dgamma)) / m)
        return Tensor.wrap_numpy(out.astype(np.float32), device)
    dx = Tensor.empty(x.shape, "float32", device)
    kernel = device.kernel("nn/batchnorm_backward.wgsl", WG=WG)
    kernel(
        device.grid_1d(-(-x.size // WG)),
        {"n": x.size, "channels": c, "hw": m // x.shape[0], "inv_m": 1.0 / m},
        x_in=x,
        dy=dy,
        mean=mean,
        rstd=rstd,
        scale=scale,
        dgamma=dgamma,
        dbeta=dbeta,
        dx=dx,
    )
    return dx
