"""Elementwise ops: one WGSL kernel per arity, the operation chosen from a fixed table of WGSL expressions.

Same-shape operands run vec4-wide (shaders/elementwise/unary.wgsl, binary.wgsl); operands of different
shapes broadcast as numpy does (binary_broadcast.wgsl). Each op's numpy twin sits in the same table.
"""

from __future__ import annotations

import math
import struct

from ..tensor import Tensor
from . import pure
from ._common import WG, contiguous_strides, operands, pad8, require_float, vec4_count

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

# name -> (WGSL expression in x: V and p.alpha / p.beta, numpy twin)
UNARY = {
    "neg": ("-x", lambda x, a, b: -x),
    "relu": ("max(x, V(0.0))", lambda x, a, b: np.maximum(x, 0)),
    "exp": ("exp(x)", lambda x, a, b: np.exp(x)),
    "log": ("log(x)", lambda x, a, b: np.log(x)),
    "sqrt": ("sqrt(x)", lambda x, a, b: np.sqrt(x)),
    "abs": ("abs(x)", lambda x, a, b: np.abs(x)),
    "square": ("x * x", lambda x, a, b: x * x),
    # tanh(x) = sign * (1 - e) / (1 + e) with e = exp(-2|x|): no overflow, unlike the exp(2x) formula
    # some WGSL compilers use (it returns NaN for x > ~44 there).
    "tanh": ("sign(x) * (1.0 - exp(-2.0 * abs(x))) / (1.0 + exp(-2.0 * abs(x)))", lambda x, a, b: np.tanh(x)),
    "sigmoid": ("1.0 / (1.0 + exp(-x))", lambda x, a, b: 1.0 / (1.0 + np.exp(-x))),
    "scale": ("x * p.alpha", lambda x, a, b: x * a),
    "add_scalar": ("x + p.alpha", lambda x, a, b: x + a),
    "rsub_scalar": ("p.alpha - x", lambda x, a, b: a - x),
    "rdiv_scalar": ("p.alpha / x", lambda x, a, b: a / x),
    "clip": ("clamp(x, V(p.alpha), V(p.beta))", lambda x, a, b: np.clip(x, a, b)),
    "leaky_relu": ("select(x * p.alpha, x, x > V(0.0))", lambda x, a, b: np.where(x > 0, x, x * a)),
    "rsqrt_eps": ("inverseSqrt(x + V(p.alpha))", lambda x, a, b: 1.0 / np.sqrt(x + a)),
}

# name -> (WGSL expression in a, b: V and p.alpha, numpy twin)
BINARY = {
    "add": ("a + b", lambda a, b, al: a + b),
    "sub": ("a - b", lambda a, b, al: a - b),
    "mul": ("a * b", lambda a, b, al: a * b),
    "div": ("a / b", lambda a, b, al: a / b),
    "maximum": ("max(a, b)", lambda a, b, al: np.maximum(a, b)),
    "minimum": ("min(a, b)", lambda a, b, al: np.minimum(a, b)),
    "axpy": ("p.alpha * a + b", lambda a, b, al: al * a + b),
    "add_relu": ("max(a + b, V(0.0))", lambda a, b, al: np.maximum(a + b, 0)),  # a layer's bias and ReLU at once
    # backward of activations, in terms of the incoming gradient a and the activation's output b
    "relu_grad": ("select(V(0.0), a, b > V(0.0))", lambda a, b, al: np.where(b > 0, a, 0)),
    "guided_relu_grad": (
        "select(V(0.0), a, (b > V(0.0)) & (a > V(0.0)))",
        lambda a, b, al: np.where((b > 0) & (a > 0), a, 0),
    ),
    "tanh_grad": ("a * (1.0 - b * b)", lambda a, b, al: a * (1 - b * b)),
    "sigmoid_grad": ("a * b * (1.0 - b)", lambda a, b, al: a * b * (1 - b)),
}


def _f32(value: float) -> float:
    """``value`` rounded to float32, so the numpy twin sees the constant the kernel sees."""
    return struct.unpack("<f", struct.pack("<f", float(value)))[0]


