"""numpy twins of conv2d and conv2d_backward for the ``cpu`` backend (float32 like the kernels).

The backend runs ``im2col`` for ``algo="auto"`` (gpuml/impl/cpu/im2col.py: batched BLAS GEMMs over column matrices
in chunks of images), its fastest twin in every shape measured (its Winograd twins are einsum chains;
benchmarks/RESULTS.md, "conv auto rule" and "numpy backend vs PyTorch (issue 20.3)").
"""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor
from . import im2col

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
        return im2col.conv2d(x, w, b, g, relu).astype(x.dtype, copy=False)
    if algo == "direct":
        out = np_conv2d_direct(x, w, g)
    else:
        out = np_conv2d_winograd(x, w, g, 2 if algo == "winograd2" else 4)
    return _np_finish(out, b, relu).astype(x.dtype, copy=False)


def np_conv2d_backward(x, w, gy, g, input_grad: bool = True, grad_w=None, grad_b=None):
    """(grad_x or None, grad_w, grad_b) by im2col / col2im (gpuml/impl/cpu/im2col.py), in the inputs' precision,
    into ``grad_w`` / ``grad_b`` when given."""
    if grad_w is None:
        grad_w = np.empty(w.shape, np.result_type(x, w, gy))
    if grad_b is None:
        grad_b = np.empty(g.OC, gy.dtype)
    return im2col.conv2d_backward(x, w, gy, g, input_grad, grad_w, grad_b)


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
