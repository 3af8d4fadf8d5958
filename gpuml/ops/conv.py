"""2-D convolution on NCHW float32 batches: forward with four algorithms, backward, algorithm choice.

``conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, algo="auto", *, relu=False)``
    x: (N, C, H, W), w: (OC, C / groups, KH, KW), b: (OC,) or None -> (N, OC, OH, OW).
``conv2d_backward(x, w, grad_out, stride=1, padding=0, dilation=1, groups=1)``
    -> (grad_x, grad_w, grad_b) for the convolution *without* its fused ReLU (apply the ReLU mask to
    ``grad_out`` first, e.g. ``grad_out * (y > 0)``).
``last_conv_algo()``
    The algorithm the most recent ``conv2d`` call ran (``"direct" | "im2col" | "winograd2" | "winograd4"``).

Algorithms (WGSL in shaders/conv/, each with a numpy twin below that the cpu backend runs):

- ``direct`` (conv/direct.wgsl with OC_BLOCK = 4 / 8 / 16, conv/direct8x16.wgsl): register-blocked, 4 / 8 / 16
  output channels (8 and 16 on CPU adapters only) x 8 or 16 pixels of a row per invocation, the inputs sliding
  along the kernel row (stride = dilation = 1), weights packed as vec4s (conv/direct_wpack.wgsl) and staged in
  workgroup memory, bias and ReLU fused. On CPU adapters with OH * OW % 4 == 0 and OCg > 4 the forward runs
  conv/implicit.wgsl instead: an implicit GEMM (16 channels x 4 pixels per invocation, the inputs gathered inside
  the loop, no column matrix). The choice for depthwise / few channels per group, where a GEMM tile idles.
- ``im2col`` (conv/im2col.wgsl -> linalg ``gemm`` -> conv/bias_act.wgsl): the column matrix is written already
  padded for the GEMM kernels (K4 rows, images side by side as columns), one batched GEMM over the groups,
  then an epilogue back to NCHW with bias+ReLU.
- ``winograd2`` / ``winograd4``: F(2x2,3x3) / F(4x4,3x3) for 3x3, stride 1, dilation 1: input transform
  (conv/winograd_input.wgsl), weight transform on the device (conv/winograd_weight.wgsl), one batched GEMM over
  the 16 / 36 transform positions x groups, output transform with bias+ReLU (conv/winograd_output.wgsl).

Large batches are processed in chunks of images so that no temporary exceeds ``CHUNK_BYTES``.

``algo="auto"`` applies :func:`choose_conv_algo` (a rule from crossovers measured on lavapipe, see
benchmarks/RESULTS.md); with autotuning on (:func:`conv_autotune` or ``GPUML_CONV_AUTOTUNE=1``) it times every
applicable algorithm once per (adapter, shape) and caches the fastest.

Backward, two paths (both deterministic, no atomics):

- few channels (``Cg * OCg < 64``) or CPU adapters up to ``Cg * OCg = 1024``, when grad_out's planes hold whole
  vec4s (``OH * OW % 4 == 0``) and, for grad_x, stride 1 with ``padding <= dilation * (kernel - 1)``:
  grad_w and grad_b in one pass over S chunks of output pixels: on CPU adapters with subgroups, one group,
  ``OC <= 16``, ``KW <= 5`` and horizontal stride/dilation 1 (both LeNet convolutions) conv/grad_w_sg.wgsl (a
  lane per kernel row, dY shared by subgroupBroadcast); else conv/grad_w_rows.wgsl (``OCg <= 8``, horizontal
  stride/dilation 1, ``KW <= 8``, ``OW % 4 == 0``) or the implicit GEMM conv/grad_w.wgsl (gathers x inside the
  GEMM loop, bias as a constant-1 tap); then conv/grad_w_finish.wgsl sums the chunks (into ``out=`` views when
  given); grad_x = conv(grad_out, W flipped and transposed per group, padding dilation*(K-1) - padding) on
  conv/implicit_rows.wgsl on CPU adapters where it applies, else the direct kernels (the flip is in the weight
  packing). LeNet-5's two backward convolutions on lavapipe:
  ~20 dispatches -> 6, GPU time ~3x lower (no column matrices, no col2im).
- otherwise im2col + GEMM: grad_b = row sums of grad_out, grad_w = dY . cols^T (split-K over image columns when
  there are few groups), grad_x = col2im(W^T . dY) as a gather.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import astuple, dataclass

from ..impl import python as pure
from ..tensor import Tensor
from ._common import WG, operands, require_float

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

ALGOS = ("direct", "im2col", "winograd2", "winograd4")
# Temporaries (column matrix, Winograd V / M) above this size are split into chunks of images.
CHUNK_BYTES = 64 << 20
EPI_WG = 64  # workgroup of the 3-D-grid epilogue (rows of P outputs)
# Workgroup of the kernels with much work per invocation (direct*, grad_w*): LeNet's convolutions have only
# ~900-7000 such invocations; 256-wide workgroups gave lavapipe's 2 threads 4-28 tasks to share (one thread idles
# at the end of each dispatch), 64-wide ones 4x as many.
HEAVY_WG = 64

_state: dict = {"last": None}
_autotune: dict = {"enabled": os.environ.get("GPUML_CONV_AUTOTUNE") == "1", "cache": {}}


def last_conv_algo() -> str | None:
    """The algorithm the most recent :func:`conv2d` ran (None before the first call)."""
    return _state["last"]


def conv_autotune(enabled: bool = True, clear: bool = False) -> dict:
    """Turn autotuning of ``algo="auto"`` on or off; returns the cache {(adapter, shape key): algo}.

    When on, the first ``auto`` call for a shape on an adapter times each applicable algorithm (GPU timestamps,
    median of 3 after a warm-up) and every later call reuses the winner."""
    _autotune["enabled"] = enabled
    if clear:
        _autotune["cache"].clear()
    return _autotune["cache"]


@dataclass(frozen=True)
class ConvGeometry:
    N: int
    C: int
    H: int
    W: int
    OC: int
    G: int
    KH: int
    KW: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int

    @property
    def Cg(self) -> int:
        return self.C // self.G

    @property
    def OCg(self) -> int:
        return self.OC // self.G

    @property
    def OH(self) -> int:
        return (self.H + 2 * self.ph - self.dh * (self.KH - 1) - 1) // self.sh + 1

    @property
    def OW(self) -> int:
        return (self.W + 2 * self.pw - self.dw * (self.KW - 1) - 1) // self.sw + 1

    @property
    def P(self) -> int:
        return self.OH * self.OW

    @property
    def K(self) -> int:
        return self.Cg * self.KH * self.KW

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.OC, self.OH, self.OW)

    @property
    def flops(self) -> int:
        """Multiply-adds x 2 of the direct convolution (the figure GFLOP/s are quoted against)."""
        return 2 * self.N * self.OC * self.P * self.K

    @property
    def winograd_ok(self) -> bool:
        return (self.KH, self.KW, self.sh, self.sw, self.dh, self.dw) == (3, 3, 1, 1, 1, 1)

    def key(self) -> tuple:
        return astuple(self)

    def geometry_params(self) -> dict:
        return {"sh": self.sh, "sw": self.sw, "ph": self.ph, "pw": self.pw, "dh": self.dh, "dw": self.dw}

    def pick(self, *names: str) -> dict:
        """Uniform fields named like this geometry's attributes (C, H, W, OC, KH, ...), for a kernel's Params."""
        return {name: getattr(self, name) for name in names}


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"conv2d: {name} must be an int or a pair of ints, got {value!r}") from None
    if a < minimum or b < minimum:
        raise ValueError(f"conv2d: {name} must be >= {minimum}, got {(a, b)}")
    return a, b


def conv_geometry(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1, op: str = "conv2d") -> ConvGeometry:
    """Validate a convolution's shapes and hyper-parameters; errors name the problem."""
    if len(x_shape) != 4:
        raise ValueError(f"{op}: x must be NCHW (4-D), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"{op}: w must be (OC, C/groups, KH, KW), got shape {tuple(w_shape)}")
    n, c, h, w_ = x_shape
    oc, cg, kh, kw = w_shape
    groups = int(groups)
    if groups < 1 or c % groups or oc % groups:
        raise ValueError(f"{op}: groups={groups} must divide C={c} and OC={oc}")
    if cg != c // groups:
        raise ValueError(f"{op}: w has {cg} input channels per group, x has C/groups = {c}/{groups} = {c // groups}")
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    if min(kh, kw) < 1:
        raise ValueError(f"{op}: kernel size must be >= 1, got {kh}x{kw}")
    geom = ConvGeometry(n, c, h, w_, oc, groups, kh, kw, sh, sw, ph, pw, dh, dw)
    if geom.OH < 1 or geom.OW < 1:
        raise ValueError(
            f"{op}: the (dilated) {kh}x{kw} kernel does not fit the padded {h}x{w_} input "
            f"(padding {(ph, pw)}, dilation {(dh, dw)})"
        )
    return geom


# --- numpy twins (the cpu backend runs these; float32 like the kernels) ---------------------------------------

WINOGRAD = {}
if np is not None:
    WINOGRAD[2] = (
        np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64),
        np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64),
        np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64),
    )
    WINOGRAD[4] = (
        np.array(
            [
                [4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1],
            ],
            np.float64,
        ),
        np.array(
            [
                [1 / 4, 0, 0],
                [-1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6],
                [1 / 24, -1 / 12, 1 / 6],
                [0, 0, 1],
            ],
            np.float64,
        ),
        np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64),
    )


