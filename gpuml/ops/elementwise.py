"""Elementwise ops: validated here, computed by each backend's ``unary`` / ``binary`` / ``fill``
(gpuml/impl/webgpu/elementwise.py holds the WGSL expressions, impl/cpu and impl/python the twins).
Operands of different shapes broadcast as numpy does."""

from __future__ import annotations

import struct

from ..backends import get_device
from ..tensor import Tensor, contiguous_strides
from .validate import operands, require_float

# The op names; each backend implements every one (gpuml/impl/*/elementwise.py), tests/cases.py checks them all.
UNARY_OPS = (
    "neg", "relu", "exp", "log", "sqrt", "abs", "square", "tanh", "sigmoid",
    "scale", "add_scalar", "rsub_scalar", "rdiv_scalar", "clip", "leaky_relu", "rsqrt_eps",
)  # fmt: skip
BINARY_OPS = (
    "add", "sub", "mul", "div", "maximum", "minimum", "axpy",
    "add_relu",  # a layer's bias and ReLU at once
    # backward of activations, in terms of the incoming gradient a and the activation's output b
    "relu_grad", "guided_relu_grad", "tanh_grad", "sigmoid_grad",
)  # fmt: skip
# ops whose float16 form would need an f32 scalar parameter: float32 only
_NO_HALF = frozenset({"scale", "add_scalar", "rsub_scalar", "rdiv_scalar", "clip", "leaky_relu", "rsqrt_eps", "axpy"})


def _f32(value: float) -> float:
    """``value`` rounded to float32, so the numpy twin sees the constant the kernel sees."""
    return struct.unpack("<f", struct.pack("<f", float(value)))[0]


def unary(op: str, x, alpha: float = 0.0, beta: float = 0.0) -> Tensor:
    """Apply the elementwise op ``op`` (one of :data:`UNARY_OPS`) to ``x``."""
    if op not in UNARY_OPS:
        raise ValueError(f"unknown unary op {op!r}; choose one of {', '.join(UNARY_OPS)}")
    device, (x,) = operands(x)
    _check_half(op, require_float(op, x, half=True))
    return device.impl.unary(op, x, _f32(alpha), _f32(beta))


def _check_half(op: str, T: str) -> None:
    if T == "f16" and op in _NO_HALF:
        raise TypeError(f"{op} has no float16 variant (its scalar parameter is f32); use float32 tensors")


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...], op: str = "broadcast") -> tuple[int, ...]:
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da != db and 1 not in (da, db):
            raise ValueError(f"{op}: shapes {a} and {b} cannot be broadcast together")
        out.append(db if da == 1 else da)
    return tuple(reversed(out))


def _broadcast_strides(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[int]:
    strides = contiguous_strides(shape)
    full = [0] * (len(out_shape) - len(shape)) + [0 if s == 1 else st for s, st in zip(shape, strides, strict=True)]
    return full


def binary(op: str, a, b, alpha: float = 0.0) -> Tensor:
    """Apply the elementwise op ``op`` (one of :data:`BINARY_OPS`) with numpy broadcasting."""
    if op not in BINARY_OPS:
        raise ValueError(f"unknown binary op {op!r}; choose one of {', '.join(BINARY_OPS)}")
    # A Python scalar operand becomes a one-element tensor and broadcasts.
    device, (a, b) = operands(a, b)
    _check_half(op, require_float(op, a, b, half=True))
    shape = broadcast_shape(a.shape, b.shape, op)
    if len(shape) > 8:
        raise ValueError(f"{op}: broadcasting supports at most 8 dimensions, got {len(shape)}")
    strides = _broadcast_strides(a.shape, shape), _broadcast_strides(b.shape, shape)
    return device.impl.binary(op, a, b, _f32(alpha), shape, *strides)


def _scalar(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def add(a, b) -> Tensor:
    if _scalar(b):
        return unary("add_scalar", a, b)
    if _scalar(a):
        return unary("add_scalar", b, a)
    return binary("add", a, b)


def sub(a, b) -> Tensor:
    if _scalar(b):
        return unary("add_scalar", a, -b)
    if _scalar(a):
        return unary("rsub_scalar", b, a)
    return binary("sub", a, b)


def mul(a, b) -> Tensor:
    if _scalar(b):
        return unary("scale", a, b)
    if _scalar(a):
        return unary("scale", b, a)
    return binary("mul", a, b)


def div(a, b) -> Tensor:
    if _scalar(b):
        return unary("scale", a, 1.0 / b)
    if _scalar(a):
        return unary("rdiv_scalar", b, a)
    return binary("div", a, b)


def maximum(a, b) -> Tensor:
    return binary("maximum", a, b)


def minimum(a, b) -> Tensor:
    return binary("minimum", a, b)


def axpy(alpha: float, x, y) -> Tensor:
    """``alpha * x + y`` in one pass (BLAS axpy, returning a new tensor)."""
    return binary("axpy", x, y, alpha)


def neg(x) -> Tensor:
    return unary("neg", x)


def relu(x) -> Tensor:
    return unary("relu", x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    return unary("leaky_relu", x, negative_slope)


def exp(x) -> Tensor:
    return unary("exp", x)


def log(x) -> Tensor:
    return unary("log", x)


def sqrt(x) -> Tensor:
    return unary("sqrt", x)


def abs(x) -> Tensor:
    return unary("abs", x)


def square(x) -> Tensor:
    return unary("square", x)


def tanh(x) -> Tensor:
    return unary("tanh", x)


def sigmoid(x) -> Tensor:
    return unary("sigmoid", x)


def scale(x, alpha: float) -> Tensor:
    return unary("scale", x, alpha)


def clip(x, lo: float, hi: float) -> Tensor:
    if lo > hi:
        raise ValueError(f"clip: lower bound {lo} is above upper bound {hi}")
    return unary("clip", x, lo, hi)


def full(shape, value: float | int, dtype: str = "float32", device=None) -> Tensor:
    """A new tensor filled with ``value`` (computed on the device: nothing is uploaded)."""
    device = get_device(device) if isinstance(device, str) or device is None else device
    if dtype not in ("float32", "int32", "uint32"):
        raise TypeError(f"full: dtype must be float32, int32 or uint32, got {dtype}")
    return device.impl.fill(Tensor.empty(shape, dtype, device), value)


def zeros(shape, dtype: str = "float32", device=None) -> Tensor:
    return full(shape, 0, dtype, device)


def ones(shape, dtype: str = "float32", device=None) -> Tensor:
    return full(shape, 1, dtype, device)
