"""Pure-Python twins: 2-D convolution forward and backward."""

from __future__ import annotations

import math

from ...tensor import Tensor
from ._base import _out, _rows, dot


# --- convolution ----------------------------------------------------------------------------------------------------
def _planes(vals: list, base: int, channels: int, h: int, w: int, top: int, left: int, ph: int, pw: int) -> list:
    """``channels`` planes of an image starting at ``vals[base]``, each as a list of rows placed at (top, left)
    in a zero canvas of (ph, pw) (rows/columns falling outside are dropped: negative offsets crop)."""
    out = []
    zero_row = [0.0] * pw
    for c in range(channels):
        rows = [zero_row] * ph
        start = base + c * h * w
        for y in range(h):
            cy = y + top
            if 0 <= cy < ph:
                src = vals[start + y * w : start + (y + 1) * w]
                lo, hi = max(0, -left), min(w, pw - left)
                if lo >= hi:
                    continue
                rows[cy] = [0.0] * (left + lo) + src[lo:hi] + [0.0] * (pw - left - hi)
        out.append(rows)
    return out


def _patches(planes: list, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, oh: int, ow: int) -> list[list]:
    """im2col: one row per output pixel holding its receptive field (channel, ky, kx order)."""
    span = (kw - 1) * dw + 1
    out = []
    for y in range(oh):
        rows = [plane[y * sh + ky * dh] for plane in planes for ky in range(kh)]
        for x in range(ow):
            x0 = x * sw
            p = []
            if dw == 1:
                for r in rows:
                    p += r[x0 : x0 + span]
            else:
                for r in rows:
                    p += r[x0 : x0 + span : dw]
            out.append(p)
    return out


def conv2d(x: Tensor, w: Tensor, b: Tensor | None, g, algo: str, relu: bool) -> Tensor:
    """Direct convolution as patches x weight rows (g: gpuml.ops.conv.ConvGeometry), whatever ``algo`` asks: the
    one algorithm of this backend."""
    x.device.op_state["conv2d.last"] = "direct"
    xv, wv = x.values(), w.values()
    bias = b.values() if b is not None else [0.0] * g.OC
    w_rows = _rows(wv, g.OC, g.K)
    hp, wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    out = [0.0] * (g.N * g.OC * g.P)
    for n in range(g.N):
        for grp in range(g.G):
            planes = _planes(xv, (n * g.C + grp * g.Cg) * g.H * g.W, g.Cg, g.H, g.W, g.ph, g.pw, hp, wp)
            patches = _patches(planes, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.OH, g.OW)
            for oc in range(grp * g.OCg, (grp + 1) * g.OCg):
                wr, bb = w_rows[oc], bias[oc]
                y = [dot(wr, p) + bb for p in patches]
                start = (n * g.OC + oc) * g.P
                out[start : start + g.P] = [0.0 if v <= 0 else v for v in y] if relu else y  # NaN stays NaN
    return _out(out, g.out_shape, x.device)


def conv2d_algo(device, g) -> str:
    return "direct"


def conv2d_backward(x: Tensor, w: Tensor, gy: Tensor, g, input_grad: bool = True, out=None):
    """(grad_x or None, grad_w, grad_b). grad_w: patch columns dotted with grad_out rows; grad_x: a stride-1
    convolution of grad_out (zero-inserted for stride, padded by dilation*(k-1) - padding) with the flipped,
    channel-swapped weights."""
    xv, wv, gv = x.values(), w.values(), gy.values()
    hp, wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    gw = [0.0] * (g.OC * g.K)
    gb = [math.fsum(gv[(n * g.OC + oc) * g.P + p] for n in range(g.N) for p in range(g.P)) for oc in range(g.OC)]
    for n in range(g.N):
        for grp in range(g.G):
            planes = _planes(xv, (n * g.C + grp * g.Cg) * g.H * g.W, g.Cg, g.H, g.W, g.ph, g.pw, hp, wp)
            cols = list(zip(*_patches(planes, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.OH, g.OW), strict=True))
            for oc in range(grp * g.OCg, (grp + 1) * g.OCg):
                grow = gv[(n * g.OC + oc) * g.P : (n * g.OC + oc + 1) * g.P]
                base = oc * g.K
                acc = gw[base : base + g.K]
                gw[base : base + g.K] = [a + dot(grow, col) for a, col in zip(acc, cols, strict=True)]
    grad_w = _out(gw, w.shape, x.device)
    grad_b = _out(gb, (g.OC,), x.device)
    if not input_grad:
        return None, grad_w, grad_b
    # flipped weights, (in-channel of the group, out-channel, ky, kx) -> rows per input channel c
    taps = g.KH * g.KW
    flip = []
    for c in range(g.C):
        grp, cg = divmod(c, g.Cg)
        row = []
        for oc in range(grp * g.OCg, (grp + 1) * g.OCg):
            base = (oc * g.Cg + cg) * taps
            row += wv[base : base + taps][::-1]
        flip.append(row)
    # grad_out zero-inserted by the stride, placed so a stride-1 dilated correlation gives grad_x
    eh, ew = g.dh * (g.KH - 1), g.dw * (g.KW - 1)
    ch, cw = g.H + eh, g.W + ew
    top, left = eh - g.ph, ew - g.pw
    gx = [0.0] * (g.N * g.C * g.H * g.W)
    for n in range(g.N):
        for grp in range(g.G):
            planes = []
            for oc in range(grp * g.OCg, (grp + 1) * g.OCg):
                canvas = [[0.0] * cw for _ in range(ch)]
                start = (n * g.OC + oc) * g.P
                for y in range(g.OH):
                    cy = top + y * g.sh
                    if not 0 <= cy < ch:
                        continue
                    row, src = canvas[cy], gv[start + y * g.OW : start + (y + 1) * g.OW]
                    for xo, v in enumerate(src):
                        cx = left + xo * g.sw
                        if 0 <= cx < cw:
                            row[cx] = v
                planes.append(canvas)
            patches = _patches(planes, g.KH, g.KW, 1, 1, g.dh, g.dw, g.H, g.W)
            for c in range(grp * g.Cg, (grp + 1) * g.Cg):
                start = (n * g.C + c) * g.H * g.W
                gx[start : start + g.H * g.W] = [dot(flip[c], p) for p in patches]
    return _out(gx, x.shape, x.device), grad_w, grad_b
