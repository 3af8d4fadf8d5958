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


def _np_planes(x, g):
    """The zero-padded input as (N, C, Hp * Wp) planes in one flat buffer, followed by (KW - 1) * dw floats of
    slack so that a column window starting at the last plane's last tap stays inside the buffer."""
    hp, wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    buf = np.zeros(g.N * g.C * hp * wp + (g.KW - 1) * g.dw, x.dtype)
    buf[: g.N * g.C * hp * wp].reshape(g.N, g.C, hp, wp)[:, :, g.ph : g.ph + g.H, g.pw : g.pw + g.W] = x
    return buf


def _np_row_width(g) -> int:
    """Columns per output row in the numpy twins' column layout: with stride 1 along W every output row spans the
    full padded width Wp (its last Wp - OW columns are garbage, never read back), so a tap's columns are one
    contiguous run of OH * Wp input floats per image: memcpy-speed copies, much faster than row-by-row ones of OW
    floats (benchmarks/RESULTS.md, "conv auto rule"). Strided rows use the exact OW."""
    return g.W + 2 * g.pw if g.sw == 1 else g.OW


def np_cols(x, g):
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


def np_conv2d_direct(x, w, g):
    out = np.zeros((g.N, g.G, g.OCg, g.OH, g.OW), np.result_type(x, w))
    wg = w.reshape(g.G, g.OCg, g.Cg, g.KH, g.KW)
    for kh, kw, view in _np_taps(x, g):
        out += np.einsum("ngchw,goc->ngohw", view.reshape(g.N, g.G, g.Cg, g.OH, g.OW), wg[:, :, :, kh, kw])
    return out.reshape(g.out_shape)


def np_conv2d_im2col(x, w, g):
    if not g.N or not g.OC:  # no images or filters: the reshape below cannot infer its last axis from 0 elements
        return np.zeros(g.out_shape, np.result_type(x, w))
    y = np.matmul(w.reshape(g.G, g.OCg, g.K), np_cols(x, g))  # (G, OCg, N * OH * RW)
    return y.reshape(g.OC, g.N, g.OH, -1)[..., : g.OW].transpose(1, 0, 2, 3)


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
    if algo == "direct":
        out = np_conv2d_direct(x, w, g)
    elif algo == "im2col":
        out = np_conv2d_im2col(x, w, g)
    else:
        out = np_conv2d_winograd(x, w, g, 2 if algo == "winograd2" else 4)
    return _np_finish(out, b, relu).astype(x.dtype, copy=False)


def np_conv2d_backward(x, w, gy, g, input_grad: bool = True):
    """(grad_x or None, grad_w, grad_b) via im2col / col2im in the layout of :func:`np_cols`, in the inputs'
    precision. grad_out is spread over that layout with zeros in the garbage columns, so they add nothing to
    grad_w, and col2im adds exact zeros where a garbage column's window wraps into the next row or plane."""
    cols = np_cols(x, g)  # (G, K, N * OH * RW)
    rw = _np_row_width(g)
    if rw != g.OW and not np.isfinite(x).all():
        # the garbage columns read inputs outside each row's receptive field: 0 * NaN/Inf there would reach grad_w
        cols.reshape(g.G, g.K, g.N, g.OH, rw)[..., g.OW :] = 0
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


def conv2d(x: Tensor, w: Tensor, b: Tensor | None, g, algo: str, relu: bool) -> Tensor:
    """``algo``: "direct" | "im2col" | "winograd2" | "winograd4", or "auto" (im2col; also the f16 "implicit")."""
    algo = "im2col" if algo in ("auto", "implicit") else algo
    x.device.op_state["conv2d.last"] = algo
    out = np_conv2d(x.host(), w.host(), None if b is None else b.host(), g, algo, relu)
    return Tensor.wrap_numpy(out, x.device)


def conv2d_backward(x: Tensor, w: Tensor, gy: Tensor, g, input_grad: bool = True, out=None):
    gx, gw, gb = np_conv2d_backward(x.host(), w.host(), gy.host(), g, input_grad)
    return tuple(
        None if a is None else Tensor.wrap_numpy(a.astype(np.float32, copy=False), x.device) for a in (gx, gw, gb)
    )


def conv2d_algo(device, g) -> str:
    return "im2col"
