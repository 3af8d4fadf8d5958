"""The layer kernels of gpuml.nn on WebGPU (shaders/nn/): fused softmax cross-entropy, dropout, batch-norm pieces,
and the weight gradient of a linear layer written straight into the parameter store."""

from __future__ import annotations

from ...tensor import Tensor, contiguous_strides
from ._common import WG
from .layout import copy_into, transpose
from .linalg import gemm, matmul


def softmax_cross_entropy(logits: Tensor, labels: Tensor, scale: float) -> tuple[Tensor, Tensor, Tensor]:
    device = logits.device
    n, k = logits.shape
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


def dropout(x: Tensor, rate: float, seed: int, scale: float) -> Tensor:
    device = x.device
    out = Tensor.empty(x.shape, "float32", device)
    if x.size:
        kernel = device.kernel("nn/dropout.wgsl", WG=WG)
        params = {"n": x.size, "seed": seed, "rate": rate, "scale": scale}
        kernel(device.grid_1d(-(-x.size // WG)), params, x_in=x, out=out)
    return out


def channel_affine(x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    device = x.device
    c = x.shape[1]
    hw = x.size // (x.shape[0] * c) if x.size else 1
    out = Tensor.empty(x.shape, "float32", device)
    kernel = device.kernel("nn/channel_affine.wgsl", WG=WG)
    params = {"n": x.size, "channels": c, "hw": hw}
    kernel(device.grid_1d(-(-x.size // WG)), params, x_in=x, scale=scale, shift=shift, out=out)
    return out


def batchnorm_input_grad(x, dy, mean, rstd, scale, dgamma, dbeta) -> Tensor:
    device = x.device
    c = x.shape[1]
    m = x.size // c
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


def linear_weight_grad(grad: Tensor, x: Tensor, out: Tensor) -> Tensor:
    """``out = grad.T @ x`` for grad (M, N), x (M, K), out (N, K): with M and K multiples of 4 one GEMM writes
    straight into ``out`` (a view into the parameter store: no copy); otherwise a matmul and a copy."""
    m, n = grad.shape
    k = x.shape[1]
    gt = transpose(grad, (1, 0), (n, m), contiguous_strides(grad.shape))
    if m % 4 == 0 and k % 4 == 0:
        gemm(gt, x, out, n, k, m)
        return out
    return copy_into(matmul(gt, x, (), n, m, k, (n, k)), out)


# --- activations and losses with a backward of their own (shaders/nn/gelu*.wgsl, leaky_relu_backward.wgsl,
# mse_loss.wgsl, bce_with_logits.wgsl); one invocation per element


def _elementwise(path: str, inputs: dict, outputs: tuple[str, ...], params: dict | None = None, **template):
    first = next(iter(inputs.values()))
    device = first.device
    outs = {name: Tensor.empty(first.shape, "float32", device) for name in outputs}
    if first.size:
        kernel = device.kernel(path, WG=WG, **template)
        kernel(device.grid_1d(-(-first.size // WG)), {"n": first.size, **(params or {})}, **inputs, **outs)
    return tuple(outs.values())


def gelu(x: Tensor, approximate: str) -> Tensor:
    return _elementwise("nn/gelu.wgsl", {"x_in": x}, ("out",), TANH=str(approximate == "tanh").lower())[0]


def gelu_backward(grad: Tensor, x: Tensor, approximate: str) -> Tensor:
    tanh = str(approximate == "tanh").lower()
    return _elementwise("nn/gelu_backward.wgsl", {"dy": grad, "x_in": x}, ("dx",), TANH=tanh)[0]


def leaky_relu_backward(grad: Tensor, x: Tensor, slope: float) -> Tensor:
    inputs = {"dy": grad, "x_in": x}
    return _elementwise("nn/leaky_relu_backward.wgsl", inputs, ("dx",), {"slope": slope})[0]


def mse_loss(x: Tensor, target: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    inputs = {"x_in": x, "tgt": target}
    return _elementwise("nn/mse_loss.wgsl", inputs, ("loss", "grad"), {"grad_scale": scale})


def bce_with_logits(x: Tensor, target: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    inputs = {"x_in": x, "tgt": target}
    return _elementwise("nn/bce_with_logits.wgsl", inputs, ("loss", "grad"), {"grad_scale": scale})
