"""Layer kernels that are not general ops: losses (softmax cross-entropy, MSE, BCE with logits: value and gradient
from one kernel), activations with their backward (GELU, leaky ReLU; sigmoid and tanh on the elementwise ops),
dropout, batch-norm pieces, a linear layer's weight gradient.

Validated here, computed by each backend (gpuml/impl/webgpu/nn.py runs shaders/nn/, impl/cpu/nn.py and
impl/python/nn.py are the numpy and pure-Python twins).
"""

from __future__ import annotations

from .. import ops
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


# --- activations (forward and backward as functions; the layers in gpuml.nn.activations use these) ------------------
GELU_APPROXIMATIONS = ("none", "tanh")


def relu(x) -> Tensor:
    return ops.relu(x)


def sigmoid(x) -> Tensor:
    return ops.sigmoid(x)


def tanh(x) -> Tensor:
    return ops.tanh(x)


def sigmoid_backward(grad, y) -> Tensor:
    """dx = grad * y * (1 - y) from the sigmoid's output ``y``."""
    return ops.binary("sigmoid_grad", grad, y)


def tanh_backward(grad, y) -> Tensor:
    """dx = grad * (1 - y^2) from the tanh's output ``y``."""
    return ops.binary("tanh_grad", grad, y)


def _approximate(approximate: str) -> str:
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


def gelu(x, approximate: str = "none") -> Tensor:
    """GELU as torch.nn.functional.gelu: ``x * Phi(x)`` with the exact normal CDF (``approximate="none"``, through
    erfc; accurate in the left tail too) or ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``
    (``approximate="tanh"``). shaders/nn/gelu.wgsl."""
    device, (x,) = operands(x)
    require_float("gelu", x)
    return device.impl.gelu(x, _approximate(approximate))


def gelu_backward(grad, x, approximate: str = "none") -> Tensor:
    """dx = grad * GELU'(x), from the GELU's input ``x``."""
    device, (grad, x) = operands(grad, x)
    require_float("gelu_backward", grad, x)
    _same_shape("gelu_backward", grad, x)
    return device.impl.gelu_backward(grad, x, _approximate(approximate))


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """``x`` where x > 0, ``negative_slope * x`` elsewhere (torch.nn.functional.leaky_relu)."""
    return ops.leaky_relu(x, negative_slope)


def leaky_relu_backward(grad, x, negative_slope: float = 0.01) -> Tensor:
    """dx = grad where x > 0, ``negative_slope * grad`` elsewhere, from the input ``x`` (so any slope works)."""
    device, (grad, x) = operands(grad, x)
    require_float("leaky_relu_backward", grad, x)
    _same_shape("leaky_relu_backward", grad, x)
    return device.impl.leaky_relu_backward(grad, x, float(negative_slope))


# --- losses: the value and its gradient with respect to the input from one kernel ------------------------------------
REDUCTIONS = ("mean", "sum", "none")


def _same_shape(op: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{op}: shapes must match (no broadcasting), got {a.shape} and {b.shape}")


def _loss(op: str, input, target, reduction: str, return_grad: bool):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    device, (input, target) = operands(input, target)
    require_float(op, input, target)
    _same_shape(op, input, target)
    scale = 1.0 / max(input.size, 1) if reduction == "mean" else 1.0
    terms, grad = getattr(device.impl, op)(input, target, scale)
    if reduction == "none":
        loss = terms
    else:
        loss = ops.mean(terms) if reduction == "mean" else ops.sum(terms)
    return (loss, grad) if return_grad else loss


def mse_loss(input, target, reduction: str = "mean", *, return_grad: bool = False):
    """Mean squared error ``(input - target)^2``, reduced as torch.nn.functional.mse_loss (``"mean"`` over every
    element, ``"sum"``, or ``"none"``: per element). With ``return_grad=True`` returns ``(loss, grad)``: the
    gradient of the (reduced; for "none", summed) loss with respect to ``input``, from the same kernel
    (shaders/nn/mse_loss.wgsl). The loss stays on the device: ``loss.item()`` reads it."""
    return _loss("mse_loss", input, target, reduction, return_grad)


def mse_loss_backward(input, target, reduction: str = "mean") -> Tensor:
    """The gradient of :func:`mse_loss` with respect to ``input``."""
    return _loss("mse_loss", input, target, reduction, True)[1]


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean", *, return_grad: bool = False):
    """Binary cross-entropy on logits, as torch.nn.functional.binary_cross_entropy_with_logits, in the stable form
    ``max(x, 0) - x t + log1p(exp(-|x|))`` (no overflow for any finite logit); targets are floats in [0, 1].
    Reductions and ``return_grad`` as :func:`mse_loss`; the gradient is ``(sigmoid(x) - t)`` scaled by the
    reduction (shaders/nn/bce_with_logits.wgsl)."""
    return _loss("bce_with_logits", input, target, reduction, return_grad)


def binary_cross_entropy_with_logits_backward(input, target, reduction: str = "mean") -> Tensor:
    """The gradient of :func:`binary_cross_entropy_with_logits` with respect to ``input``."""
    return _loss("bce_with_logits", input, target, reduction, True)[1]
