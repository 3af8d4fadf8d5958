"""Elementwise ops as numpy twins (float32 results; warnings off, as the kernels give inf/nan silently)."""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor

# name -> f(x, alpha, beta) (the names of gpuml.ops.elementwise.UNARY_OPS)
UNARY = {
    "neg": lambda x, a, b: -x,
    "relu": lambda x, a, b: np.maximum(x, 0),
    "exp": lambda x, a, b: np.exp(x),
    "log": lambda x, a, b: np.log(x),
    "sqrt": lambda x, a, b: np.sqrt(x),
    "abs": lambda x, a, b: np.abs(x),
    "square": lambda x, a, b: x * x,
    "tanh": lambda x, a, b: np.tanh(x),
    "sigmoid": lambda x, a, b: 1.0 / (1.0 + np.exp(-x)),
    "scale": lambda x, a, b: x * a,
    "add_scalar": lambda x, a, b: x + a,
    "rsub_scalar": lambda x, a, b: a - x,
    "rdiv_scalar": lambda x, a, b: a / x,
    "clip": lambda x, a, b: np.clip(x, a, b),
    "leaky_relu": lambda x, a, b: np.where(x > 0, x, x * a),
    "rsqrt_eps": lambda x, a, b: 1.0 / np.sqrt(x + a),
}

# name -> f(a, b, alpha)
BINARY = {
    "add": lambda a, b, al: a + b,
    "sub": lambda a, b, al: a - b,
    "mul": lambda a, b, al: a * b,
    "div": lambda a, b, al: a / b,
    "maximum": lambda a, b, al: np.maximum(a, b),
    "minimum": lambda a, b, al: np.minimum(a, b),
    "axpy": lambda a, b, al: al * a + b,
    "add_relu": lambda a, b, al: np.maximum(a + b, 0),
    "relu_grad": lambda a, b, al: np.where(b > 0, a, 0),
    "guided_relu_grad": lambda a, b, al: np.where((b > 0) & (a > 0), a, 0),
    "tanh_grad": lambda a, b, al: a * (1 - b * b),
    "sigmoid_grad": lambda a, b, al: a * b * (1 - b),
}


def unary(op: str, x: Tensor, alpha: float, beta: float) -> Tensor:
    with np.errstate(all="ignore"):
        out = UNARY[op](x.host(), np.float32(alpha), np.float32(beta)).astype(np.float32, copy=False)
    return Tensor.wrap_numpy(out, x.device)


def binary(op: str, a: Tensor, b: Tensor, alpha: float, shape, strides_a, strides_b) -> Tensor:
    with np.errstate(all="ignore"):
        out = BINARY[op](a.host(), b.host(), np.float32(alpha))
    return Tensor.wrap_numpy(np.asarray(out, np.float32), a.device)


def fill(out: Tensor, value) -> Tensor:
    out.host().fill(value)
    return out
