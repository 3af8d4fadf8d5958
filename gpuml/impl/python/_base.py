"""Helpers of the pure-Python twins, for the ``python`` backend (no numpy, no WebGPU; see gpuml/backends/python.py).

Each function takes and returns python-backend tensors and follows the numpy twin's semantics (float32 storage,
float64 arithmetic in between). Hot loops are dot products over Python lists with ``math.sumprod`` (C speed on
Python >= 3.12, which Pyodide has), so convolution and matmul build rows (im2col patches, weight rows) and dot
them; everything else is list comprehensions. Correct first, fast enough for the browser page's small work.
"""

from __future__ import annotations

import math
import operator

from ...tensor import Tensor

try:
    dot = math.sumprod  # Python >= 3.12
except AttributeError:  # pragma: no cover - depends on the Python version

    def dot(a, b):
        return sum(map(operator.mul, a, b))


INF = math.inf


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def _log(x):
    if x > 0:
        return math.log(x)
    return -INF if x == 0 else math.nan


def _sqrt(x):
    return math.sqrt(x) if x >= 0 else math.nan


def _div(a, b):
    if b:
        return a / b
    if a != a or a == 0:
        return math.nan
    return math.copysign(INF, a) * math.copysign(1.0, b)


def _relu(x):
    return x if x > 0 or x != x else 0.0  # NaN stays NaN, as np.maximum(x, 0)


def _fsum(values) -> float:
    """Exactly rounded sum; Inf - Inf is NaN as in numpy (math.fsum raises there)."""
    try:
        return math.fsum(values)
    except (ValueError, OverflowError):
        return sum(values)


def extreme_index(row: list, kind: str) -> int:
    """np.argmax / np.argmin of a list: the first NaN if any, else the first extreme value."""
    for i, v in enumerate(row):
        if v != v:
            return i
    return row.index(max(row) if kind == "max" else min(row))


def _tanh(x):
    return math.tanh(x)


def _sigmoid(x):
    return 1.0 / (1.0 + _exp(-x))


# op name -> f(x, alpha, beta), the same table of ops as elementwise.UNARY
UNARY = {
    "neg": lambda x, a, b: -x,
    "relu": lambda x, a, b: _relu(x),
    "exp": lambda x, a, b: _exp(x),
    "log": lambda x, a, b: _log(x),
    "sqrt": lambda x, a, b: _sqrt(x),
    "abs": lambda x, a, b: abs(x),
    "square": lambda x, a, b: x * x,
    "tanh": lambda x, a, b: _tanh(x),
    "sigmoid": lambda x, a, b: _sigmoid(x),
    "scale": lambda x, a, b: x * a,
    "add_scalar": lambda x, a, b: x + a,
    "rsub_scalar": lambda x, a, b: a - x,
    "rdiv_scalar": lambda x, a, b: _div(a, x),
    "clip": lambda x, a, b: x if x != x else min(max(x, a), b),
    "leaky_relu": lambda x, a, b: x if x > 0 else x * a,
    "rsqrt_eps": lambda x, a, b: _div(1.0, _sqrt(x + a)),
}

# op name -> f(a, b, alpha), the same table as elementwise.BINARY
BINARY = {
    "add": lambda a, b, al: a + b,
    "sub": lambda a, b, al: a - b,
    "mul": lambda a, b, al: a * b,
    "div": lambda a, b, al: _div(a, b),
    "maximum": lambda a, b, al: a if a >= b or a != a else b,  # NaN wins, as numpy
    "minimum": lambda a, b, al: a if a <= b or a != a else b,
    "axpy": lambda a, b, al: al * a + b,
    "add_relu": lambda a, b, al: _relu(a + b),
    "relu_grad": lambda a, b, al: a if b > 0 else 0.0,
    "guided_relu_grad": lambda a, b, al: a if (b > 0 and a > 0) else 0.0,
    "tanh_grad": lambda a, b, al: a * (1.0 - b * b),
    "sigmoid_grad": lambda a, b, al: a * b * (1.0 - b),
}


def _out(values, shape, device, dtype="float32") -> Tensor:
    return Tensor.from_values(values, shape, device, dtype)


def gather_index(shape: tuple[int, ...], strides: list[int]) -> list[int]:
    """Flat source index of every element of ``shape`` (row-major) for per-axis ``strides`` (0 = broadcast)."""
    idx = [0]
    for d, s in zip(shape, strides, strict=True):
        steps = [k * s for k in range(d)]
        idx = [i + o for i in idx for o in steps]
    return idx


def _rows(vals: list, n_rows: int, length: int) -> list[list]:
    return [vals[i * length : (i + 1) * length] for i in range(n_rows)]