def _np_taps(x, g: ConvGeometry):
    """Yield (kh, kw, strided input view (N, C, OH, OW)) of the zero-padded input for every kernel tap."""
    xp = np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)))
    for kh in range(g.KH):
        for kw in range(g.KW):
            y0, x0 = kh * g.dh, kw * g.dw
            yield kh, kw, xp[:, :, y0 : y0 + g.sh * (g.OH - 1) + 1 : g.sh, x0 : x0 + g.sw * (g.OW - 1) + 1 : g.sw]


def _np_planes(x, g: ConvGeometry):
    """The zero-padded input as (N, C, Hp * Wp) planes in one flat buffer, followed by (KW - 1) * dw floats of
    slack so that a column window starting at the last plane's last tap stays inside the buffer."""
    hp, wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    buf = np.zeros(g.N * g.C * hp * wp + (g.KW - 1) * g.dw, x.dtype)
    buf[: g.N * g.C * hp * wp].reshape(g.N, g.C, hp, wp)[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = x
    return buf


def _np_row_width(g: ConvGeometry) -> int:
    """Columns per output row in the numpy twins' column layout: with stride 1 along W every output row spans the
    full padded width Wp (its last Wp - OW columns are garbage, never read back), so a tap's columns are one
    contiguous run of OH * Wp input floats per image: memcpy-speed copies, 2-4x faster than row-by-row ones of OW
    floats (LeNet conv1/conv2 at batch 64: 0.10/0.12 ms vs 0.23/0.38). Strided rows use the exact OW."""
    return g.W + 2 * g.pw if g.sw == 1 else g.OW


def np_cols(x, g: ConvGeometry):
    """The column matrix (G, K, N * OH * RW) of the im2col twins, k = (c, kh, kw), columns = (n, oh, ow) with RW =
    :func:`_np_row_width` columns per output row; one strided copy of the padded planes, tap-major."""
    buf, rw = _np_planes(x, g), _np_row_width(g)
    hp, wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    e = buf.itemsize
    plane = hp * wp * e
    view = np.lib.stride_tricks.as_strided(
        buf,
        (g.G, g.Cg, g.KH, g.KW, g.N, g.OH, rw),
        (g.Cg * plane, plane, g.dh * wp * e, g.dw * e, g.C * plane, g.sh * wp * e, g.sw * e),
        writeable=False,
    )
    cols = np.empty(view.shape, x.dtype)
    np.copyto(cols, view)
    return cols.reshape(g.G, g.K, g.N * g.OH * rw)


def _np_finish(y, b, relu: bool):
    """Bias and ReLU in two in-place passes over one contiguous output (``y`` may be a strided view of a GEMM's
    output)."""
    out = np.empty(y.shape, y.dtype)
    if b is not None:
        np.add(y, b.reshape(1, -1, 1, 1), out=out, casting="unsafe")
    else:
        np.copyto(out, y)
    if relu:
        np.maximum(out, 0, out=out)
    return out


def np_conv2d_direct(x, w, g: ConvGeometry):
    out = np.zeros((g.N, g.G, g.OCg, g.OH, g.OW), np.result_type(x, w))
    wg = w.reshape(g.G, g.OCg, g.Cg, g.KH, g.KW)
    for kh, kw, view in _np_taps(x, g):
        out += np.einsum("ngchw,goc->ngohw", view.reshape(g.N, g.G, g.Cg, g.OH, g.OW), wg[:, :, :, kh, kw])
    return out.reshape(g.out_shape)


def np_conv2d_im2col(x, w, g: ConvGeometry):
    y = np.matmul(w.reshape(g.G, g.OCg, g.K), np_cols(x, g))  # (G, OCg, N * OH * RW)
    return y.reshape(g.OC, g.N, g.OH, -1)[..., : g.OW].transpose(1, 0, 2, 3)


def np_conv2d_winograd(x, w, g: ConvGeometry, m: int):
    """F(m x m, 3 x 3) with the kernels' matrices, in the input's precision."""
    bt, gm, at = (a.astype(x.dtype) for a in WINOGRAD[m])
    alpha = m + 2
    th, tw = -(-g.OH // m), -(-g.OW // m)
    hp, wp = th * m + 2, tw * m + 2
    xp = np.zeros((g.N, g.C, hp, wp), x.dtype)
    src = x[:, :, : hp - g.ph, : wp - g.pw]
    xp[:, :, g.ph : g.ph + src.shape[2], g.pw : g.pw + src.shape[3]] = src
    s = xp.strides
    d = np.lib.stride_tricks.as_strided(
        xp, (g.N, g.C, th, tw, alpha, alpha), (s[0], s[1], s[2] * m, s[3] * m, s[2], s[3])
    )
    v = np.einsum("ai,nctuij,bj->abcntu", bt, d, bt).reshape(alpha * alpha, g.G, g.Cg, -1)
    u = np.einsum("ai,ocij,bj->aboc", gm, w.astype(x.dtype), gm).reshape(alpha * alpha, g.G, g.OCg, g.Cg)
    mm = np.matmul(u, v).reshape(alpha, alpha, g.OC, g.N, th, tw)
    y = np.einsum("ia,abontu,jb->ontuij", at, mm, at)  # (OC, N, th, tw, m, m)
    y = y.transpose(1, 0, 2, 4, 3, 5).reshape(g.N, g.OC, th * m, tw * m)
    return np.ascontiguousarray(y[:, :, : g.OH, : g.OW])


def np_conv2d(x, w, b, g: ConvGeometry, algo: str, relu: bool = False):
    """The numpy twin of ``conv2d`` for ``algo`` (float32 in, float32 out)."""
    if algo == "direct":
        out = np_conv2d_direct(x, w, g)
    elif algo == "im2col":
        out = np_conv2d_im2col(x, w, g)
    else:
        out = np_conv2d_winograd(x, w, g, 2 if algo == "winograd2" else 4)
    return _np_finish(out, b, relu).astype(x.dtype, copy=False)


def np_conv2d_backward(x, w, gy, g: ConvGeometry, input_grad: bool = True):
    """(grad_x or None, grad_w, grad_b) via im2col / col2im in the layout of :func:`np_cols`, in the inputs'
    precision. grad_out is spread over that layout with zeros in the garbage columns, so they add nothing to
    grad_w, and col2im adds exact zeros where a garbage column's window wraps into the next row or plane."""
    cols = np_cols(x, g)  # (G, K, N * OH * RW)
    rw = _np_row_width(g)
    gyr = np.zeros((g.G, g.OCg, g.N, g.OH, rw), gy.dtype)
    gyr[..., : g.OW] = gy.reshape(g.N, g.G, g.OCg, g.OH, g.OW).transpose(1, 2, 0, 3, 4)
    gyr = gyr.reshape(g.G, g.OCg, -1)
    grad_w = np.matmul(gyr, cols.transpose(0, 2, 1)).reshape(w.shape)
    grad_b = gy.sum(axis=(0, 2, 3))
    if not input_grad:
        return None, grad_w, grad_b
    dcols = np.matmul(w.reshape(g.G, g.OCg, g.K).transpose(0, 2, 1), gyr)  # (G, K, N * OH * RW)
    dcols = dcols.reshape(g.G, g.Cg, g.KH, g.KW, g.N, g.OH, rw)
    hp, wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    gbuf = np.zeros(g.N * g.C * hp * wp + (g.KW - 1) * g.dw, dcols.dtype)
    e = gbuf.itemsize
    plane = hp * wp * e
    strides = (g.Cg * plane, plane, g.C * plane, g.sh * wp * e, g.sw * e)
    for kh in range(g.KH):
        for kw in range(g.KW):  # col2im: every tap's columns added onto the padded planes they were read from
            start = kh * g.dh * wp + kw * g.dw
            np.lib.stride_tricks.as_strided(gbuf[start:], (g.G, g.Cg, g.N, g.OH, rw), strides)[...] += dcols[
                :, :, kh, kw
            ]
    gxp = gbuf[: g.N * g.C * hp * wp].reshape(g.N, g.C, hp, wp)
    grad_x = np.ascontiguousarray(gxp[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W])
    return grad_x, grad_w, grad_b


# --- algorithm choice ---------------------------------------------------------------------------------------------


def applicable_algos(g: ConvGeometry) -> tuple[str, ...]:
    return ALGOS if g.winograd_ok else ("direct", "im2col")


def choose_conv_algo(g: ConvGeometry, device=None) -> str:
    """The ``auto`` rule, from the crossovers of ``gpuml bench conv`` (benchmarks/RESULTS.md):

    1. CPU adapters (lavapipe, SwiftShader): 3x3 / stride 1 / dilation 1 with ``Cg, OCg >= 16``: Winograd,
       ``winograd4`` where the output is at least 8 x 8 (else ``winograd2``). Since the transforms were written
       out with constant indices (2026-11-30), lavapipe F(4,3) beats im2col 1.4-9x and F(2,3) 0.9-5.7x across 3x3
       C=16..128, 28x28 and 56x56, N=1..32 (min of 3, interleaved, load average 6-8), and the row kernel (direct)
       at C >= 16 in all but one shape;
    2. few channels per group (``Cg * OCg < 64``: LeNet conv1, depthwise; on CPU adapters ``Cg * OCg <= 256``,
       which takes LeNet conv2): ``direct`` — a GEMM tile would mostly idle and the column buffer costs more than
       the arithmetic. On CPU adapters ``direct`` runs conv/implicit_rows.wgsl where it applies (LeNet conv1/conv2
       N=64 5.2x/2.2x the previous kernels, which had beaten im2col 1.3-3.4x);
    3. other adapters (GPUs): 3x3 / stride 1 / dilation 1 with ``Cg, OCg >= 64`` and ``Cg * N * OH * OW >= 400k``
       (enough work per transform position): Winograd — ``winograd4`` when ``Cg >= 128`` and the batch has
       ``N*OH*OW >= 16384`` or ``OH*OW >= 3136``, else ``winograd2`` (the usual GPU crossovers; not yet measured on
       a GPU here);
    4. otherwise ``im2col`` (strided and dilated convolutions with many channels).
    The numpy backend always takes ``im2col``: one BLAS GEMM over its tap-major column matrix is its fastest twin in
    every shape measured (1 OpenBLAS thread, 2026-11-30: LeNet conv1/conv2 N=64 0.54/0.66 ms vs direct 4.3/3.3 ms;
    3x3 C=64 28x28 N=8 5.7 ms vs direct 54, winograd2 58, winograd4 74 — its Winograd twins are einsum chains).
    """
    if device is not None and not device.is_gpu:
        return "im2col"
    cpu = device is not None and _cpu_adapter(device)
    if cpu and g.winograd_ok and g.Cg >= 16 and g.OCg >= 16:
        return "winograd4" if g.OH >= 8 and g.OW >= 8 else "winograd2"
    if g.Cg * g.OCg < 64 or (cpu and g.Cg * g.OCg <= 256):
        return "direct"
    if g.winograd_ok and g.Cg >= 64 and g.OCg >= 64 and g.Cg * g.N * g.P >= 400_000:
        if g.Cg >= 128 and (g.N * g.P >= 16384 or g.P >= 3136):
            return "winograd4"
        return "winograd2"
    return "im2col"


# --- public ops ---------------------------------------------------------------------------------------------------


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, algo: str = "auto", *, relu: bool = False):
    """2-D cross-correlation (PyTorch's ``conv2d``) of NCHW ``x`` with ``w`` (OC, C/groups, KH, KW).

    ``stride``, ``padding`` (zeros) and ``dilation`` take an int or an (h, w) pair; ``groups`` splits the
    channels (``groups == C == OC`` is depthwise); ``b`` (OC,) is added and ``relu=True`` applies max(., 0), both
    fused into the last kernel. ``algo``: ``"direct" | "im2col" | "winograd2" | "winograd4" | "auto"``; the
    Winograd algorithms need a 3x3 kernel, stride 1 and dilation 1 (else ValueError). :func:`last_conv_algo`
    reports which algorithm ran.
    """
    tensors = (x, w) if b is None else (x, w, b)
    device, ts = operands(*tensors)
    x, w = ts[0], ts[1]
    b = ts[2] if b is not None else None
    T = require_float("conv2d", *ts, half=True)
    g = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    if T == "f16":
        # float16 (half-precision inference) runs the implicit GEMM, the one forward kernel templated on T so far
        if algo not in ("auto", "implicit") or g.P % 4:
            raise ValueError(
                f"conv2d: float16 tensors run only the implicit-GEMM kernel, which needs OH * OW % 4 == 0 "
                f"(got {g.OH}x{g.OW}) and algo='auto'; got algo={algo!r} — use float32 tensors"
            )
        _state["last"] = "implicit"
        if b is not None and b.shape != (g.OC,):
            raise ValueError(f"conv2d: bias must have shape ({g.OC},), got {b.shape}")
        return _implicit(device, g, x, w, b, relu)
    if b is not None and b.shape != (g.OC,):
        raise ValueError(f"conv2d: bias must have shape ({g.OC},), got {b.shape}")
    if algo not in (*ALGOS, "auto"):
        raise ValueError(f"conv2d: algo {algo!r} is not one of {', '.join((*ALGOS, 'auto'))}")
    if algo.startswith("winograd") and not g.winograd_ok:
        raise ValueError(
            f"conv2d: algo={algo!r} needs a 3x3 kernel, stride 1 and dilation 1; got kernel {g.KH}x{g.KW}, "
            f"stride {(g.sh, g.sw)}, dilation {(g.dh, g.dw)} (use 'im2col' or 'direct')"
        )
    if algo == "auto":
        algo = _auto(device, g, x, w, b, relu)
    _state["last"] = algo
    if device.pure:  # one algorithm there: a direct convolution (patches dotted with weight rows)
        _state["last"] = "direct"
        return pure.conv2d(x, w, b, g, relu)
    if not device.is_gpu:
        out = np_conv2d(x.host(), w.host(), None if b is None else b.host(), g, algo, relu)
        return Tensor.wrap_numpy(out, device)
    if g.N == 0:
        return Tensor.empty(g.out_shape, "float32", device)
    return _RUN[algo](device, g, x, w, b, relu)


def conv2d_backward(x, w, grad_out, stride=1, padding=0, dilation=1, groups=1, *, input_grad: bool = True, out=None):
    """Gradients of ``y = conv2d(x, w, b, ...)`` (without ReLU) given ``grad_out`` = dL/dy:
    returns (grad_x, grad_w, grad_b) as tensors on the device, shapes of x, w and (OC,).
    ``input_grad=False`` skips grad_x (returned as None): a network's first layer never needs it.
    ``out=(grad_w, grad_b)``: tensors (views allowed, e.g. a ParameterStore's gradients) that receive the weight
    and bias gradients, written in place by the last kernel where it can, else copied; they are returned."""
    gx, gw, gb = _conv2d_backward(x, w, grad_out, stride, padding, dilation, groups, input_grad, out)
    if out is not None:
        from .layout import copy_into

        for src, dst in zip((gw, gb), out, strict=True):
            if src is not dst:
                copy_into(src, dst)
        gw, gb = out
    return gx, gw, gb


def _conv2d_backward(x, w, grad_out, stride, padding, dilation, groups, input_grad, out):
    device, (x, w, gy) = operands(x, w, grad_out)
    require_float("conv2d_backward", x, w, gy)
    g = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups, "conv2d_backward")
    if gy.shape != g.out_shape:
        raise ValueError(f"conv2d_backward: grad_out must have the output's shape {g.out_shape}, got {gy.shape}")
    if device.pure:
        return pure.conv2d_backward(x, w, gy, g, input_grad)
    if not device.is_gpu:
        gx, gw, gb = np_conv2d_backward(x.host(), w.host(), gy.host(), g, input_grad)
        gx, gw, gb = (
            None if a is None else Tensor.wrap_numpy(a.astype(np.float32, copy=False), device) for a in (gx, gw, gb)
        )
        return gx, gw, gb
    return _backward_gpu(device, g, x, w, gy, input_grad, out)


