"""The op checks, defined once: run on the native, cpu and python backends (test_ops.py) and in headless Chromium
(browser/test_browser_ops.py). Each case names a ``gpuml.ops`` function (or, dotted, a function below ``gpuml``:
``nn.functional.gelu``), its arguments (float32 arrays
with sizes that are not multiples of the workgroup size, or Python scalars), a float64 numpy reference and a
tolerance kind from :data:`gpuml.testing.TOLERANCES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np


@dataclass
class Case:
    id: str
    op: str
    args: list
    reference: Callable
    tol: str
    kwargs: dict = field(default_factory=dict)

    def function(self) -> Callable:
        """The function under test: ``gpuml.ops.<op>``, or ``gpuml.<module>.<name>`` for a dotted ``op``."""
        return resolve_op(self.op)

    def expected(self) -> np.ndarray:
        args64 = [a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in self.args]
        with np.errstate(all="ignore"):  # NaN / Inf cases: numpy's results are the reference, its warnings noise
            return np.asarray(self.reference(*args64, **self.kwargs))


def resolve_op(op: str) -> Callable:
    """``"relu"`` -> gpuml.ops.relu, ``"nn.functional.gelu"`` -> gpuml.nn.functional.gelu (the page harness does the
    same)."""
    import importlib

    module, _, name = ("ops." + op if "." not in op else op).rpartition(".")
    return getattr(importlib.import_module("gpuml." + module), name)


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
    # linear: the fused small-batch kernel (M <= 8, K % 4 == 0: 1 and 4 rows per invocation) and the GEMM path
    for m, k, nn, relu in [(1, 400, 120, True), (1, 84, 10, False), (5, 20, 7, True), (8, 36, 33, False)]:
        args = [rand(m, k), rand(nn, k), rand(nn)]
        cases.append(Case(f"linear-{m}x{k}x{nn}", "linear", args, ref_linear, "matmul", {"relu": relu}))
    cases.append(Case("linear-gemm-nobias", "linear", [rand(13, 9), rand(6, 9)], ref_linear, "matmul", {"relu": True}))
    args = [rand(13, 9), rand(6, 9), rand(6)]  # GEMM path, bias and ReLU in one pass (add_relu)
    cases.append(Case("linear-gemm-bias-relu", "linear", args, ref_linear, "matmul", {"relu": True}))
    # K % 4 == 0 and M > 8: on CPU adapters one subgroup GEMM reading w transposed, bias / ReLU in its store
    for m, k, nn, bias, relu in [(64, 400, 120, True, True), (37, 84, 10, True, False), (13, 12, 6, False, True)]:
        args = [rand(m, k), rand(nn, k)] + ([rand(nn)] if bias else [])
        cases.append(Case(f"linear-transb-{m}x{k}x{nn}", "linear", args, ref_linear, "matmul", {"relu": relu}))
    cases += conv_cases(rand)
    cases += nn_cases(rand, n)
    cases += nonfinite_cases(rand, small)
    return cases


def ref_linear(x, w, b=None, relu=False):
    y = x @ w.T + (0.0 if b is None else b)
    return np.maximum(y, 0) if relu else y


# --- convolution and pooling (gpuml.ops.conv / gpuml.ops.pool) ------------------------------------------------------


def _pair(v):
    return (int(v), int(v)) if isinstance(v, int | float) else tuple(int(a) for a in v)


def ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, algo=None, relu=False):
    """float64 direct convolution (a sum over kernel taps of strided views of the zero-padded input)."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, _, h, wd = x.shape
    oc, cg, kh, kw = w.shape
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((n, oc, oh, ow))
    ocg = oc // groups
    for g in range(groups):
        xs, ws = xp[:, g * cg : (g + 1) * cg], w[g * ocg : (g + 1) * ocg]
        for i in range(kh):
            for j in range(kw):
                view = xs[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
                out[:, g * ocg : (g + 1) * ocg] += np.einsum("nchw,oc->nohw", view, ws[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return np.maximum(out, 0) if relu else out


def _ref_pool(x, kernel, stride=None, padding=0, kind="max"):
    (kh, kw), (ph, pw) = _pair(kernel), _pair(padding)
    sh, sw = _pair(kernel if stride is None else stride)
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh, ow = (x.shape[2] + 2 * ph - kh) // sh + 1, (x.shape[3] + 2 * pw - kw) // sw + 1
    views = [
        xp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] for i in range(kh) for j in range(kw)
    ]
    if kind == "max":
        return np.max(views, axis=0)
    # count_include_pad=True divisor: the window clipped to the padded input
    y0, x0 = np.arange(oh) * sh - ph, np.arange(ow) * sw - pw
    div = (np.minimum(y0 + kh, x.shape[2] + ph) - y0)[:, None] * (np.minimum(x0 + kw, x.shape[3] + pw) - x0)[None, :]
    return np.sum(views, axis=0) / div


def conv_cases(rand) -> list[Case]:
    """conv2d with every algorithm (odd sizes, channels not multiples of 4, stride 2, padding, groups, depthwise,
    fused bias+ReLU) and pooling forward; small enough for the browser."""
    cases = []
    configs = [
        ("3x3-pad1", (2, 3, 9, 11), (5, 3, 3, 3), {"padding": 1}),
        ("lenet-conv2", (2, 6, 14, 14), (16, 6, 5, 5), {}),
        ("stride2-groups", (2, 6, 9, 8), (8, 3, 3, 3), {"stride": 2, "padding": (1, 2), "groups": 2}),
        ("depthwise", (1, 5, 8, 7), (5, 1, 3, 3), {"padding": 1, "groups": 5}),
    ]
    for name, xs, ws, kw in configs:
        wino = ws[2:] == (3, 3) and "stride" not in kw
        for algo in ["direct", "im2col"] + (["winograd2", "winograd4"] if wino else []):
            tol = "matmul"  # F(4,3) measured <= 6e-6 of max|ref| here (bound 2e-5)
            args = [rand(*xs), rand(*ws) * np.float32(0.3), rand(ws[0])]
            cases.append(
                Case(f"conv2d-{name}-{algo}", "conv2d", args, ref_conv2d, tol, {**kw, "algo": algo, "relu": True})
            )
    x = rand(2, 3, 9, 10)
    cases.append(Case("max_pool2d-2", "max_pool2d", [x, 2], _ref_pool, "exact"))
    cases.append(Case("max_pool2d-3s2p1", "max_pool2d", [x, 3, 2, 1], _ref_pool, "exact"))
    avg = partial(_ref_pool, kind="avg")
    cases.append(Case("avg_pool2d-3s2p1", "avg_pool2d", [x, 3, 2, 1], avg, "reduction"))
    return cases


# --- NaN and +-Inf: numpy's semantics on every backend (issue 19) -----------------------------------------------------
NAN, INF = np.float32(np.nan), np.float32(np.inf)


def with_specials(x: np.ndarray, nan=(), pinf=(), ninf=(), zero=()) -> np.ndarray:
    """A copy of ``x`` with NaN, +Inf, -Inf and 0 at the given flat positions (negative ones count from the end)."""
    x = x.copy()
    flat = x.reshape(-1)
    for positions, value in ((nan, NAN), (pinf, INF), (ninf, -INF), (zero, np.float32(0.0))):
        for at in positions:
            flat[at] = value
    return x


def nonfinite_cases(rand, small: bool) -> list[Case]:
    """NaN, +Inf and -Inf at awkward positions for every elementwise op and reduction: first, last, inside a vec4
    and a mat4x4 block (lanes 1, 6, 9, 14 of the 16 the elementwise kernels map per invocation), and in the later
    chunks a chunked reduction combines in its second pass. References are numpy's (float64): relu(NaN) = NaN,
    max is NaN when any value is, argmax gives the first NaN, Inf - Inf = NaN, log(0) = -Inf, log(-1) = NaN."""
    n = 1003 if small else 20_003
    spots = {"nan": (0, 6, 14, n // 2 + 1, -1), "pinf": (1, 9, n // 3), "ninf": (-2, 17, 2 * n // 3)}
    x = with_specials(rand(n), **spots, zero=(3, 40))
    cases: list[Case] = []
    for name, (ref, tol, _) in UNARY_REFS.items():
        cases.append(Case(f"nan-{name}", name, [x], ref, tol))  # log / sqrt get negatives and zeros too
    cases.append(Case("nan-scale", "scale", [x, 2.5], lambda a, s: a * s, "elementwise"))
    cases.append(Case("nan-clip", "clip", [x, -0.5, 0.25], np.clip, "exact"))
    cases.append(Case("nan-leaky_relu", "leaky_relu", [x, 0.1], lambda a, s: np.where(a > 0, a, s * a), "elementwise"))
    # binary: NaN / Inf in a, in b, in both at the same spot; b has zeros (x / 0 = Inf, 0 / 0 = NaN)
    a = with_specials(rand(37, 29), nan=(0, 5, 500), pinf=(14, 700), ninf=(-1, 9))
    b = with_specials(rand(37, 29), nan=(5, 6, 900), pinf=(700, 1), ninf=(14, -3), zero=(2, 3, 10, 11))
    a_row = with_specials(rand(3, 1), nan=(1,))
    b_bc = with_specials(rand(5, 1, 7), nan=(0, 20), pinf=(3,), ninf=(-1,))
    for name, (ref, tol) in BINARY_REFS.items():
        cases.append(Case(f"nan-{name}-same", name, [a, b], ref, tol))
        cases.append(Case(f"nan-{name}-bcast", name, [b_bc, a_row], ref, tol))
    cases.append(Case("nan-add-scalar", "add", [x, 3.0], np.add, "elementwise"))
    cases.append(Case("nan-axpy", "axpy", [0.75, x, x[::-1].copy()], lambda s, p, q: s * p + q, "elementwise"))

    # reductions: every row holds one kind of special value somewhere else; long rows are reduced in chunks
    long = 9_001 if small else 70_001  # chunks of 4096 in reduce_rows: the specials of later chunks meet in pass 2
    shapes = {
        "rows": (6, 37),
        "long": (4, long),
        "cols": (2, 300, 3),  # axis 1: too few outputs, R split into chunks of 60 (second pass)
    }
    for tag, shape in shapes.items():
        r = shape[-1] if tag != "cols" else shape[1]
        v = rand(*shape)
        if tag == "cols":
            v[0, 250, 0] = NAN  # second chunk onwards
            v[0, 260, 0] = NAN
            v[1, 299, 1] = INF
            v[1, 70, 1] = -INF
            v[0, 130, 2] = INF
            v[0, 131, 2] = -INF  # Inf - Inf = NaN
            v[1, 0, 2] = NAN
            v[1, 1, 2] = INF
        else:
            v[0, 0] = NAN  # first
            v[1, r - 1] = NAN  # last
            v[2, r // 2] = INF  # in a later chunk
            v[2, r - 3] = NAN
            v[3, 5] = -INF
            v[3, r - 2] = INF  # Inf - Inf
        for axis in [None, *range(len(shape))]:
            for op in ("sum", "mean", "max", "min", "argmax", "argmin"):
                tol = "reduction" if op in ("sum", "mean") else "exact"
                cases.append(Case(f"nan-{op}-{tag}-axis{axis}", op, [v], getattr(np, op), tol, {"axis": axis}))
    # only +-Inf (no NaN): max / argmax pick the infinity, sums are +-Inf
    v = with_specials(rand(5, 33), pinf=(7, 40, 41), ninf=(0, 100, 164))
    for op in ("sum", "max", "min", "argmax", "argmin"):
        tol = "reduction" if op == "sum" else "exact"
        cases.append(Case(f"inf-{op}-rows", op, [v], getattr(np, op), tol, {"axis": 1}))
    # max pooling keeps a NaN inside its window (PyTorch's max_pool2d does), Inf wins over numbers
    p = with_specials(rand(2, 3, 8, 12), nan=(0, 13, 30, 31, 100, -1), pinf=(50, 51), ninf=(60, 200, 201, 212, 213))
    cases.append(Case("nan-max_pool2d-2", "max_pool2d", [p, 2], _ref_pool, "exact"))  # the 2x2 vec4 kernel
    cases.append(Case("nan-max_pool2d-3", "max_pool2d", [p[..., :9, :], 3], _ref_pool, "exact"))  # tiled
    cases.append(Case("nan-max_pool2d-3s2p1", "max_pool2d", [p, 3, 2, 1], _ref_pool, "exact"))  # general
    return cases


# --- layer kernels of gpuml.nn.functional (activations with their backward, losses) ----------------------------------
_F = "nn.functional."


def _normal_cdf(x):
    return 0.5 * np.vectorize(math.erfc)(-x / math.sqrt(2.0))


def ref_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return x * _normal_cdf(x)


def ref_gelu_backward(g, x, approximate="none"):
    if approximate == "tanh":
        u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        th = np.tanh(u)
        d = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th**2) * math.sqrt(2.0 / math.pi) * (1.0 + 3 * 0.044715 * x**2)
    else:
        d = _normal_cdf(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return g * d


def _reduce(v, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](v)


def ref_mse(x, t, reduction="mean"):
    return _reduce((x - t) ** 2, reduction)


def ref_mse_backward(x, t, reduction="mean"):
    return 2.0 * (x - t) / (x.size if reduction == "mean" else 1.0)


def ref_bce(x, t, reduction="mean"):
    # -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], written with logaddexp (float64, no overflow)
    return _reduce(t * np.logaddexp(0.0, -x) + (1.0 - t) * np.logaddexp(0.0, x), reduction)


def ref_bce_backward(x, t, reduction="mean"):
    return (np.exp(-np.logaddexp(0.0, -x)) - t) / (x.size if reduction == "mean" else 1.0)  # sigmoid, no overflow


def nn_cases(rand, n: int) -> list[Case]:
    """GELU (both forms), leaky ReLU backward, MSE and BCE-with-logits values and gradients (gpuml.nn.functional)."""
    cases = []
    x, g = rand(n) * np.float32(3.0), rand(n)
    for approx in ("none", "tanh"):
        kw = {"approximate": approx}
        cases.append(Case(f"gelu-{approx}-{n}", _F + "gelu", [x], ref_gelu, "transcendental", kw))
        ref = ref_gelu_backward
        cases.append(Case(f"gelu_backward-{approx}", _F + "gelu_backward", [g, x], ref, "transcendental", kw))
    leaky_ref = lambda g, x, a: np.where(x > 0, g, a * g)  # noqa: E731
    cases.append(Case("leaky_relu_backward", _F + "leaky_relu_backward", [g, x, 0.1], leaky_ref, "elementwise"))
    cases.append(Case("leaky_relu_backward-neg", _F + "leaky_relu_backward", [g, x, -0.5], leaky_ref, "elementwise"))
    pred, target = rand(37, 29), rand(37, 29)
    logits, probs = rand(37, 29) * np.float32(8.0), np.abs(rand(37, 29)) % np.float32(1.0)
    for reduction in ("mean", "sum", "none"):
        kw = {"reduction": reduction}
        tol = "reduction" if reduction != "none" else "elementwise"
        cases.append(Case(f"mse_loss-{reduction}", _F + "mse_loss", [pred, target], ref_mse, tol, kw))
        cases.append(
            Case(f"bce_logits-{reduction}", _F + "binary_cross_entropy_with_logits", [logits, probs], ref_bce,
                 "transcendental" if reduction == "none" else "reduction", kw)
        )  # fmt: skip
    for reduction in ("mean", "sum"):
        kw = {"reduction": reduction}
        cases.append(
            Case(f"mse_loss_backward-{reduction}", _F + "mse_loss_backward", [pred, target], ref_mse_backward,
                 "elementwise", kw)
        )  # fmt: skip
        cases.append(
            Case(f"bce_logits_backward-{reduction}", _F + "binary_cross_entropy_with_logits_backward",
                 [logits, probs], ref_bce_backward, "transcendental", kw)
        )  # fmt: skip
    return cases
