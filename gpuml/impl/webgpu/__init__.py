"""WebGPU implementations of the ops: host code that records WGSL kernels (``native`` and ``browser`` devices)."""

from .elementwise import binary, fill, unary
from .layout import copy, copy_into, transpose
from .linalg import gemm, linear, matmul
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .reduce import reduce

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "binary",
    "copy",
    "copy_into",
    "fill",
    "gemm",
    "linear",
    "matmul",
    "max_pool2d",
    "max_pool2d_backward",
    "reduce",
    "transpose",
    "unary",
]
