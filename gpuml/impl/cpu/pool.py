"""Max and average pooling as numpy twins of the kernels (same winners, same index convention). ``g`` is the
geometry dict that gpuml.ops.pool validates."""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor
from .threads import run_parts


def _tiles(g: dict) -> bool:
    """The windows tile the input exactly: a reshape instead of a gather, a scatter instead of an accumulation."""
    same = (g["sh"], g["sw"], g["ph"], g["pw"]) == (g["KH"], g["KW"], 0, 0)
    return same and g["H"] == g["OH"] * g["KH"] and g["W"] == g["OW"] * g["KW"]


def _windows(x, g: dict, fill: float):
    """(N, C, OH, OW, KH * KW) window values of the padded input, and the flat in-plane index of each."""
    xp = np.pad(x, ((0, 0), (0, 0), (g["ph"], g["ph"]), (g["pw"], g["pw"])), constant_values=fill)
    rows = np.arange(g["OH"])[:, None] * g["sh"] + np.arange(g["KH"])[None, :]  # padded coordinates
    cols = np.arange(g["OW"])[:, None] * g["sw"] + np.arange(g["KW"])[None, :]
    win = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # N, C, OH, OW, KH, KW
    flat = (rows[:, None, :, None] - g["ph"]) * g["W"] + (cols[None, :, None, :] - g["pw"])
    shape = (*win.shape[:4], g["KH"] * g["KW"])
    return win.reshape(shape), np.broadcast_to(flat, win.shape[2:]).reshape(g["OH"], g["OW"], -1)


def _counts(g: dict, count_include_pad: bool):
    y0 = np.arange(g["OH"]) * g["sh"] - g["ph"]
    x0 = np.arange(g["OW"]) * g["sw"] - g["pw"]
    if count_include_pad:
        hs = np.minimum(y0 + g["KH"], g["H"] + g["ph"]) - y0
        ws = np.minimum(x0 + g["KW"], g["W"] + g["pw"]) - x0
    else:
        hs = np.minimum(y0 + g["KH"], g["H"]) - np.maximum(y0, 0)
        ws = np.minimum(x0 + g["KW"], g["W"]) - np.maximum(x0, 0)
    return np.maximum(hs[:, None] * ws[None, :], 1)


def _max_pool_2x2(x, g: dict, out, idx) -> None:
    """2x2 windows that tile the input (LeNet's pools), into ``out`` / ``idx`` (x's images). One strided copy splits
    the input into its four window positions as contiguous planes; then the maximum of each row's pair, then of the
    two rows, each with a strict `>` so the first maximum in window order wins (as the kernels and argmax), and a NaN
    over anything before it (PyTorch: the last NaN of a window wins). Every pass after the copy is contiguous and a
    quarter of the input, faster than the same passes over stride-2 views (benchmarks/RESULTS.md, issue 20.3)."""
    oh, ow, w = g["OH"], g["OW"], g["W"]
    m = x.shape[0] * g["C"] * oh
    q = np.empty((2, 2, m, ow), x.dtype)  # (window row, window column, plane row pair, output column)
    np.copyto(q, x.reshape(m, 2, ow, 2).transpose(1, 3, 0, 2))
    (q00, q01), (q10, q11) = q
    top, bottom = np.maximum(q00, q01), np.maximum(q10, q11)
    res = np.maximum(top, bottom, out=out.reshape(m, ow))
    top_dx, bottom_dx, dy = q01 > q00, q11 > q10, bottom > top  # the right column / bottom row holds the maximum
    if np.isnan(res).any():  # NaN present (np.maximum propagates it): a NaN wins over anything before it
        top_dx |= np.isnan(q01)
        bottom_dx |= np.isnan(q11)
        dy |= np.isnan(bottom)
    col = top_dx ^ (dy & (top_dx ^ bottom_dx))  # np.where(dy, bottom_dx, top_dx), 5x faster on bool arrays
    ix = np.multiply(dy, np.int32(w), dtype=np.int32, out=idx.reshape(m, ow))
    ix += col
    ix = ix.reshape(-1, oh, ow)
    ix += np.arange(oh, dtype=np.int32)[:, None] * (2 * w) + np.arange(ow, dtype=np.int32) * 2


