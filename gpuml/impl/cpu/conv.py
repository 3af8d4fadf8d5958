"""numpy twins of conv2d and conv2d_backward for the ``cpu`` backend (float32 like the kernels).

The backend runs ``im2col`` for ``algo="auto"``: one BLAS GEMM over a tap-major column matrix is its fastest twin
in every shape measured (its Winograd twins are einsum chains; benchmarks/RESULTS.md, "conv auto rule").
"""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor

# F(m x m, 3 x 3) transform matrices (B^T, G, A^T), as in shaders/conv/winograd_*.wgsl
WINOGRAD = {}
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


def _np_taps(x, g):
    """Yield (kh, kw, strided input view (N, C, OH, OW)) of the zero-padded input for every kernel tap."""
    xp = np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)))
    for kh in range(g.KH):
        for kw in range(g.KW):
            y0, x0 = kh * g.dh, kw * g.dw
            yield kh, kw, xp[:, :, y0 : y0 + g.sh * (g.OH - 1) + 1 : g.sh, x0 : x0 + g.sw * (g.OW - 1) + 1 : g.sw]


def _np_row_width(g) -> int:
    """Columns per output row in the numpy twins' column layout: with stride 1 along W every output row spans the
    full padded width Wp (its last Wp - OW columns are garbage, never read back), so a tap's columns are one
    contiguous run of OH * Wp input floats per image: memcpy-speed copies, much faster than row-by-row ones of OW
    floats (benchmarks/RESULTS.md, "conv auto rule"). Strided rows use the exact OW."""
    return g.W + 2 * g.pw if g.sw == 1 else g.OW


# --- im2col over chunks of images -----------------------------------------------------------------------------
# The column matrix is laid out (chunks, G, K, nc * OH * RW): each chunk of nc whole images is one contiguous
# K x (nc * OH * RW) matrix, and every GEMM is one batched np.matmul over the chunks. OpenBLAS runs these skinny
# GEMMs (6-16 rows, K = 25-150) 2-3x faster on a few thousand columns per call than on one 57,344-column matrix
# (benchmarks/RESULTS.md, "numpy backend vs PyTorch (issue 20.3)").
CHUNK_COLUMNS = 3600  # at most this many columns per chunk (whole images, nc a divisor of N)


class _Plan:
    """Sizes and element strides of the chunked column layout of one geometry (cached per ConvGeometry)."""

    def __init__(self, g):
        self.N, self.C, self.G, self.Cg, self.OC, self.OCg = g.N, g.C, g.G, g.Cg, g.OC, g.OCg
        self.K, self.KH, self.KW, self.OH, self.OW = g.K, g.KH, g.KW, g.OH, g.OW
        self.H, self.W, self.ph, self.pw = g.H, g.W, g.ph, g.pw
        self.rw = _np_row_width(g)
        self.hp, self.wp = g.H + 2 * g.ph, g.W + 2 * g.pw
        self.plane = self.hp * self.wp
        self.size = g.N * g.C * self.plane
        self.slack = (g.KW - 1) * g.dw  # a window starting in the last plane's garbage columns reads this far past it
        pn = g.OH * self.rw
        self.nc = max([d for d in range(1, g.N + 1) if g.N % d == 0 and d * pn <= CHUNK_COLUMNS] or [1])
        self.nb = g.N // self.nc if g.N else 0
        self.cols = self.nc * pn
        p = self.plane
        # (chunk, group, channel, kh, kw, image in chunk, oh, ow) -> element offset in the padded planes
        self.col_strides = (self.nc * g.C * p, g.Cg * p, p, g.dh * self.wp, g.dw, g.C * p, g.sh * self.wp, g.sw)
        self.col_shape = (self.nb, g.G, g.Cg, g.KH, g.KW, self.nc, g.OH, self.rw)
        # col2im: one tap's (chunk, group, channel, image in chunk, oh, ow) in the padded planes
        self.tap_strides = (self.nc * g.C * p, g.Cg * p, p, g.C * p, g.sh * self.wp, g.sw)
        self.tap_offsets = [(kh, kw, kh * g.dh * self.wp + kw * g.dw) for kh in range(g.KH) for kw in range(g.KW)]


_PLANS: dict = {}


def _plan(g) -> _Plan:
    plan = _PLANS.get(g)
    if plan is None:
        if len(_PLANS) > 512:  # geometries seen in one process are few; bound it anyway
            _PLANS.clear()
        plan = _PLANS[g] = _Plan(g)
    return plan


