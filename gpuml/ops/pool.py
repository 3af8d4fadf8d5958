"""2-D max and average pooling on NCHW float32 batches, forward and backward (shaders/pool/).

``max_pool2d(x, kernel, stride=None, padding=0, *, return_indices=False)``: ``stride`` defaults to ``kernel``;
padding is -inf (never wins). With ``return_indices=True`` also returns int32 indices (flat ``ih * W + iw`` of
the winner in its plane, PyTorch's convention) for ``max_pool2d_backward(grad_out, indices, input_shape, kernel,
stride, padding)``.
``avg_pool2d(x, kernel, stride=None, padding=0, *, count_include_pad=True)`` and ``avg_pool2d_backward(grad_out,
input_shape, kernel, stride, padding, *, count_include_pad=True)``: PyTorch's divisor rules.

All kernels are one invocation per output (forward) or per input element (backward, a gather over the windows
that contain the pixel: no atomics, deterministic), except max-pool backward when the windows tile the input
exactly (stride = kernel, no padding, sizes divisible, e.g. LeNet's 2x2 pools): then one invocation per window
writes its pixels (pool/max_pool_backward_tiled.wgsl, ~10x faster on lavapipe), and the forward skips the bounds
checks (pool/max_pool_tiled.wgsl). Each has a numpy twin that the cpu backend runs.
"""

from __future__ import annotations

from ..impl import python as pure
from ..tensor import Tensor, as_tensor
from ._common import WG, operands, require_float

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None


