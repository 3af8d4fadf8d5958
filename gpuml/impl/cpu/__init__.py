"""numpy twins of the ops, for the ``cpu`` backend (tensors hold contiguous numpy arrays)."""

from .elementwise import binary, fill, unary
from .layout import copy, copy_into, transpose
from .linalg import linear, matmul
from .reduce import reduce

__all__ = ["binary", "copy", "copy_into", "fill", "linear", "matmul", "reduce", "transpose", "unary"]
