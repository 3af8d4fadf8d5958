"""Elementwise ops on WebGPU: one WGSL kernel per arity, the operation a WGSL expression from a fixed table.

Same-shape operands run vec4-wide (shaders/elementwise/unary.wgsl, binary.wgsl); operands of different shapes
broadcast as numpy does (binary_broadcast.wgsl).
"""

from __future__ import annotations

import math
import struct

from ...tensor import Tensor
from ._common import WG, pad8, vec4_count

# name -> WGSL expression in x: V and p.alpha / p.beta (the names of gpuml.ops.elementwise.UNARY_OPS)
UNARY = {
    "neg": "-x",
    "relu": "select(max(x, V(0.0)), x, nan_of(x))",  # max() may drop NaN: numpy keeps it
    "exp": "select(exp(x), x, nan_of(x))",  # SwiftShader: exp(NaN) = Inf
    "log": "log_np(x)",
    "sqrt": "sqrt(x)",
    "abs": "abs(x)",
    "square": "x * x",
    # tanh(x) = sign * (1 - e) / (1 + e) with e = exp(-2|x|): no overflow, unlike the exp(2x) formula
    # some WGSL compilers use (it returns NaN for x > ~44 there).
    "tanh": "select(sign(x) * (1.0 - exp(-2.0 * abs(x))) / (1.0 + exp(-2.0 * abs(x))), x, nan_of(x))",
    "sigmoid": "select(1.0 / (1.0 + exp(-x)), x, nan_of(x))",
    "scale": "x * p.alpha",
    "add_scalar": "x + p.alpha",
    "rsub_scalar": "p.alpha - x",
    "rdiv_scalar": "p.alpha / x",
    "clip": "select(clamp(x, V(p.alpha), V(p.beta)), x, nan_of(x))",
    "leaky_relu": "select(x * p.alpha, x, x > V(0.0))",
    "rsqrt_eps": "inverseSqrt(x + V(p.alpha))",
}

# name -> WGSL expression in a, b: V and p.alpha
BINARY = {
    "add": "a + b",
    "sub": "a - b",
    "mul": "a * b",
    "div": "a / b",
    "maximum": "select(select(max(a, b), b, nan_of(b)), a, nan_of(a))",
    "minimum": "select(select(min(a, b), b, nan_of(b)), a, nan_of(a))",
    "axpy": "p.alpha * a + b",
    "add_relu": "select(max(a + b, V(0.0)), a + b, nan_of(a + b))",
    "relu_grad": "select(V(0.0), a, b > V(0.0))",
    "guided_relu_grad": "select(V(0.0), a, (b > V(0.0)) & (a > V(0.0)))",
    "tanh_grad": "a * (1.0 - b * b)",
    "sigmoid_grad": "a * b * (1.0 - b)",
}


def unary(op: str, x: Tensor, alpha: float, beta: float) -> Tensor:
    expr = UNARY[op]
    T = "f16" if x.dtype_name == "float16" else "f32"
    if T == "f16" and "p." in expr:
        raise TypeError(f"{op} has no float16 variant (its scalar parameter is f32); use float32 tensors")
    device = x.device
    out = Tensor.empty(x.shape, x.dtype_name, device)
    n16 = -(-x.size // 16)
    if n16:
        kernel = device.kernel("elementwise/unary.wgsl", OP=expr, WG=WG, T=T)
        kernel(device.grid_1d(-(-n16 // WG)), {"n16": n16, "alpha": alpha, "beta": beta}, x_in=x, out=out)
    return out


def binary(op: str, a: Tensor, b: Tensor, alpha: float, shape: tuple[int, ...], strides_a, strides_b) -> Tensor:
    expr = BINARY[op]
    T = "f16" if a.dtype_name == "float16" else "f32"
    if T == "f16" and "p." in expr:
        raise TypeError(f"{op} has no float16 variant (its scalar parameter is f32); use float32 tensors")
    device = a.device
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
        "stride_a": pad8(strides_a, 0),
        "stride_b": pad8(strides_b, 0),
    }
    kernel = device.kernel("elementwise/binary_broadcast.wgsl", OP=expr, WG=WG, T=T)
    kernel(device.grid_1d(-(-n // WG)), params, a_in=a, b_in=b, out=out)
    return out


def fill(out: Tensor, value) -> Tensor:
    code = {"float32": "<f", "int32": "<i", "uint32": "<I"}[out.dtype_name]
    bits = struct.unpack("<I", struct.pack(code, value))[0]
    n4 = vec4_count(out.size)
    if n4:
        device = out.device
        kernel = device.kernel("elementwise/fill.wgsl", WG=WG)
        kernel(device.grid_1d(-(-n4 // WG)), {"n4": n4, "bits": bits}, out=out)
    return out