def unary(op: str, x, alpha: float = 0.0, beta: float = 0.0) -> Tensor:
    """Apply the elementwise op ``op`` (a key of :data:`UNARY`) to ``x``."""
    expr, twin = UNARY[op]
    device, (x,) = operands(x)
    T = require_float(op, x, half=True)
    if T == "f16" and "p." in expr:
        raise TypeError(f"{op} has no float16 variant (its scalar parameter is f32); use float32 tensors")
    alpha, beta = _f32(alpha), _f32(beta)
    if device.pure:
        return pure.unary(op, x, alpha, beta)
    if not device.is_gpu:
        with np.errstate(all="ignore"):
            out = twin(x.host(), np.float32(alpha), np.float32(beta)).astype(np.float32, copy=False)
        return Tensor.wrap_numpy(out, device)
    out = Tensor.empty(x.shape, x.dtype_name, device)
    n16 = -(-x.size // 16)
    if n16:
        kernel = device.kernel("elementwise/unary.wgsl", OP=expr, WG=WG, T=T)
        kernel(device.grid_1d(-(-n16 // WG)), {"n16": n16, "alpha": alpha, "beta": beta}, x_in=x, out=out)
    return out


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
    """Apply the elementwise op ``op`` (a key of :data:`BINARY`) with numpy broadcasting."""
    expr, twin = BINARY[op]
    # A Python scalar operand becomes a one-element tensor and broadcasts.
    device, (a, b) = operands(a, b)
    T = require_float(op, a, b, half=True)
    if T == "f16" and "p." in expr:
        raise TypeError(f"{op} has no float16 variant (its scalar parameter is f32); use float32 tensors")
    alpha = _f32(alpha)
    shape = broadcast_shape(a.shape, b.shape, op)
    if device.pure:
        strides = _broadcast_strides(a.shape, shape), _broadcast_strides(b.shape, shape)
        return pure.binary(op, a, b, alpha, shape, *strides)
    if not device.is_gpu:
        with np.errstate(all="ignore"):
            out = twin(a.host(), b.host(), np.float32(alpha))
        return Tensor.wrap_numpy(np.asarray(out, np.float32), device)
    out = Tensor.empty(shape, a.dtype_name, device)
    n = math.prod(shape)
    if n == 0:
        return out
    if a.shape == b.shape and T == "f32":  # float16 operands take the broadcasting kernel (templated on T)
        n16 = -(-n // 16)
        kernel = device.kernel("elementwise/binary.wgsl", OP=expr, WG=WG)
        kernel(device.grid_1d(-(-n16 // WG)), {"n16": n16, "alpha": alpha}, a_in=a, b_in=b, out=out)
        return out
    if len(shape) > 8:
        raise ValueError(f"{op}: broadcasting supports at most 8 dimensions, got {len(shape)}")
    params = {
        "n": n,
        "alpha": alpha,
        "shape": pad8(shape, 1),
        "stride_a": pad8(_broadcast_strides(a.shape, shape), 0),
        "stride_b": pad8(_broadcast_strides(b.shape, shape), 0),
    }
    kernel = device.kernel("elementwise/binary_broadcast.wgsl", OP=expr, WG=WG, T=T)
    kernel(device.grid_1d(-(-n // WG)), params, a_in=a, b_in=b, out=out)
    return out


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
    from ..backends import get_device

    device = get_device(device) if isinstance(device, str) or device is None else device
    out = Tensor.empty(shape, dtype, device)
    if device.pure:
        return pure.fill(out, value)
    if not device.is_gpu:
        out.host().fill(value)
        return out
    code = {"float32": "<f", "int32": "<i", "uint32": "<I"}[dtype]
    bits = struct.unpack("<I", struct.pack(code, value))[0]
    n4 = vec4_count(out.size)
    if n4:
        kernel = device.kernel("elementwise/fill.wgsl", WG=WG)
        kernel(device.grid_1d(-(-n4 // WG)), {"n4": n4, "bits": bits}, out=out)
    return out


def zeros(shape, dtype: str = "float32", device=None) -> Tensor:
    return full(shape, 0, dtype, device)


def ones(shape, dtype: str = "float32", device=None) -> Tensor:
    return full(shape, 1, dtype, device)