def _padded(x, p: _Plan):
    """``x`` zero-padded as (N, C, Hp * Wp) planes in one flat buffer, with ``p.slack`` zeros after them."""
    if p.ph == 0 and p.pw == 0:
        buf = np.empty(p.size + p.slack, x.dtype)
        buf[: p.size] = x.reshape(-1)
        buf[p.size :] = 0
    else:
        buf = np.zeros(p.size + p.slack, x.dtype)
        buf[: p.size].reshape(p.N, p.C, p.hp, p.wp)[:, :, p.ph : p.ph + p.H, p.pw : p.pw + p.W] = x
    return buf


def np_cols(x, g, extra: int = 0):
    """The column matrices (chunks, G, K + extra, nc * OH * RW), k = (c, kh, kw), columns = (image in chunk, oh,
    ow) with RW = :func:`_np_row_width` columns per output row: one strided copy of the padded planes. The
    ``extra`` rows after the K are left unwritten (the forward's row of ones that carries the bias)."""
    p = _plan(g)
    buf = _padded(x, p)
    e = buf.itemsize
    view = np.lib.stride_tricks.as_strided(buf, p.col_shape, tuple(s * e for s in p.col_strides), writeable=False)
    cols = np.empty((p.nb, p.G, p.K + extra, p.cols), x.dtype)
    np.copyto(np.reshape(cols[:, :, : p.K], p.col_shape, copy=False), view)
    return cols


def np_conv2d_im2col(x, w, b, g, relu: bool):
    """Forward in one batched GEMM per call, the bias riding in it as a row of ones under the columns, and the
    ReLU (NaN kept, as np.maximum) applied while the chunks are scattered into the NCHW output."""
    dtype = np.result_type(x, w)
    if not g.N or not g.OC:  # no images or filters: nothing to multiply
        out = np.zeros(g.out_shape, dtype)
        return out if b is None else _np_finish(out, b, relu)
    p = _plan(g)
    wm = w.reshape(p.G, p.OCg, p.K)
    extra = 0 if b is None else 1
    cols = np_cols(x, g, extra)
    if extra:
        cols[:, :, p.K] = 1
        wm = np.concatenate([wm, b.reshape(p.G, p.OCg, 1).astype(wm.dtype)], axis=2)
    y = np.matmul(wm, cols)  # (chunks, G, OCg, nc * OH * RW)
    src = y.reshape(p.nb, p.OC, p.nc, p.OH, p.rw)[..., : p.OW].transpose(0, 2, 1, 3, 4)
    out = np.empty(g.out_shape, dtype)
    dst = out.reshape(p.nb, p.nc, p.OC, p.OH, p.OW)
    if relu:
        np.maximum(src, 0, out=dst)
    else:
        np.copyto(dst, src)
    return out


