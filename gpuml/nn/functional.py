"""Layer kernels that are not general ops: fused softmax cross-entropy, dropout, batch-norm pieces, a linear layer's
weight gradient.

Validated here, computed by each backend (gpuml/impl/webgpu/nn.py runs shaders/nn/, impl/cpu/nn.py and
impl/python/nn.py are the numpy and pure-Python twins).
"""

from __future__ import annotations

from ..ops.validate import operands, require_float
from ..tensor import Tensor


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
    scale = 1.0 / logits.shape[0] if mean else 1.0
    return device.impl.softmax_cross_entropy(logits, labels, scale)


def pcg_hash(v):
    """numpy twin of shaders/common/hash.wgsl (uint32 arithmetic, wrapping); kept here for existing callers."""
    from ..impl.cpu.nn import pcg_hash

    return pcg_hash(v)


def dropout(x, rate: float, seed: int) -> Tensor:
    """Inverted dropout with a mask that is a pure function of (seed, index): calling it again with the same
    seed on the gradient is the backward pass."""
    device, (x,) = operands(x)
    require_float("dropout", x)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    return device.impl.dropout(x, rate, int(seed) & 0xFFFFFFFF, 1.0 / (1.0 - rate))


def channel_affine(x, scale, shift) -> Tensor:
    """out[n, c, ...] = x[n, c, ...] * scale[c] + shift[c] for an (N, C, ...) tensor."""
    device, (x, scale, shift) = operands(x, scale, shift)
    return device.impl.channel_affine(x, scale, shift)


def batchnorm_input_grad(x, dy, mean, rstd, scale, dgamma, dbeta) -> Tensor:
    """dx of training-mode batch norm from per-channel statistics and reductions (see the kernel header)."""
    device, ts = operands(x, dy, mean, rstd, scale, dgamma, dbeta)
    return device.impl.batchnorm_input_grad(*ts)


def linear_weight_grad(grad, x, out: Tensor) -> Tensor:
    """``out = grad.T @ x``: the weight gradient of a linear layer (grad (M, N), x (M, K)) written into ``out``
    (N, K), usually a view into the parameter store's gradient buffer (on WebGPU one GEMM stores there directly
    when M and K are multiples of 4). Returns ``out``."""
    device, (grad, x) = operands(grad, x)
    require_float("linear_weight_grad", grad, x)
    if grad.ndim != 2 or x.ndim != 2 or grad.shape[0] != x.shape[0]:
        raise ValueError(f"linear_weight_grad: grad (M, N) and x (M, K) must share M, got {grad.shape} and {x.shape}")
    shape = (grad.shape[1], x.shape[1])
    if not isinstance(out, Tensor) or out.device is not device or out.shape != shape:
        raise ValueError(f"linear_weight_grad: out must be a tensor of shape {shape} on the operands' device")
    require_float("linear_weight_grad", out)
    return device.impl.linear_weight_grad(grad, x, out)
