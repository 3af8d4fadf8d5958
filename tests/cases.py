"""The op checks, defined once: run on the native and cpu backends (test_ops.py) and in headless Chromium
(browser/test_browser_ops.py). Each case names a ``gpuml.ops`` function, its arguments (float32 arrays
with sizes that are not multiples of the workgroup size, or Python scalars), a float64 numpy reference and a
tolerance kind from :data:`gpuml.testing.TOLERANCES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Case:
    id: str
    op: str
    args: list
    reference: Callable
    tol: str
    kwargs: dict = field(default_factory=dict)

    def expected(self) -> np.ndarray:
        args64 = [a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in self.args]
        return np.asarray(self.reference(*args64, **self.kwargs))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


UNARY_REFS = {
    "neg": (np.negative, "elementwise", None),
    "relu": (lambda x: np.maximum(x, 0.0), "exact", None),
    "exp": (np.exp, "transcendental", None),
    "log": (np.log, "transcendental", "positive"),
    "sqrt": (np.sqrt, "transcendental", "positive"),
    "abs": (np.abs, "exact", None),
    "square": (np.square, "elementwise", None),
    "tanh": (np.tanh, "transcendental", "wide"),
    "sigmoid": (_sigmoid, "transcendental", "wide"),
}

BINARY_REFS = {
    "add": (np.add, "elementwise"),
    "sub": (np.subtract, "elementwise"),
    "mul": (np.multiply, "elementwise"),
    "div": (np.divide, "elementwise"),
    "maximum": (np.maximum, "exact"),
    "minimum": (np.minimum, "exact"),
}


def make_cases(seed: int = 0, small: bool = False) -> list[Case]:
    """All op cases. ``small`` trims sizes for the browser (SwiftShader is slower, transfers are JSON)."""
    rng = np.random.default_rng(seed)

    def rand(*shape, kind=None):
        x = rng.standard_normal(shape).astype(np.float32)
        if kind == "positive":
            x = np.abs(x) + np.float32(0.1)
        elif kind == "wide":
            x = x * np.float32(30.0)  # reaches the saturated ends of tanh and sigmoid
        return x

    n = 1003 if small else 100_003  # not a multiple of 4, 64 or 256
    cases: list[Case] = []
    for name, (ref, tol, kind) in UNARY_REFS.items():
        cases.append(Case(f"{name}-{n}", name, [rand(n, kind=kind)], ref, tol))
    cases.append(Case("scale", "scale", [rand(7, 13), 2.5], lambda x, a: x * a, "elementwise"))
    cases.append(Case("clip", "clip", [rand(9, 11), -0.5, 0.25], np.clip, "exact"))
    cases.append(
        Case("leaky_relu", "leaky_relu", [rand(301), 0.1], lambda x, a: np.where(x > 0, x, a * x), "elementwise")
    )
    for name, (ref, tol) in BINARY_REFS.items():
        b_kind = "positive" if name == "div" else None
        cases.append(Case(f"{name}-same", name, [rand(37, 29), rand(37, 29, kind=b_kind)], ref, tol))
        cases.append(Case(f"{name}-bcast", name, [rand(5, 1, 7), rand(3, 1, kind=b_kind)], ref, tol))
    cases.append(Case("add-bias", "add", [rand(65, 10), rand(10)], np.add, "elementwise"))
    cases.append(Case("add-scalar", "add", [rand(17), 3.0], np.add, "elementwise"))
    cases.append(Case("rsub-scalar", "sub", [2.0, rand(17)], np.subtract, "elementwise"))
    cases.append(Case("axpy", "axpy", [0.75, rand(n), rand(n)], lambda a, x, y: a * x + y, "elementwise"))

    shapes = (
        [(1,), (257,), (33, 47), (3, 1000), (5, 7, 9)]
        if small
        else [(1,), (257,), (33, 47), (3, 70_001), (5, 7, 9), (2, 300, 3)]
    )
    for shape in shapes:
        x = rand(*shape)
        for axis in [None, *range(len(shape))]:
            tag = f"{'x'.join(map(str, shape))}-axis{axis}"
            cases.append(
                Case(f"sum-{tag}", "sum", [x], lambda a, axis=axis: np.sum(a, axis=axis), "reduction", {"axis": axis})
            )
            cases.append(
                Case(
                    f"mean-{tag}", "mean", [x], lambda a, axis=axis: np.mean(a, axis=axis), "reduction", {"axis": axis}
                )
            )
            cases.append(
                Case(f"max-{tag}", "max", [x], lambda a, axis=axis: np.max(a, axis=axis), "exact", {"axis": axis})
            )
            cases.append(
                Case(f"min-{tag}", "min", [x], lambda a, axis=axis: np.min(a, axis=axis), "exact", {"axis": axis})
            )
            cases.append(
                Case(
                    f"argmax-{tag}",
                    "argmax",
                    [x],
                    lambda a, axis=axis: np.argmax(a, axis=axis),
                    "exact",
                    {"axis": axis},
                )
            )
            cases.append(
                Case(
                    f"argmin-{tag}",
                    "argmin",
                    [x],
                    lambda a, axis=axis: np.argmin(a, axis=axis),
                    "exact",
                    {"axis": axis},
                )
            )
    ties = np.array([[1, 3, 3, 0], [2, 2, 2, 2]], np.float32)
    cases.append(Case("argmax-ties", "argmax", [ties], lambda a, axis: np.argmax(a, axis=axis), "exact", {"axis": 1}))
    cases.append(
        Case(
            "sum-keepdims",
            "sum",
            [rand(4, 6)],
            lambda a, axis, keepdims: np.sum(a, axis=axis, keepdims=keepdims),
            "reduction",
            {"axis": 1, "keepdims": True},
        )
    )

    cases.append(Case("transpose-2d", "transpose", [rand(33, 65)], np.transpose, "exact"))
    cases.append(
        Case(
            "transpose-4d",
            "transpose",
            [rand(3, 4, 5, 6)],
            lambda a, axes: np.transpose(a, axes),
            "exact",
            {"axes": (2, 0, 3, 1)},
        )
    )

    mm = [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 64, 64), (100, 257, 31)]
    if not small:
        mm += [(129, 300, 250)]
    for m, k, nn in mm:
        cases.append(Case(f"matmul-{m}x{k}x{nn}", "matmul", [rand(m, k), rand(k, nn)], np.matmul, "matmul"))
    cases.append(Case("matmul-batched", "matmul", [rand(3, 37, 19), rand(3, 19, 41)], np.matmul, "matmul"))
    cases.append(Case("matmul-bcast", "matmul", [rand(37, 19), rand(4, 19, 23)], np.matmul, "matmul"))
    cases.append(Case("matmul-vec", "matmul", [rand(13, 9), rand(9)], np.matmul, "matmul"))
    return cases