def np_conv2d_backward(x, w, gy, g, input_grad: bool = True, grad_w=None, grad_b=None):
    """(grad_x or None, grad_w, grad_b) via im2col / col2im in the layout of :func:`np_cols`, in the inputs'
    precision (into ``grad_w`` / ``grad_b`` when given). grad_out is spread over that layout with zeros in the
    garbage columns, so they add nothing to grad_w, and col2im adds exact zeros where a garbage column's window
    wraps into the next row or plane."""
    p = _plan(g)
    if grad_w is None:
        grad_w = np.empty(w.shape, np.result_type(x, w, gy))
    if grad_b is None:
        grad_b = np.empty(g.OC, gy.dtype)
    if not g.N:
        grad_w[...] = 0
        grad_b[...] = 0
        return (np.zeros(x.shape, x.dtype) if input_grad else None), grad_w, grad_b
    cols = np_cols(x, g)  # (chunks, G, K, cols)
    if p.rw != p.OW and not np.isfinite(x).all():
        # the garbage columns read inputs outside each row's receptive field: 0 * NaN/Inf there would reach grad_w
        np.reshape(cols, (*p.col_shape[:3], p.KH * p.KW, p.nc, p.OH, p.rw), copy=False)[..., p.OW :] = 0
    gyr = np.empty((p.nb, p.G, p.OCg, p.nc, p.OH, p.rw), gy.dtype)
    gyr[..., p.OW :] = 0
    gyr[..., : p.OW] = gy.reshape(p.nb, p.nc, p.G, p.OCg, p.OH, p.OW).transpose(0, 2, 3, 1, 4, 5)
    gyr = gyr.reshape(p.nb, p.G, p.OCg, p.cols)
    # (cols @ gyr^T) summed over chunks: the K x OCg orientation runs ~1.7x faster than gyr @ cols^T
    gw = np.matmul(cols, gyr.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, K, OCg)
    np.copyto(grad_w.reshape(p.G, p.OCg, p.K), gw.transpose(0, 2, 1))
    np.sum(gy, axis=(0, 2, 3), out=grad_b)
    if not input_grad:
        return None, grad_w, grad_b
    dcols = np.matmul(w.reshape(p.G, p.OCg, p.K).transpose(0, 2, 1), gyr)  # (chunks, G, K, cols)
    dcols = dcols.reshape(p.nb, p.G, p.Cg, p.KH, p.KW, p.nc, p.OH, p.rw)
    gbuf = np.zeros(p.size + p.slack, dcols.dtype)
    e = gbuf.itemsize
    strides = tuple(s * e for s in p.tap_strides)
    shape = (p.nb, p.G, p.Cg, p.nc, p.OH, p.rw)
    for kh, kw, start in p.tap_offsets:  # col2im: every tap's columns added onto the planes they were read from
        tap = np.lib.stride_tricks.as_strided(gbuf[start:], shape, strides)
        np.add(tap, dcols[:, :, :, kh, kw], out=tap)
    gxp = gbuf[: p.size].reshape(p.N, p.C, p.hp, p.wp)
    grad_x = np.ascontiguousarray(gxp[:, :, p.ph : p.ph + p.H, p.pw : p.pw + p.W])
    return grad_x, grad_w, grad_b


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


def np_conv2d_direct(x, w, g):
    out = np.zeros((g.N, g.G, g.OCg, g.OH, g.OW), np.result_type(x, w))
    wg = w.reshape(g.G, g.OCg, g.Cg, g.KH, g.KW)
    for kh, kw, view in _np_taps(x, g):
        out += np.einsum("ngchw,goc->ngohw", view.reshape(g.N, g.G, g.Cg, g.OH, g.OW), wg[:, :, :, kh, kw])
    return out.reshape(g.out_shape)


def np_conv2d_winograd(x, w, g, m: int):
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


def np_conv2d(x, w, b, g, algo: str, relu: bool = False):
    """The numpy twin of ``conv2d`` for ``algo`` (float32 in, float32 out)."""
    if algo == "im2col":
        return np_conv2d_im2col(x, w, b, g, relu).astype(x.dtype, copy=False)
    if algo == "direct":
        out = np_conv2d_direct(x, w, g)
    else:
        out = np_conv2d_winograd(x, w, g, 2 if algo == "winograd2" else 4)
    return _np_finish(out, b, relu).astype(x.dtype, copy=False)


def conv2d(x: Tensor, w: Tensor, b: Tensor | None, g, algo: str, relu: bool) -> Tensor:
    """``algo``: "direct" | "im2col" | "winograd2" | "winograd4", or "auto" (im2col; also the f16 "implicit")."""
    algo = "im2col" if algo in ("auto", "implicit") else algo
    x.device.op_state["conv2d.last"] = algo
    out = np_conv2d(x.host(), w.host(), None if b is None else b.host(), g, algo, relu)
    return Tensor.wrap_numpy(out, x.device)


def conv2d_backward(x: Tensor, w: Tensor, gy: Tensor, g, input_grad: bool = True, out=None):
    """``out=(grad_w, grad_b)`` float32 tensors (the parameter store's gradients) are written in place."""
    xh, wh, gyh = x.host(), w.host(), gy.host()
    f32 = xh.dtype == wh.dtype == gyh.dtype == np.float32
    gw, gb = (None, None) if out is None or not f32 else (out[0].host(), out[1].host())
    gx, gw, gb = np_conv2d_backward(xh, wh, gyh, g, input_grad, gw, gb)
    if gw is not None and out is not None and f32:
        return (None if gx is None else Tensor.wrap_numpy(gx, x.device)), out[0], out[1]
    return tuple(
        None if a is None else Tensor.wrap_numpy(a.astype(np.float32, copy=False), x.device) for a in (gx, gw, gb)
    )


def conv2d_algo(device, g) -> str:
    return "im2col"
