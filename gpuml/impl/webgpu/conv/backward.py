"""conv2d backward on WebGPU: two paths, both deterministic (no atomics), chosen by the rule in :func:`path`.

- column-free, where the column matrices cost more than the arithmetic (few channels, ``Cg * OCg < 64``, or CPU
  adapters up to ``Cg * OCg = 1024``), when grad_out's planes hold whole vec4s (``OH * OW % 4 == 0``) and, for
  grad_x, stride 1 with ``padding <= dilation * (kernel - 1)``: grad_w and grad_b in one pass over S chunks of
  output pixels by the first kernel of :data:`GRAD_W` that fits — conv/grad_w_sg.wgsl (a lane per kernel row, dY
  shared by subgroupBroadcast; CPU adapters, both LeNet convolutions), conv/grad_w_rows.wgsl (few output channels,
  horizontal stride/dilation 1) or the implicit GEMM conv/grad_w.wgsl (bias as a constant-1 tap) — then
  conv/grad_w_finish.wgsl sums the chunks (into ``out=`` views when given); grad_x = conv(grad_out, W flipped and
  transposed per group, padding dilation*(K-1) - padding) on conv/implicit_rows.wgsl on CPU adapters where it
  applies, else the direct kernels (the flip is in the weight packing);
- otherwise im2col + GEMM: grad_b = row sums of grad_out, grad_w = dY . cols^T (split-K over image columns when
  there are few groups), grad_x = col2im(W^T . dY) as a gather.
"""

from __future__ import annotations

from dataclasses import replace

from ....tensor import Tensor
from .._common import WG
from ..linalg import gemm, pad2d
from . import _common as c
from ._common import HEAVY_WG, grid, heavy_grid, lanes, r4, software
from .forward import conv_case, direct, implicit_rows, tap_params
from .variants import rows_fit

# --- the path rule, as named predicates -------------------------------------------------------------------------


def few_channels(g) -> bool:
    return g.Cg * g.OCg < 64


def column_free(caps, g) -> bool:
    """Few channels, or CPU adapters up to Cg * OCg = 1024, where the column matrices cost more than the
    arithmetic (benchmarks/RESULTS.md, "conv auto rule")."""
    return few_channels(g) or (caps.software and g.Cg * g.OCg <= 1024)


def direct_grad_x_fits(g) -> bool:
    """grad_x as a direct convolution of grad_out needs stride 1 and padding <= dilation * (kernel - 1)."""
    return g.sh == 1 and g.sw == 1 and g.ph <= g.dh * (g.KH - 1) and g.pw <= g.dw * (g.KW - 1)


def grad_w_sg_fits(caps, g) -> bool:
    """conv/grad_w_sg.wgsl: CPU adapters with subgroups of >= 4 lanes, one group, OC <= 16, KW <= 5, stride and
    dilation 1 across."""
    return caps.software and caps.subgroup_size >= 4 and g.G == 1 and g.OC <= 16 and g.KW <= 5 and g.sw == g.dw == 1


def grad_w_rows_fits(g) -> bool:
    """conv/grad_w_rows.wgsl: few output channels, horizontal stride and dilation 1, KW <= 8, OW % 4 == 0."""
    return g.OCg <= 8 and g.sw == 1 and g.dw == 1 and g.KW <= 8 and g.OW % 4 == 0


def path(caps, g, input_grad: bool) -> str:
    """ "column-free" or "gemm" (see the module docstring)."""
    grad_w_ok = g.P % 4 == 0 and column_free(caps, g)
    grad_x_ok = not input_grad or (direct_grad_x_fits(g) and column_free(caps, g))
    return "column-free" if g.N and grad_w_ok and grad_x_ok else "gemm"


# --- weight gradients without column matrices --------------------------------------------------------------------

# conv/grad_w_sg.wgsl: about this many workgroups (chunks of output rows x groups of 8 kernel rows), enough to keep
# both of lavapipe's threads busy with few partial sums to add up
GRAD_W_SG_WORKGROUPS = 32


def grad_w_sg(device, g, x, gy, out=None) -> tuple[Tensor, Tensor]:
    """(grad_w, grad_b) by conv/grad_w_sg.wgsl (S chunks of output rows) + conv/grad_w_finish.wgsl."""
    kb = r4(g.K + 1)
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
    aligned = "true" if g.OW % 4 == 0 else "false"
    kernel = device.kernel("conv/grad_w_sg.wgsl", LANES=8 if lanes(device) >= 8 else 4, ALIGNED=aligned)
    kernel((s, groups, 1), params, x_in=x, dy=gy, dy4=gy, part=part)
    return grad_w_finish(device, g, part, kb, g.OC, s, out)


