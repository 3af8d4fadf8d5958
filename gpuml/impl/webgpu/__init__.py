"""WebGPU implementations of the ops: host code that records WGSL kernels (``native`` and ``browser`` devices)."""

from .elementwise import binary, fill, unary
from .layout import copy, copy_into, transpose
from .linalg import gemm, linear, matmul
from .reduce import reduce

__all__ = ["binary", "copy", "copy_into", "fill", "gemm", "linear", "matmul", "reduce", "transpose", "unary"]
