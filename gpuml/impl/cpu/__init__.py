"""numpy twins of the ops, for the ``cpu`` backend (tensors hold contiguous numpy arrays)."""

from .elementwise import binary, fill, unary
from .layout import copy, copy_into, transpose
from .linalg import linear, matmul
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .reduce import reduce

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "binary",
    "copy",
    "copy_into",
    "fill",
    "linear",
    "matmul",
    "max_pool2d",
    "max_pool2d_backward",
    "reduce",
    "transpose",
    "unary",
]