def grad_w_rows(device, g, x, gy, out=None) -> tuple[Tensor, Tensor]:
    """(grad_w, grad_b) by conv/grad_w_rows.wgsl (S chunks of output rows) + conv/grad_w_finish.wgsl."""
    kb = r4(g.K + 1)
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
    device.kernel("conv/grad_w_rows.wgsl", WG=HEAVY_WG)(heavy_grid(device, n), params, x_in=x, dy=gy, part=part)
    return grad_w_finish(device, g, part, kb, g.OCg, s, out)


def grad_w_implicit(device, g, x, gy, out=None) -> tuple[Tensor, Tensor]:
    """(grad_w, grad_b) by conv/grad_w.wgsl (S chunks of pixels in parallel) + conv/grad_w_finish.wgsl."""
    kb = r4(g.K + 1)
    kb4 = kb // 4
    ocg16 = -(-g.OCg // 16) * 16
    rb = ocg16 // 16
    np_ = g.N * g.P
    per = g.G * rb * kb4  # invocations per chunk
    s = max(1, min(-(-1024 // per), -(-np_ // 64)))
    lc = r4(-(-np_ // s))
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
    device.kernel("conv/grad_w.wgsl", WG=HEAVY_WG)(heavy_grid(device, n), params, x_in=x, dy=gy, part=part)
    return grad_w_finish(device, g, part, kb, ocg16, s, out)


def grad_w_finish(device, g, part, kb: int, rows: int, s: int, out=None) -> tuple[Tensor, Tensor]:
    """Sum the partials into (grad_w, grad_b): new tensors, or ``out``'s where they can be bound (aligned)."""
    align = int(device.limits.get("min_storage_buffer_offset_alignment", 256))
    if out is not None and all(t.byte_offset % align == 0 and t.dtype_name == "float32" for t in out):
        gw, gb = out
    else:
        gw = Tensor.empty((g.OC, g.Cg, g.KH, g.KW), "float32", device)
        gb = Tensor.empty((g.OC,), "float32", device)
    n = g.OC * (g.K + 1)
    params = {"n": n, "K": g.K, "KB": kb, "OCg": g.OCg, "OCg16": rows, "S": s}
    device.kernel("conv/grad_w_finish.wgsl", WG=WG)(grid(device, n), params, part=part, gw=gw, gb=gb)
    part.free()
    return gw, gb


# the weight-gradient kernels of the column-free path, first that fits wins
GRAD_W = (
    ("grad_w_sg", grad_w_sg_fits, grad_w_sg),
    ("grad_w_rows", lambda caps, g: grad_w_rows_fits(g), grad_w_rows),
    ("grad_w", lambda caps, g: True, grad_w_implicit),
)


def direct_grad_x(device, g, w, gy, gx):
    """grad_x of a stride-1 convolution = conv(grad_out, W flipped and transposed per group) with padding
    dilation * (K - 1) - padding, on conv/implicit_rows.wgsl or conv/direct.wgsl (the flip/transpose is in the
    weight addressing)."""
    t = replace(g, C=g.OC, H=g.OH, W=g.OW, OC=g.C, sh=1, sw=1, ph=g.dh * (g.KH - 1) - g.ph, pw=g.dw * (g.KW - 1) - g.pw)
    khw = g.KH * g.KW
    if software(device) and rows_fit(device.caps, conv_case(device, t)):
        return implicit_rows(device, t, gy, w, None, False, (khw, g.C * khw, khw - 1, -1), out=gx)
    wstrides = (g.OCg * g.Cg * khw, khw, g.Cg * khw, khw - 1, -1)
    return direct(device, t, gy, w, None, False, wstrides, out=gx)


# --- im2col + GEMM ------------------------------------------------------------------------------------------------


def split_k(g, np_cols: int, k4: int) -> int:
    """Chunks S of the image columns for the weight-gradient GEMM (split-K), G == 1 only: the GEMM has
    ceil(K4/32) x ceil(OCg/32) x G workgroups, often fewer than the cores; S multiplies them while each
    chunk keeps >= 512 columns."""
    if g.G > 1:
        return 1
    tiles = -(-k4 // 32) * -(-g.OCg // 32)
    return max(1, min(-(-16 // tiles), np_cols // 512))


def _sum(t: Tensor, outer: int, r: int, inner: int, out_shape) -> Tensor:
    return t.device.impl.reduce("sum", False, t, outer, r, inner, out_shape)


def _add(a: Tensor, b: Tensor) -> Tensor:
    strides = [0 if s == 1 else st for s, st in zip(a.shape, _contiguous(a.shape), strict=True)]
    return a.device.impl.binary("add", a, b, 0.0, a.shape, strides, strides)


def _contiguous(shape) -> list[int]:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return out[::-1]


def backward_gemm(device, g, x, w, gy, input_grad: bool = True):
    k4, ocg4 = r4(g.K), r4(g.OCg)
    gx = Tensor.empty((g.N, g.C, g.H, g.W), "float32", device) if input_grad else None
    # W^T per group, padded on the contracted (OCg) axis: (G, K, OCg4)
    wt = None
    if input_grad:
        wt = device.impl.transpose(w.reshape(g.G, g.OCg, g.K), (0, 2, 1), (g.G, g.K, g.OCg), [g.OCg * g.K, g.K, 1])
        if ocg4 != g.OCg:
            wt = pad2d(wt, g.G, g.K, g.OCg, g.K, ocg4)
    grad_w = grad_b = None
    per_image = 4 * g.P * (g.G * (k4 + ocg4) + g.G * g.K)
    for n0, nimg in c.chunks(g.N, per_image):
        np_ = nimg * g.P
        s = split_k(g, np_, k4)
        lc = r4(-(-np_ // s))
        npc = s * lc
        # dY packed (G, S, OCg4, Lc), zero padded
        dyp = Tensor.empty((g.G, s, ocg4, lc), "float32", device)
        n = dyp.size
        params = {"n": n, "OC": g.OC, "OCg": g.OCg, "OCg4": ocg4, "S": s, "Lc": lc, "P": g.P, "NP": np_, "n0": n0}
        device.kernel("conv/dy_pack.wgsl", WG=WG)(grid(device, n), params, dy=gy, dyp=dyp)
        # grad_b: row sums of the packed dY
        gb = _sum(dyp, g.G * s * ocg4, lc, 1, (g.G, s, ocg4))
        if s > 1:
            gb = _sum(gb, g.G, s, ocg4, (g.G, ocg4))
        gb = pad2d(gb, g.G, 1, ocg4, 1, g.OCg).reshape(g.OC)
        # grad_w = dY . cols^T, split-K over S chunks of image columns
        colst = Tensor.empty((g.G, npc, k4), "float32", device)
        n = g.G * npc
        im2col_t = device.kernel("conv/im2col_t.wgsl", WG=WG)
        im2col_t(grid(device, n), tap_params(g, n, k4, npc, nimg, n0), x_in=x, cols=colst)
        gwp = Tensor.empty((g.G * s, g.OCg, k4), "float32", device)
        gemm(dyp, colst, gwp, g.OCg, k4, lc, batch=g.G * s, stride_a=ocg4 * lc, stride_b=lc * k4, stride_c=g.OCg * k4)
        colst.free()
        if s > 1:
            gwp = _sum(gwp, 1, g.G * s, g.OCg * k4, (g.OCg, k4))  # G == 1 when S > 1
        gw = (gwp if k4 == g.K else pad2d(gwp, 1, g.OC, k4, g.OC, g.K)).reshape(g.OC, g.Cg, g.KH, g.KW)
        grad_w = gw if grad_w is None else _add(grad_w, gw)
        grad_b = gb if grad_b is None else _add(grad_b, gb)
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
        device.kernel("conv/col2im.wgsl", WG=WG)(grid(device, n), params, dcols=dcols, gx=gx)
        dcols.free()
    if grad_w is None:  # N == 0
        grad_w = device.impl.fill(Tensor.empty(tuple(w.shape), "float32", device), 0)
        grad_b = device.impl.fill(Tensor.empty((g.OC,), "float32", device), 0)
    return gx, grad_w, grad_b


def conv2d_backward(x: Tensor, w: Tensor, gy: Tensor, g, input_grad: bool = True, out=None):
    """(grad_x or None, grad_w, grad_b); ``out=(grad_w, grad_b)`` receive the weight gradients where the last
    kernel can bind them (the caller copies otherwise)."""
    device = x.device
    if path(device.caps, g, input_grad) == "gemm":
        return backward_gemm(device, g, x, w, gy, input_grad)
    run = next(fn for _, fits, fn in GRAD_W if fits(device.caps, g))
    gw, gb = run(device, g, x, gy, out)
    gx = None
    if input_grad:
        gx = direct_grad_x(device, g, w, gy, Tensor.empty((g.N, g.C, g.H, g.W), "float32", device))
    return gx, gw, gb
