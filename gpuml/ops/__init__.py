"""gpuml ops: numpy arrays or tensors in, tensors (on the same device) out.

Every public op validates its arguments once, then calls its device's implementation (``device.impl``): WGSL
kernels on the WebGPU backends (gpuml.impl.webgpu), numpy twins on ``cpu`` (gpuml.impl.cpu), pure-Python twins on
``python`` (gpuml.impl.python). Importing this package registers them and gives Tensor its operators.
"""

from .. import impl  # noqa: F401  (registers every backend's implementations)
from ..tensor import Tensor
from .conv import choose_conv_algo, conv2d, conv2d_backward, conv_autotune, last_conv_algo
from .elementwise import (
    abs,
    add,
    axpy,
    binary,
    broadcast_shape,
    clip,
    div,
    exp,
    full,
    leaky_relu,
    log,
    maximum,
    minimum,
    mul,
    neg,
    ones,
    relu,
    scale,
    sigmoid,
    sqrt,
    square,
    sub,
    tanh,
    unary,
    zeros,
)
from .layout import copy, copy_into, transpose
from .linalg import gemm, linear, matmul
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .reduce import argmax, argmin, max, mean, min, sum

Tensor.__add__ = add
Tensor.__radd__ = lambda self, other: add(other, self)
Tensor.__sub__ = sub
Tensor.__rsub__ = lambda self, other: sub(other, self)
Tensor.__mul__ = mul
Tensor.__rmul__ = lambda self, other: mul(other, self)
Tensor.__truediv__ = div
Tensor.__rtruediv__ = lambda self, other: div(other, self)
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)
Tensor.__neg__ = neg
Tensor.T = property(transpose, doc="The transpose (axes reversed), as a new tensor.")

__all__ = [
    "abs",
    "add",
    "argmax",
    "argmin",
    "avg_pool2d",
    "avg_pool2d_backward",
    "axpy",
    "binary",
    "broadcast_shape",
    "choose_conv_algo",
    "clip",
    "conv2d",
    "conv2d_backward",
    "conv_autotune",
    "copy",
    "copy_into",
    "div",
    "exp",
    "full",
    "gemm",
    "last_conv_algo",
    "leaky_relu",
    "linear",
    "log",
    "matmul",
    "max",
    "max_pool2d",
    "max_pool2d_backward",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "neg",
    "ones",
    "relu",
    "scale",
    "sigmoid",
    "sqrt",
    "square",
    "sub",
    "sum",
    "tanh",
    "transpose",
    "unary",
    "zeros",
]