def _pair(value, name: str, minimum: int, op: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None
    if a < minimum or b < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {(a, b)}")
    return a, b


def _geometry(shape, kernel, stride, padding, op: str) -> dict:
    if len(shape) != 4:
        raise ValueError(f"{op}: input must be NCHW (4-D), got shape {tuple(shape)}")
    kh, kw = _pair(kernel, "kernel", 1, op)
    sh, sw = _pair(kernel if stride is None else stride, "stride", 1, op)
    ph, pw = _pair(padding, "padding", 0, op)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel {(kh, kw)}")
    n, c, h, w = (int(s) for s in shape)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: a {kh}x{kw} window does not fit the padded {h}x{w} input")
    return {
        "N": n,
        "C": c,
        "H": h,
        "W": w,
        "OH": oh,
        "OW": ow,
        "KH": kh,
        "KW": kw,
        "sh": sh,
        "sw": sw,
        "ph": ph,
        "pw": pw,
    }


def _params(g: dict, n: int, count_include_pad: bool = False) -> dict:
    """The uniform of pool/pool_common.wgsl (count_include_pad only read by the average kernels)."""
    keys = ("H", "W", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw")
    return {"n": n, **{k: g[k] for k in keys}, "count_include_pad": int(bool(count_include_pad))}


# --- numpy twins ------------------------------------------------------------------------------------------------


def _np_windows(x, g: dict, fill: float):
    """(N, C, OH, OW, KH * KW) window values of the padded input, and the flat in-plane index of each."""
    xp = np.pad(x, ((0, 0), (0, 0), (g["ph"], g["ph"]), (g["pw"], g["pw"])), constant_values=fill)
    rows = np.arange(g["OH"])[:, None] * g["sh"] + np.arange(g["KH"])[None, :]  # padded coordinates
    cols = np.arange(g["OW"])[:, None] * g["sw"] + np.arange(g["KW"])[None, :]
    win = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # N, C, OH, OW, KH, KW
    flat = (rows[:, None, :, None] - g["ph"]) * g["W"] + (cols[None, :, None, :] - g["pw"])
    shape = (*win.shape[:4], g["KH"] * g["KW"])
    return win.reshape(shape), np.broadcast_to(flat, win.shape[2:]).reshape(g["OH"], g["OW"], -1)


def _np_counts(g: dict, count_include_pad: bool):
    y0 = np.arange(g["OH"]) * g["sh"] - g["ph"]
    x0 = np.arange(g["OW"]) * g["sw"] - g["pw"]
    if count_include_pad:
        hs = np.minimum(y0 + g["KH"], g["H"] + g["ph"]) - y0
        ws = np.minimum(x0 + g["KW"], g["W"] + g["pw"]) - x0
    else:
        hs = np.minimum(y0 + g["KH"], g["H"]) - np.maximum(y0, 0)
        ws = np.minimum(x0 + g["KW"], g["W"]) - np.maximum(x0, 0)
    return np.maximum(hs[:, None] * ws[None, :], 1)


def _np_max_pool_2x2(x, g: dict):
    """2x2 windows that tile the input (LeNet's pools): the maximum of each row pair of columns, then of the
    two rows, each with a strict `>` so the first maximum in window order wins (as the kernels and argmax).
    Elementwise passes over strided views: 6x faster than an argmax over a transposed copy (0.56 vs 3.3 ms for
    LeNet's first pool at batch 64)."""
    w = g["W"]
    left, right = x[..., 0::2], x[..., 1::2]
    dx = right > left  # per row: the right column holds the row's maximum
    rows = np.maximum(left, right)
    top, bottom = rows[:, :, 0::2], rows[:, :, 1::2]
    dy = bottom > top
    out = np.maximum(top, bottom)
    top_dx, bottom_dx = dx[:, :, 0::2], dx[:, :, 1::2]
    col = top_dx ^ (dy & (top_dx ^ bottom_dx))  # np.where(dy, bottom_dx, top_dx), 5x faster on these bool views
    base = np.arange(g["OH"], dtype=np.int32)[:, None] * (2 * w) + np.arange(g["OW"], dtype=np.int32) * 2
    return out, base + dy * np.int32(w) + col


def np_max_pool2d(x, g: dict):
    if _tiles(g) and (g["KH"], g["KW"]) == (2, 2):
        return _np_max_pool_2x2(x, g)
    if _tiles(g):  # windows tile the input: a reshape instead of a gather
        n, c, oh, ow, kh, kw = g["N"], g["C"], g["OH"], g["OW"], g["KH"], g["KW"]
        win = x.reshape(n, c, oh, kh, ow, kw).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
        arg = np.argmax(win, axis=-1)
        out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        a, b = np.divmod(arg, kw)
        idx = (np.arange(oh)[:, None] * kh + a) * g["W"] + np.arange(ow) * kw + b
        return out.astype(x.dtype), idx.astype(np.int32)
    win, flat = _np_windows(x, g, -np.inf)
    arg = np.argmax(win, axis=-1)
    out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    idx = np.take_along_axis(np.broadcast_to(flat, win.shape), arg[..., None], axis=-1)[..., 0]
    return out.astype(x.dtype), idx.astype(np.int32)


def np_max_pool2d_backward(gy, idx, g: dict):
    gx = np.zeros((g["N"] * g["C"], g["H"] * g["W"]), gy.dtype)
    if _tiles(g):  # every input pixel wins at most one window: a scatter, no accumulation
        plane = np.arange(0, gx.size, gx.shape[1], dtype=np.intp)[:, None]  # flat index of each (n, c) plane
        gx.reshape(-1)[(idx.reshape(gx.shape[0], -1) + plane).reshape(-1)] = gy.reshape(-1)
        return gx.reshape(g["N"], g["C"], g["H"], g["W"])
    nc = np.arange(g["N"] * g["C"])[:, None]
    np.add.at(
        gx,
        (np.broadcast_to(nc, (nc.shape[0], g["OH"] * g["OW"])), idx.reshape(nc.shape[0], -1)),
        gy.reshape(nc.shape[0], -1),
    )
    return gx.reshape(g["N"], g["C"], g["H"], g["W"])


def np_avg_pool2d(x, g: dict, count_include_pad: bool):
    win, _ = _np_windows(x, g, 0.0)
    return (win.sum(axis=-1) / _np_counts(g, count_include_pad)).astype(x.dtype)


def np_avg_pool2d_backward(gy, g: dict, count_include_pad: bool):
    share = gy / _np_counts(g, count_include_pad)
    gxp = np.zeros((g["N"], g["C"], g["H"] + 2 * g["ph"] + g["sh"], g["W"] + 2 * g["pw"] + g["sw"]), gy.dtype)
    for kh in range(g["KH"]):
        for kw in range(g["KW"]):
            gxp[
                :, :, kh : kh + g["sh"] * (g["OH"] - 1) + 1 : g["sh"], kw : kw + g["sw"] * (g["OW"] - 1) + 1 : g["sw"]
            ] += share
    return np.ascontiguousarray(gxp[:, :, g["ph"] : g["ph"] + g["H"], g["pw"] : g["pw"] + g["W"]]).astype(gy.dtype)


# --- ops ----------------------------------------------------------------------------------------------------------


def _tiles(g: dict) -> bool:
    """The windows tile the input exactly (stride = kernel, no padding, sizes divisible): every pixel lies in one
    window, so max pooling needs no bounds checks and its backward no gather."""
    same = (g["sh"], g["sw"], g["ph"], g["pw"]) == (g["KH"], g["KW"], 0, 0)
    return same and g["H"] == g["OH"] * g["KH"] and g["W"] == g["OW"] * g["KW"]


def _pairs(g: dict) -> bool:
    """2x2 windows tiling rows of a multiple of 4 floats: pool/max_pool_2x2_vec4*.wgsl take two windows per
    invocation from aligned vec4s."""
    return _tiles(g) and (g["KH"], g["KW"]) == (2, 2) and g["W"] % 4 == 0


def _grid(device, n: int):
    return device.grid_1d(-(-n // WG))


def max_pool2d(x, kernel, stride=None, padding=0, *, return_indices: bool = False):
    """Max over KH x KW windows of NCHW ``x``; with ``return_indices`` also the int32 winner indices."""
    device, (x,) = operands(x)
    T = require_float("max_pool2d", x, half=True)
    g = _geometry(x.shape, kernel, stride, padding, "max_pool2d")
    out_shape = (g["N"], g["C"], g["OH"], g["OW"])
    if device.pure:
        out, idx = pure.max_pool2d(x, g)
    elif not device.is_gpu:
        out, idx = np_max_pool2d(x.host(), g)
        out, idx = Tensor.wrap_numpy(out, device), Tensor.wrap_numpy(idx, device)
    else:
        out = Tensor.empty(out_shape, x.dtype_name, device)
        idx = Tensor.empty(out_shape, "int32", device)
        n = out.size
        if n:
            if _pairs(g):
                n = n // 2
                kernel_ = device.kernel("pool/max_pool_2x2_vec4.wgsl", WG=WG, T=T)
            elif _tiles(g):
                kernel_ = device.kernel("pool/max_pool_tiled.wgsl", WG=WG, T=T, KH=g["KH"], KW=g["KW"])
            else:
                kernel_ = device.kernel("pool/max_pool.wgsl", WG=WG, T=T)
            kernel_(_grid(device, n), _params(g, n), x_in=x, out=out, idx=idx)
    return (out, idx) if return_indices else out


def max_pool2d_backward(grad_out, indices, input_shape, kernel, stride=None, padding=0, *, relu_out=None):
    """dL/dx of :func:`max_pool2d` from ``grad_out`` and the ``indices`` it returned.

    ``relu_out``: the pool's output when its input came out of a ReLU; the ReLU's backward is fused in (grad_out
    passes only where relu_out > 0: a window's winner is positive iff the window's max is)."""
    device, (gy, idx) = operands(grad_out, indices)
    if relu_out is not None:
        relu_out = as_tensor(relu_out, device)
        if relu_out.shape != gy.shape:
            raise ValueError(f"max_pool2d_backward: relu_out must have shape {gy.shape}, got {relu_out.shape}")
    require_float("max_pool2d_backward", gy)
    g = _geometry(tuple(input_shape), kernel, stride, padding, "max_pool2d_backward")
    out_shape = (g["N"], g["C"], g["OH"], g["OW"])
    if gy.shape != out_shape or idx.shape != out_shape:
        raise ValueError(
            f"max_pool2d_backward: grad_out and indices must have shape {out_shape}, got {gy.shape}, {idx.shape}"
        )
    if idx.dtype_name != "int32":
        raise TypeError(f"max_pool2d_backward: indices must be int32, got {idx.dtype_name}")
    if device.pure:
        return pure.max_pool2d_backward(gy, idx, g, relu_out)
    if not device.is_gpu:
        gy_h = gy.host() if relu_out is None else np.where(relu_out.host() > 0, gy.host(), np.float32(0))
        return Tensor.wrap_numpy(np_max_pool2d_backward(gy_h, idx.host(), g), device)
    gx = Tensor.empty(tuple(input_shape), "float32", device)
    n = gx.size
    if n:
        if _tiles(g):
            # windows tile the input: one invocation per window (or pair of 2x2 windows) writes its pixels
            m = gy.size
            gate = "true" if relu_out is not None else "false"
            if _pairs(g):
                m //= 2
                kernel_ = device.kernel("pool/max_pool_2x2_vec4_backward.wgsl", WG=WG, GATE=gate)
            else:
                kernel_ = device.kernel("pool/max_pool_backward_tiled.wgsl", WG=WG, GATE=gate, KH=g["KH"], KW=g["KW"])
            kernel_(_grid(device, m), _params(g, m), gy=gy, idx=idx, gx=gx, y=gy if relu_out is None else relu_out)
        else:
            if relu_out is not None:
                from .elementwise import binary

                gy = binary("relu_grad", gy, relu_out)
            kernel_ = device.kernel("pool/max_pool_backward.wgsl", WG=WG)
            kernel_(_grid(device, n), _params(g, n), gy=gy, idx=idx, gx=gx)
    return gx


def avg_pool2d(x, kernel, stride=None, padding=0, *, count_include_pad: bool = True):
    """Mean over KH x KW windows of NCHW ``x`` (zero padding; divisor as PyTorch's ``avg_pool2d``)."""
    device, (x,) = operands(x)
    T = require_float("avg_pool2d", x, half=True)
    g = _geometry(x.shape, kernel, stride, padding, "avg_pool2d")
    if device.pure:
        return pure.avg_pool2d(x, g, count_include_pad)
    if not device.is_gpu:
        return Tensor.wrap_numpy(np_avg_pool2d(x.host(), g, count_include_pad), device)
    out = Tensor.empty((g["N"], g["C"], g["OH"], g["OW"]), x.dtype_name, device)
    n = out.size
    if n:
        params = _params(g, n, count_include_pad)
        device.kernel("pool/avg_pool.wgsl", WG=WG, T=T)(_grid(device, n), params, x_in=x, out=out)
    return out


def avg_pool2d_backward(grad_out, input_shape, kernel, stride=None, padding=0, *, count_include_pad: bool = True):
    """dL/dx of :func:`avg_pool2d` from ``grad_out``."""
    device, (gy,) = operands(grad_out)
    require_float("avg_pool2d_backward", gy)
    g = _geometry(tuple(input_shape), kernel, stride, padding, "avg_pool2d_backward")
    out_shape = (g["N"], g["C"], g["OH"], g["OW"])
    if gy.shape != out_shape:
        raise ValueError(f"avg_pool2d_backward: grad_out must have shape {out_shape}, got {gy.shape}")
    if device.pure:
        return pure.avg_pool2d_backward(gy, g, count_include_pad)
    if not device.is_gpu:
        return Tensor.wrap_numpy(np_avg_pool2d_backward(gy.host(), g, count_include_pad), device)
    gx = Tensor.empty(tuple(input_shape), "float32", device)
    n = gx.size
    if n:
        params = _params(g, n, count_include_pad)
        device.kernel("pool/avg_pool_backward.wgsl", WG=WG)(_grid(device, n), params, gy=gy, gx=gx)
    return gx
