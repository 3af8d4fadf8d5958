"""Pure-Python twins: max and average pooling."""

from __future__ import annotations

import math

from ...tensor import Tensor
from ._base import _out


# --- pooling --------------------------------------------------------------------------------------------------------
def _windows(g: dict):
    """Per output pixel, the flat in-plane indices of its window's in-bounds input pixels (and the window size
    including padding, for avg pooling's count_include_pad)."""
    h, w = g["H"], g["W"]
    out = []
    for oy in range(g["OH"]):
        y0 = oy * g["sh"] - g["ph"]
        ys = [y for y in range(y0, y0 + g["KH"]) if 0 <= y < h]
        hs = min(y0 + g["KH"], h + g["ph"]) - y0
        for ox in range(g["OW"]):
            x0 = ox * g["sw"] - g["pw"]
            xs = [xx for xx in range(x0, x0 + g["KW"]) if 0 <= xx < w]
            ws = min(x0 + g["KW"], w + g["pw"]) - x0
            out.append(([y * w + xx for y in ys for xx in xs], max(hs * ws, 1)))
    return out


def max_pool2d(x: Tensor, g: dict):
    vals = x.values()
    wins = _windows(g)
    plane = g["H"] * g["W"]
    out, idx = [], []
    for nc in range(g["N"] * g["C"]):
        base = nc * plane
        for flat, _ in wins:
            best = flat[0]
            bv = vals[base + best]
            for i in flat[1:]:
                v = vals[base + i]
                if v > bv or v != v:  # a NaN wins, the last one as in PyTorch
                    best, bv = i, v
            out.append(bv)
            idx.append(best)
    shape = (g["N"], g["C"], g["OH"], g["OW"])
    return _out(out, shape, x.device), _out(idx, shape, x.device, "int32")


def max_pool2d_backward(gy: Tensor, idx: Tensor, g: dict, relu_out: Tensor | None) -> Tensor:
    gv, iv = gy.values(), idx.values()
    if relu_out is not None:
        gv = [v if r > 0 else 0.0 for v, r in zip(gv, relu_out.values(), strict=True)]
    plane, per = g["H"] * g["W"], g["OH"] * g["OW"]
    gx = [0.0] * (g["N"] * g["C"] * plane)
    for nc in range(g["N"] * g["C"]):
        base, obase = nc * plane, nc * per
        for j in range(per):
            gx[base + iv[obase + j]] += gv[obase + j]
    return _out(gx, (g["N"], g["C"], g["H"], g["W"]), gy.device)


def _avg_windows(g: dict, count_include_pad: bool):
    return [(flat, full if count_include_pad else max(len(flat), 1)) for flat, full in _windows(g)]


def avg_pool2d(x: Tensor, g: dict, count_include_pad: bool) -> Tensor:
    vals = x.values()
    wins = _avg_windows(g, count_include_pad)
    plane = g["H"] * g["W"]
    out = []
    for nc in range(g["N"] * g["C"]):
        base = nc * plane
        out.extend([math.fsum(vals[base + i] for i in flat) / cnt for flat, cnt in wins])
    return _out(out, (g["N"], g["C"], g["OH"], g["OW"]), x.device)


def avg_pool2d_backward(gy: Tensor, g: dict, count_include_pad: bool) -> Tensor:
    gv = gy.values()
    wins = _avg_windows(g, count_include_pad)
    plane, per = g["H"] * g["W"], g["OH"] * g["OW"]
    gx = [0.0] * (g["N"] * g["C"] * plane)
    for nc in range(g["N"] * g["C"]):
        base, obase = nc * plane, nc * per
        for j, (flat, cnt) in enumerate(wins):
            share = gv[obase + j] / cnt
            for i in flat:
                gx[base + i] += share
    return _out(gx, (g["N"], g["C"], g["H"], g["W"]), gy.device)