def _per_part(g: dict) -> int:
    """Images per thread at least: ~1M input values, so that each numpy call of a part runs long enough without
    the GIL; shorter ones make the threads queue for it (LeNet's pools, 301k and 102k values, run on one thread;
    benchmarks/RESULTS.md, issue 20.3)."""
    return -(-POOL_PER_PART // max(1, g["C"] * g["H"] * g["W"]))


POOL_PER_PART = 1 << 20


def _last_nan(win, arg):
    """argmax over the last axis as PyTorch's max_pool2d takes it: the last NaN of a window wins (np.argmax takes the
    first); windows without NaN keep ``arg``."""
    nan = np.isnan(win)
    if not nan.any():
        return arg
    last = win.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
    return np.where(nan.any(axis=-1), last, arg)


def _max_pool(x, g: dict):
    if _tiles(g) and (g["KH"], g["KW"]) == (2, 2):
        out = np.empty((g["N"], g["C"], g["OH"], g["OW"]), x.dtype)
        idx = np.empty(out.shape, np.int32)
        run_parts(lambda a, b: _max_pool_2x2(x[a:b], g, out[a:b], idx[a:b]), g["N"], min_per_part=_per_part(g))
        return out, idx
    if _tiles(g):  # windows tile the input: a reshape instead of a gather
        n, c, oh, ow, kh, kw = g["N"], g["C"], g["OH"], g["OW"], g["KH"], g["KW"]
        win = x.reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
        arg = _last_nan(win, np.argmax(win, axis=-1))
        out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        a, b = np.divmod(arg, kw)
        idx = (np.arange(oh)[:, None] * kh + a) * g["W"] + np.arange(ow) * kw + b
        return out.astype(x.dtype), idx.astype(np.int32)
    win, flat = _windows(x, g, -np.inf)
    arg = _last_nan(win, np.argmax(win, axis=-1))
    out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    idx = np.take_along_axis(np.broadcast_to(flat, win.shape), arg[..., None], axis=-1)[..., 0]
    return out.astype(x.dtype), idx.astype(np.int32)


def _max_pool_backward(gy, idx, g: dict, relu_out=None):
    """The input gradient; ``relu_out``: grad_out only where it is > 0 (a ReLU fused before the pool)."""
    if relu_out is not None:
        gy = np.where(relu_out > 0, gy, gy.dtype.type(0))
    gx = np.zeros((g["N"] * g["C"], g["H"] * g["W"]), gy.dtype)
    if _tiles(g):  # every input pixel wins at most one window: a scatter, no accumulation; images split
        c = g["C"]
        run_parts(lambda a, b: _scatter(gy[a:b], idx[a:b], gx[a * c : b * c]), g["N"], min_per_part=_per_part(g))
        return gx.reshape(g["N"], g["C"], g["H"], g["W"])
    nc = np.arange(g["N"] * g["C"])[:, None]
    np.add.at(
        gx,
        (np.broadcast_to(nc, (nc.shape[0], g["OH"] * g["OW"])), idx.reshape(nc.shape[0], -1)),
        gy.reshape(nc.shape[0], -1),
    )
    return gx.reshape(g["N"], g["C"], g["H"], g["W"])


def _scatter(gy, idx, gx) -> None:
    """grad_out (these images) scattered onto zeroed ``gx`` (their planes, (images * C, H * W)) at each window's
    winner."""
    # intp indices: numpy converts int32 ones to intp before it scatters (LeNet's scatters ~25% slower with
    # int32; benchmarks/RESULTS.md, "numpy backend: cheaper LeNet-5 convolutions")
    plane = np.arange(0, gx.size, gx.shape[1], dtype=np.intp)[:, None]  # flat index of each (n, c) plane
    gx.reshape(-1)[np.add(idx.reshape(gx.shape[0], -1), plane, dtype=np.intp)] = gy.reshape(gx.shape[0], -1)


def max_pool2d(x: Tensor, g: dict) -> tuple[Tensor, Tensor]:
    out, idx = _max_pool(x.host(), g)
    return Tensor.wrap_numpy(out, x.device), Tensor.wrap_numpy(idx, x.device)


def max_pool2d_backward(gy: Tensor, idx: Tensor, g: dict, relu_out: Tensor | None) -> Tensor:
    relu = None if relu_out is None else relu_out.host()
    return Tensor.wrap_numpy(_max_pool_backward(gy.host(), idx.host(), g, relu), gy.device)


def avg_pool2d(x: Tensor, g: dict, count_include_pad: bool) -> Tensor:
    win, _ = _windows(x.host(), g, 0.0)
    out = (win.sum(axis=-1) / _counts(g, count_include_pad)).astype(x.host().dtype)
    return Tensor.wrap_numpy(out, x.device)


def avg_pool2d_backward(gy: Tensor, g: dict, count_include_pad: bool) -> Tensor:
    dy = gy.host()
    share = dy / _counts(g, count_include_pad)
    gxp = np.zeros((g["N"], g["C"], g["H"] + 2 * g["ph"] + g["sh"], g["W"] + 2 * g["pw"] + g["sw"]), dy.dtype)
    rows, cols = g["sh"] * (g["OH"] - 1) + 1, g["sw"] * (g["OW"] - 1) + 1
    for kh in range(g["KH"]):
        for kw in range(g["KW"]):
            gxp[:, :, kh : kh + rows : g["sh"], kw : kw + cols : g["sw"]] += share
    gx = gxp[:, :, g["ph"] : g["ph"] + g["H"], g["pw"] : g["pw"] + g["W"]]
    return Tensor.wrap_numpy(np.ascontiguousarray(gx).astype(dy.dtype), gy.device)