# --- GPU implementations -----------------------------------------------------------------------------------------


def _grid(device, n: int):
    return device.grid_1d(-(-n // WG))


def _heavy_grid(device, n: int):
    return device.grid_1d(-(-n // HEAVY_WG))


def _r4(n: int) -> int:
    return -(-n // 4) * 4


def _chunks(n_images: int, bytes_per_image: int) -> list[tuple[int, int]]:
    per = max(1, CHUNK_BYTES // max(1, bytes_per_image))
    return [(n0, min(per, n_images - n0)) for n0 in range(0, n_images, per)]


def _dummy(device) -> Tensor:
    t = getattr(device, "_conv_dummy", None)
    if t is None or t.freed:
        t = Tensor.empty((4,), "float32", device)
        device._conv_dummy = t
    return t


def _flags(device, b, relu) -> tuple[Tensor, dict]:
    return (b if b is not None else _dummy(device)), {"has_bias": int(b is not None), "relu": int(bool(relu))}


def _direct(device, g: ConvGeometry, x, w, b, relu, wstrides=None, out=None):
    """conv/direct.wgsl over geometry ``g``; ``wstrides`` = (w_g, w_o, w_c, w_t0, w_ts) addresses the weights
    (default: w as (OC, Cg, KH, KW))."""
    out = Tensor.empty(g.out_shape, "float32", device) if out is None else out
    # channels per invocation (direct.wgsl's OC_BLOCK): 4, 8 or 16; each input load feeds that many FMAs.
    # The wide variants hold 64/128 accumulators per invocation: CPU adapters only (a GPU thread would spill).
    per = 4 if not _cpu_adapter(device) else 16 if g.OCg > 8 else 8 if g.OCg > 4 else 4
    # pixels per invocation: 16 (direct8x16.wgsl) when each invocation walks enough kernel rows to amortise its
    # 2x larger epilogue (lavapipe: LeNet conv2's grad_x, 16 x 5 rows, 1.14x; conv1 forward, 1 x 5 rows, 0.5x)
    px = 16 if per == 8 and g.OW > 8 and g.Cg * g.KH >= 16 else 8
    ocb, owb = per // 4 * -(-g.OCg // per), -(-g.OW // px)
    n = g.N * g.G * (ocb * 4 // per) * g.OH * owb
    bias, flags = _flags(device, b, relu)
    khw = g.KH * g.KW
    w_g, w_o, w_c, w_t0, w_ts = wstrides or (g.OCg * g.Cg * khw, g.Cg * khw, khw, 0, 1)
    params = {
        "n": n,
        **g.pick("C", "H", "W", "Cg", "OCg", "OC", "KH", "KW", "OH", "OW"),
        "OCB": ocb,
        "OWB": owb,
        "G": g.G,
        **g.geometry_params(),
        **flags,
        "wsh_max": 1024,  # vec4s of workgroup memory for staged weights (16 KiB, the WebGPU default limit)
    }
    wp = Tensor.empty((g.G * ocb, g.Cg, khw, 4), "float32", device)
    m = g.G * ocb * g.Cg * khw
    pack = {"n": m, "KHW": khw, "Cg": g.Cg, "OCB": ocb, "OCg": g.OCg, "w_g": w_g, "w_o": w_o, "w_c": w_c}
    pack.update({"w_t0": w_t0, "w_ts": w_ts})
    device.kernel("conv/direct_wpack.wgsl", WG=WG)(_grid(device, m), pack, w=w, wp=wp)
    if px == 16:
        kernel = device.kernel("conv/direct8x16.wgsl", WG=HEAVY_WG)
    else:
        kernel = device.kernel("conv/direct.wgsl", WG=HEAVY_WG, OC_BLOCK=per)
    kernel(_heavy_grid(device, n), params, x_in=x, wp=wp, bias=bias, out=out)
    wp.free()
    return out


def _implicit(device, g: ConvGeometry, x, w, b, relu):
    """Forward as an implicit GEMM (conv/implicit.wgsl); needs OH * OW % 4 == 0."""
    from ..impl.webgpu.linalg import pad2d as _pad2d

    k4, ocg16 = _r4(g.K), -(-g.OCg // 16) * 16
    wa = _pad2d(w, g.G, g.OCg, g.K, ocg16, k4)
    out = Tensor.empty(g.out_shape, x.dtype_name, device)
    T = "f16" if x.dtype_name == "float16" else "f32"
    rb = ocg16 // 16
    np4 = g.N * g.P // 4
    n = g.G * rb * np4
    bias, flags = _flags(device, b, relu)
    params = {
        "n": n,
        **g.pick("C", "H", "W", "Cg", "OCg", "OC", "KH", "KW", "K"),
        "K4": k4,
        "OW": g.OW,
        "P": g.P,
        "NP4": np4,
        "RB": rb,
        "OCg16": ocg16,
        **g.geometry_params(),
        **flags,
        "wsh_max": 1024,  # vec4s of workgroup memory for the staged weight rows (16 KiB)
    }
    kernel = device.kernel("conv/implicit.wgsl", WG=HEAVY_WG, T=T)
    kernel(_heavy_grid(device, n), params, x_in=x, wa=wa, bias=bias, out=out)
    wa.free()
    return out


def _rows_ok(device, g: ConvGeometry) -> bool:
    """conv/implicit_rows.wgsl applies: one group, stride and dilation 1 across, KW <= 5, subgroups, f32."""
    groups = -(-g.N * g.OH * -(-g.OW // 4) // 8)
    limit = int(device.limits.get("max_compute_workgroups_per_dimension", 65535))
    if not (g.G == 1 and g.sw == 1 and g.dw == 1 and g.KW <= 5 and "subgroup" in device.features and groups <= limit):
        return False
    return _subgroup_lanes(device) >= 4


def _implicit_rows(device, g: ConvGeometry, x, w, b, relu, wstrides=None, out=None):
    """Forward on conv/implicit_rows.wgsl: a window sliding along input rows, weights shared by subgroupBroadcast.
    ``wstrides`` = (w_o, w_c, w_t0, w_ts) addresses the weights (default: w as (OC, C, KH, KW))."""
    khw = g.KH * g.KW
    w_o, w_c, w_t0, w_ts = wstrides or (g.C * khw, khw, 0, 1)
    m = g.OC * g.C * g.KH * 8
    wp = Tensor.empty((g.OC, g.C, g.KH, 8), "float32", device)
    pack = {"n": m, "Cg": g.C, "KH": g.KH, "KW": g.KW, "w_o": w_o, "w_c": w_c, "w_t0": w_t0, "w_ts": w_ts}
    device.kernel("conv/rows_wpack.wgsl", WG=WG)(_grid(device, m), pack, w=w, wp=wp)
    out = Tensor.empty(g.out_shape, "float32", device) if out is None else out
    owq = -(-g.OW // 4)
    npx = g.N * g.OH * owq
    tile = 8 if g.OC <= 8 else 16
    bias, flags = _flags(device, b, relu)
    params = {"npx": npx, **g.pick("C", "H", "W", "OC", "KH", "OH", "OW"), "OWq": owq, **flags}
    params.update(sh=g.sh, ph=g.ph, pw=g.pw, dh=g.dh)
    lanes = 8 if _subgroup_lanes(device) >= 8 else 4
    kernel = device.kernel("conv/implicit_rows.wgsl", ROWS=tile, LANES=lanes)
    kernel((-(-npx // 8), -(-g.OC // tile), 1), params, x_in=x, wp=wp, bias=bias, out=out)
    wp.free()
    return out


def _run_direct(device, g: ConvGeometry, x, w, b, relu):
    # CPU adapters: the row-sliding implicit GEMM (conv/implicit_rows.wgsl) where it applies; lavapipe, GPU time,
    # interleaved min of 7 on a loaded machine: LeNet conv1 N=64 5.2x, conv2 2.2x, 3x3 C16 28x28 N=8 1.2x the
    # implicit.wgsl/direct kernels below
    if _cpu_adapter(device) and x.dtype_name == "float32" and _rows_ok(device, g):
        return _implicit_rows(device, g, x, w, b, relu)
    # otherwise the implicit GEMM (conv/implicit.wgsl) where its vec4 pixel blocks fit (OH * OW % 4 == 0) and
    # its 16-row tile is at least a third used (OCg > 4); lavapipe, GPU time: LeNet conv1 1.05x, conv2 1.47x direct8/16
    if _cpu_adapter(device) and g.P % 4 == 0 and g.OCg > 4:
        return _implicit(device, g, x, w, b, relu)
    return _direct(device, g, x, w, b, relu)


def _direct_grad_x_ok(g: ConvGeometry) -> bool:
    """grad_x as a direct convolution of grad_out needs stride 1 and padding <= dilation * (kernel - 1)."""
    return g.sh == 1 and g.sw == 1 and g.ph <= g.dh * (g.KH - 1) and g.pw <= g.dw * (g.KW - 1)


def _direct_grad_x(device, g: ConvGeometry, w, gy, gx):
    """grad_x of a stride-1 convolution = conv(grad_out, W flipped and transposed per group) with padding
    dilation * (K - 1) - padding, on conv/direct.wgsl (the flip/transpose is in the weight addressing)."""
    t = ConvGeometry(
        g.N, g.OC, g.OH, g.OW, g.C, g.G, g.KH, g.KW, 1, 1,
        g.dh * (g.KH - 1) - g.ph, g.dw * (g.KW - 1) - g.pw, g.dh, g.dw,
    )  # fmt: skip
    khw = g.KH * g.KW
    if _cpu_adapter(device) and _rows_ok(device, t):
        return _implicit_rows(device, t, gy, w, None, False, (khw, g.C * khw, khw - 1, -1), out=gx)
    wstrides = (g.OCg * g.Cg * khw, khw, g.Cg * khw, khw - 1, -1)
    return _direct(device, t, gy, w, None, False, wstrides, out=gx)


def _tap_params(g: ConvGeometry, n: int, k4: int, npc: int, nimg: int, n0: int) -> dict:
    return {
        "n": n,
        **g.pick("C", "H", "W", "Cg", "KH", "KW", "K"),
        "K4": k4,
        "OW": g.OW,
        "P": g.P,
        "NP": nimg * g.P,
        "NPc": npc,
        "n0": n0,
        **g.geometry_params(),
    }


def _row_layout(g: ConvGeometry) -> int:
    """Output columns per row in the column matrix: OW rounded up to 4 when that lets conv/im2col.wgsl slide a
    window along input rows (stride and dilation 1 across; at most 25% padding columns), else OW."""
    owc = _r4(g.OW)
    return owc if g.sw == 1 and g.dw == 1 and owc * 4 <= g.OW * 5 else g.OW


def _im2col(
    device, g: ConvGeometry, x, k4: int, npc: int, nimg: int, n0: int, owc: int | None = None, blk: int = 0
) -> Tensor:
    """The column matrix (G, K4, NPc) of images n0 .. n0 + nimg (shaders/conv/im2col.wgsl); ``owc`` columns per
    output row (default OW; see _row_layout); ``blk`` > 0 (one group): blocks of ``blk`` columns, each block's K4
    rows contiguous (NPc / blk, K4, blk)."""
    owc = owc or g.OW
    cols = Tensor.empty((g.G, k4, npc), "float32", device)
    # channel blocks: enough invocations to fill the cores (>= ~2048), each walking CPB channels' taps
    cb = max(1, min(g.Cg, -(-2048 // (g.G * npc // 4))))
    cpb = -(-g.Cg // cb)
    cb = -(-g.Cg // cpb)
    n = g.G * cb * npc // 4
    params = {**_tap_params(g, n, k4, npc, nimg, n0), "CPB": cpb, "CB": cb, "OWc": owc, "Pc": g.OH * owc}
    params["NP"] = nimg * g.OH * owc
    device.kernel("conv/im2col.wgsl", WG=WG, BLK=blk // 4)(_grid(device, n), params, x_in=x, cols=cols)
    return cols


def _weights_k4(w: Tensor, g: ConvGeometry) -> Tensor:
    """w as the GEMM A operand: (OC, K4) with zero columns K..K4."""
    from ..impl.webgpu.linalg import pad2d as _pad2d

    k4 = _r4(g.K)
    return w.reshape(g.OC, g.K) if k4 == g.K else _pad2d(w, 1, g.OC, g.K, g.OC, k4)


def _run_im2col(device, g: ConvGeometry, x, w, b, relu):
    from ..impl.webgpu.linalg import gemm, gemm_kernel_for

    k4 = _r4(g.K)
    wa = _weights_k4(w, g)
    out = Tensor.empty(g.out_shape, "float32", device)
    bias, flags = _flags(device, b, relu)
    owc = _row_layout(g)
    pc = g.OH * owc
    # short A (<= 16 output channels, one group) on the subgroup GEMM: blocked columns, one GEMM per 64-column block
    # (the B operand is streamed once with no reuse across row tiles; contiguous blocks are 1.8x faster on lavapipe)
    blk = 64 if g.G == 1 and g.OC <= 16 and gemm_kernel_for(device) == "subgroup" else 0
    if blk and -(-g.N * pc // blk) > int(device.limits.get("max_compute_workgroups_per_dimension", 65535)):
        blk = 0  # one GEMM batch element per block: keep within the grid limit
    for n0, nimg in _chunks(g.N, 4 * g.G * k4 * pc + 4 * g.OC * pc):
        npc = -(-nimg * pc // blk) * blk if blk else _r4(nimg * pc)
        cols = _im2col(device, g, x, k4, npc, nimg, n0, owc, blk)
        y = Tensor.empty((g.OC, npc), "float32", device)
        if blk:
            gemm(wa, cols, y, g.OC, blk, k4, batch=npc // blk, stride_a=0, stride_b=k4 * blk, stride_c=g.OC * blk)
        else:
            gemm(wa, cols, y, g.OCg, npc, k4, batch=g.G, stride_a=g.OCg * k4, stride_b=k4 * npc, stride_c=g.OCg * npc)
        cols.free()
        if not blk and g.N == 1 and npc == g.P and not flags["has_bias"] and not flags["relu"]:
            out.free()
            return y.reshape(g.out_shape)  # one image, one group's rows after another: already NCHW
        params = {"OC": g.OC, "P": g.P, "OW": g.OW, "OWc": owc, "Pc": pc, "NPc": npc, "out_offset": n0 * g.OC * g.P}
        grid = (-(-g.P // EPI_WG), g.OC, nimg)
        device.kernel("conv/bias_act.wgsl", WG=EPI_WG, BLK=blk)(grid, {**params, **flags}, y=y, bias=bias, out=out)
        y.free()
    return out


def _run_winograd(device, g: ConvGeometry, x, w, b, relu, m: int):
    from ..impl.webgpu.linalg import gemm

    alpha = m + 2
    a2 = alpha * alpha
    tmpl = {"WG": WG, "M": m, "ALPHA": alpha}
    cg4 = _r4(g.Cg)
    th, tw = -(-g.OH // m), -(-g.OW // m)
    # weight transform (on the device: weights change every training step)
    u = Tensor.empty((a2, g.OC, cg4), "float32", device)
    nw = g.OC * cg4
    device.kernel("conv/winograd_weight.wgsl", **tmpl)(_grid(device, nw), {"n": nw, "Cg": g.Cg, "Cg4": cg4}, w=w, u=u)
    out = Tensor.empty(g.out_shape, "float32", device)
    bias, flags = _flags(device, b, relu)
    for n0, nimg in _chunks(g.N, 4 * a2 * th * tw * (g.G * cg4 + g.OC)):
        t = nimg * th * tw
        t4 = _r4(t)
        v = Tensor.empty((a2, g.G, cg4, t4), "float32", device)
        nv = g.G * cg4 * t4
        params = {
            "n": nv,
            **g.pick("C", "H", "W", "Cg"),
            "Cg4": cg4,
            "T": t,
            "T4": t4,
            "tiles_w": tw,
            "tiles_hw": th * tw,
            "ph": g.ph,
            "pw": g.pw,
            "stride_xi": nv,
            "n0": n0,
        }
        device.kernel("conv/winograd_input.wgsl", **tmpl)(_grid(device, nv), params, x_in=x, v=v)
        y = Tensor.empty((a2, g.OC, t4), "float32", device)
        gemm(u, v, y, g.OCg, t4, cg4, batch=a2 * g.G, stride_a=g.OCg * cg4, stride_b=cg4 * t4, stride_c=g.OCg * t4)
        v.free()
        no = g.OC * t
        params = {
            "n": no,
            **g.pick("OC", "OH", "OW"),
            "T": t,
            "T4": t4,
            "tiles_w": tw,
            "tiles_hw": th * tw,
            "n0": n0,
            **flags,
        }
        device.kernel("conv/winograd_output.wgsl", **tmpl)(_grid(device, no), params, y=y, bias=bias, out=out)
        y.free()
    u.free()
    return out


_RUN = {
    "direct": _run_direct,
    "im2col": _run_im2col,
    "winograd2": lambda device, g, x, w, b, relu: _run_winograd(device, g, x, w, b, relu, 2),
    "winograd4": lambda device, g, x, w, b, relu: _run_winograd(device, g, x, w, b, relu, 4),
}


def _split_k(g: ConvGeometry, np_cols: int, k4: int) -> int:
    """Chunks S of the image columns for the weight-gradient GEMM (split-K), G == 1 only: the GEMM has
    ceil(K4/32) x ceil(OCg/32) x G workgroups, often fewer than the cores; S multiplies them while each
    chunk keeps >= 512 columns."""
    if g.G > 1:
        return 1
    tiles = -(-k4 // 32) * -(-g.OCg // 32)
    return max(1, min(-(-16 // tiles), np_cols // 512))


def _cpu_adapter(device) -> bool:
    return str(device.adapter_info.get("adapter_type", "")) == "CPU"


def _few_channels(g: ConvGeometry) -> bool:
    return g.Cg * g.OCg < 64


def _new_backward(device, g: ConvGeometry) -> bool:
    """Few channels, or CPU adapters up to Cg * OCg = 1024, where the column matrices cost more than the arithmetic
    (lavapipe, LeNet conv2 N=64 1.9x the im2col/GEMM backward, 3x3 C16 2.4-3x, C32 1.3x; C64 0.8-0.96x)."""
    return _few_channels(g) or (_cpu_adapter(device) and g.Cg * g.OCg <= 1024)


def _use_implicit_grad_w(device, g: ConvGeometry) -> bool:
    """conv/grad_w.wgsl / grad_w_rows.wgsl need whole vec4s of pixels (P % 4 == 0)."""
    return g.P % 4 == 0 and _new_backward(device, g)


def _use_direct_grad_x(device, g: ConvGeometry) -> bool:
    return _direct_grad_x_ok(g) and _new_backward(device, g)


def _grad_w_rows_ok(g: ConvGeometry) -> bool:
    """conv/grad_w_rows.wgsl: few output channels, horizontal stride and dilation 1, KW <= 8, OW % 4 == 0."""
    return g.OCg <= 8 and g.sw == 1 and g.dw == 1 and g.KW <= 8 and g.OW % 4 == 0


def _grad_w_rows(device, g: ConvGeometry, x, gy, out=None) -> tuple[Tensor, Tensor]:
    """(grad_w, grad_b) by conv/grad_w_rows.wgsl (S chunks of output rows) + conv/grad_w_finish.wgsl."""
    kb = _r4(g.K + 1)
    rows = g.N * g.OH
    per = g.G * g.Cg * g.KH  # invocations per chunk
    s = max(1, min(-(-1024 // per), rows))
    r = -(-rows // s)
    s = -(-rows // r)
    part = Tensor.empty((g.G * s, g.OCg, kb), "float32", device)
    n = g.G * s * g.Cg * g.KH
    params = {
        "n": n,
        **g.pick("C", "H", "W", "Cg", "OCg", "OC", "KH", "KW", "K"),
        "KB": kb,
        "OH": g.OH,
        "OW": g.OW,
        "R": r,
        "S": s,
        **g.pick("sh", "ph", "pw", "dh"),
        "rows": rows,
    }
    device.kernel("conv/grad_w_rows.wgsl", WG=HEAVY_WG)(_heavy_grid(device, n), params, x_in=x, dy=gy, part=part)
    return _grad_w_finish(device, g, part, kb, g.OCg, s, out)


def _subgroup_lanes(device) -> int:
    """The subgroup size of a workgroup of 8 on ``device`` (probed once; 0 without subgroups)."""
    return device.subgroup_size()


def _grad_w_sg_ok(device, g: ConvGeometry) -> bool:
    """conv/grad_w_sg.wgsl: CPU adapters with subgroups of >= 4 lanes, one group, OC <= 16, KW <= 5, stride and
    dilation 1 across."""
    return (
        _cpu_adapter(device)
        and "subgroup" in device.features
        and _subgroup_lanes(device) >= 4
        and g.G == 1
        and g.OC <= 16
        and g.KW <= 5
        and g.sw == 1
        and g.dw == 1
    )


# conv/grad_w_sg.wgsl: about this many workgroups (chunks of output rows x groups of 8 kernel rows), enough to keep
# both of lavapipe's threads busy with few partial sums to add up
GRAD_W_SG_WORKGROUPS = 32


def _grad_w_sg(device, g: ConvGeometry, x, gy, out=None) -> tuple[Tensor, Tensor]:
    """(grad_w, grad_b) by conv/grad_w_sg.wgsl (S chunks of output rows) + conv/grad_w_finish.wgsl."""
    kb = _r4(g.K + 1)
    ck = g.C * g.KH
    groups = -(-(ck + 1) // 8)
    rows = g.N * g.OH
    s = max(1, min(rows, -(-GRAD_W_SG_WORKGROUPS // groups)))
    r = -(-rows // s)
    s = -(-rows // r)
    part = Tensor.empty((s, g.OC, kb), "float32", device)
    params = {
        "R": r,
        "rows": rows,
        **g.pick("C", "H", "W", "OC", "KH", "KW", "K"),
        "KB": kb,
        "OH": g.OH,
        "OW": g.OW,
        "OWq": -(-g.OW // 4),
        **g.pick("sh", "ph", "pw", "dh"),
        "CK": ck,
    }
    lanes = 8 if _subgroup_lanes(device) >= 8 else 4
    aligned = "true" if g.OW % 4 == 0 else "false"
    kernel = device.kernel("conv/grad_w_sg.wgsl", LANES=lanes, ALIGNED=aligned)
    kernel((s, groups, 1), params, x_in=x, dy=gy, dy4=gy, part=part)
    return _grad_w_finish(device, g, part, kb, g.OC, s, out)


def _grad_w_finish(device, g: ConvGeometry, part, kb: int, rows: int, s: int, out=None) -> tuple[Tensor, Tensor]:
    """Sum the partials into (grad_w, grad_b): new tensors, or ``out``'s where they can be bound (aligned)."""
    align = int(device.limits.get("min_storage_buffer_offset_alignment", 256))
    if out is not None and all(t.byte_offset % align == 0 and t.dtype_name == "float32" for t in out):
        gw, gb = out
    else:
        gw = Tensor.empty((g.OC, g.Cg, g.KH, g.KW), "float32", device)
        gb = Tensor.empty((g.OC,), "float32", device)
    n = g.OC * (g.K + 1)
    params = {"n": n, "K": g.K, "KB": kb, "OCg": g.OCg, "OCg16": rows, "S": s}
    device.kernel("conv/grad_w_finish.wgsl", WG=WG)(_grid(device, n), params, part=part, gw=gw, gb=gb)
    part.free()
    return gw, gb


def _grad_w_implicit(device, g: ConvGeometry, x, gy, out=None) -> tuple[Tensor, Tensor]:
    """(grad_w, grad_b) by conv/grad_w.wgsl (S chunks of pixels in parallel) + conv/grad_w_finish.wgsl."""
    kb = _r4(g.K + 1)
    kb4 = kb // 4
    ocg16 = -(-g.OCg // 16) * 16
    rb = ocg16 // 16
    np_ = g.N * g.P
    per = g.G * rb * kb4  # invocations per chunk
    s = max(1, min(-(-1024 // per), -(-np_ // 64)))
    lc = _r4(-(-np_ // s))
    s = -(-np_ // lc)
    part = Tensor.empty((g.G * s, ocg16, kb), "float32", device)
    n = g.G * s * rb * kb4
    params = {
        "n": n,
        **g.pick("C", "H", "W", "Cg", "OCg", "OC", "KH", "KW", "K"),
        "KB4": kb4,
        "RB": rb,
        "OW": g.OW,
        "P": g.P,
        "NP": np_,
        "L": lc,
        "S": s,
        **g.geometry_params(),
        "OCg16": ocg16,
    }
    device.kernel("conv/grad_w.wgsl", WG=HEAVY_WG)(_heavy_grid(device, n), params, x_in=x, dy=gy, part=part)
    return _grad_w_finish(device, g, part, kb, ocg16, s, out)


def _backward_gpu(device, g: ConvGeometry, x, w, gy, input_grad: bool = True, out=None):
    if g.N == 0 or not (_use_implicit_grad_w(device, g) and (not input_grad or _use_direct_grad_x(device, g))):
        return _backward_gemm(device, g, x, w, gy, input_grad)
    if _grad_w_sg_ok(device, g):
        gw, gb = _grad_w_sg(device, g, x, gy, out)
    else:
        gw, gb = (_grad_w_rows if _grad_w_rows_ok(g) else _grad_w_implicit)(device, g, x, gy, out)
    gx = None
    if input_grad:
        gx = _direct_grad_x(device, g, w, gy, Tensor.empty((g.N, g.C, g.H, g.W), "float32", device))
    return gx, gw, gb


def _backward_gemm(device, g: ConvGeometry, x, w, gy, input_grad: bool = True):
    from ..impl.webgpu.linalg import gemm
    from ..impl.webgpu.linalg import pad2d as _pad2d
    from . import reduce
    from .elementwise import add, zeros
    from .layout import transpose

    k4, ocg4 = _r4(g.K), _r4(g.OCg)
    gx = Tensor.empty((g.N, g.C, g.H, g.W), "float32", device) if input_grad else None
    # W^T per group, padded on the contracted (OCg) axis: (G, K, OCg4)
    wt = transpose(w.reshape(g.G, g.OCg, g.K), (0, 2, 1)) if input_grad else None
    if input_grad and ocg4 != g.OCg:
        wt = _pad2d(wt, g.G, g.K, g.OCg, g.K, ocg4)
    grad_w = grad_b = None
    per_image = 4 * g.P * (g.G * (k4 + ocg4) + g.G * g.K)
    for n0, nimg in _chunks(g.N, per_image):
        np_ = nimg * g.P
        s = _split_k(g, np_, k4)
        lc = _r4(-(-np_ // s))
        npc = s * lc
        # dY packed (G, S, OCg4, Lc), zero padded
        dyp = Tensor.empty((g.G, s, ocg4, lc), "float32", device)
        n = dyp.size
        params = {"n": n, "OC": g.OC, "OCg": g.OCg, "OCg4": ocg4, "S": s, "Lc": lc, "P": g.P, "NP": np_, "n0": n0}
        device.kernel("conv/dy_pack.wgsl", WG=WG)(_grid(device, n), params, dy=gy, dyp=dyp)
        # grad_b: row sums of the packed dY
        gb = reduce.sum(dyp, axis=3)  # (G, S, OCg4)
        if s > 1:
            gb = reduce.sum(gb, axis=1)
        gb = _pad2d(gb, g.G, 1, ocg4, 1, g.OCg).reshape(g.OC)
        # grad_w = dY . cols^T, split-K over S chunks of image columns
        colst = Tensor.empty((g.G, npc, k4), "float32", device)
        n = g.G * npc
        im2col_t = device.kernel("conv/im2col_t.wgsl", WG=WG)
        im2col_t(_grid(device, n), _tap_params(g, n, k4, npc, nimg, n0), x_in=x, cols=colst)
        gwp = Tensor.empty((g.G * s, g.OCg, k4), "float32", device)
        gemm(dyp, colst, gwp, g.OCg, k4, lc, batch=g.G * s, stride_a=ocg4 * lc, stride_b=lc * k4, stride_c=g.OCg * k4)
        colst.free()
        if s > 1:
            gwp = reduce.sum(gwp, axis=0)  # G == 1 when S > 1
        gw = (gwp if k4 == g.K else _pad2d(gwp, 1, g.OC, k4, g.OC, g.K)).reshape(g.OC, g.Cg, g.KH, g.KW)
        grad_w = gw if grad_w is None else add(grad_w, gw)
        grad_b = gb if grad_b is None else add(grad_b, gb)
        if not input_grad:
            continue
        # grad_x = col2im(W^T . dY)
        dcols = Tensor.empty((g.G * s, g.K, lc), "float32", device)
        stride_a = g.K * ocg4 if s == 1 else 0
        gemm(wt, dyp, dcols, g.K, lc, ocg4, batch=g.G * s, stride_a=stride_a, stride_b=ocg4 * lc, stride_c=g.K * lc)
        dyp.free()
        n = nimg * g.C * g.H * g.W
        params = {
            "n": n,
            **g.pick("C", "H", "W", "Cg", "KH", "KW", "K", "OH", "OW", "P"),
            "S": s,
            "Lc": lc,
            "out_offset": n0 * g.C * g.H * g.W,
            **g.geometry_params(),
        }
        device.kernel("conv/col2im.wgsl", WG=WG)(_grid(device, n), params, dcols=dcols, gx=gx)
        dcols.free()
    if grad_w is None:  # N == 0
        grad_w, grad_b = zeros(tuple(w.shape), "float32", device), zeros((g.OC,), "float32", device)
    return gx, grad_w, grad_b


# --- auto + autotune ----------------------------------------------------------------------------------------------


def _auto(device, g: ConvGeometry, x, w, b, relu) -> str:
    if not _autotune["enabled"] or not device.is_gpu:
        return choose_conv_algo(g, device)
    key = (device.adapter, g.key())
    algo = _autotune["cache"].get(key)
    if algo is None:
        algo = _autotune["cache"][key] = _measure(device, g, x, w, b, relu)
    return algo


def _measure(device, g: ConvGeometry, x, w, b, relu, repeat: int = 3) -> str:
    """Fastest applicable algorithm for this shape (median GPU time of ``repeat`` runs after one warm-up)."""
    times = {}
    for algo in applicable_algos(g):
        run = _RUN[algo]
        run(device, g, x, w, b, relu)
        device.sync()
        samples = []
        for _ in range(repeat):
            with device.timer() as t:
                run(device, g, x, w, b, relu)
            samples.append(t.gpu_seconds if t.gpu_seconds is not None else t.wall_seconds)
        times[algo] = statistics.median(samples)
    return min(times, key=times.get)


def conv2d_flops(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1) -> int:
    """2 x multiply-adds of the direct convolution (for GFLOP/s figures)."""
    return conv_geometry(x_shape, w_shape, stride, padding, dilation, groups).flops


__all__ = [
    "ALGOS",
    "ConvGeometry",
    "choose_conv_algo",
    "conv2d",
    "conv2d_backward",
    "conv2d_flops",
    "conv_autotune",
    "conv_geometry",
    "last_conv_algo",
]
