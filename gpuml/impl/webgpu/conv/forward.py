"""conv2d forward on WebGPU: the host code of every variant in :data:`CONV2D` (gpuml/impl/webgpu/conv/variants.py)
and the entry point that picks one (forced algorithm, static order or measurement) and records it for
``last_conv_algo``. Large batches are processed in chunks of images so that no temporary exceeds CHUNK_BYTES."""

from __future__ import annotations

from ....tensor import Tensor
from .._common import WG
from ..linalg import gemm, gemm_kernel_for, pad2d
from . import _common as c
from ._common import EPI_WG, HEAVY_WG, flags, grid, heavy_grid, lanes, r4, software
from .variants import ALGO_OF, CONV2D, FAMILY, ConvCase


def direct(device, g, x, w, b, relu, wstrides=None, out=None):
    """conv/direct.wgsl over geometry ``g``; ``wstrides`` = (w_g, w_o, w_c, w_t0, w_ts) addresses the weights
    (default: w as (OC, Cg, KH, KW))."""
    out = Tensor.empty(g.out_shape, "float32", device) if out is None else out
    # channels per invocation (direct.wgsl's OC_BLOCK): 4, 8 or 16; each input load feeds that many FMAs.
    # The wide variants hold 64/128 accumulators per invocation: CPU adapters only (a GPU thread would spill).
    per = 4 if not software(device) else 16 if g.OCg > 8 else 8 if g.OCg > 4 else 4
    # pixels per invocation: 16 (direct8x16.wgsl) when each invocation walks enough kernel rows to amortise its
    # 2x larger epilogue (measured on lavapipe: a win for LeNet conv2's grad_x, a loss for conv1's forward)
    px = 16 if per == 8 and g.OW > 8 and g.Cg * g.KH >= 16 else 8
    ocb, owb = per // 4 * -(-g.OCg // per), -(-g.OW // px)
    n = g.N * g.G * (ocb * 4 // per) * g.OH * owb
    bias, fl = flags(device, b, relu)
    khw = g.KH * g.KW
    w_g, w_o, w_c, w_t0, w_ts = wstrides or (g.OCg * g.Cg * khw, g.Cg * khw, khw, 0, 1)
    params = {
        "n": n,
        **g.pick("C", "H", "W", "Cg", "OCg", "OC", "KH", "KW", "OH", "OW"),
        "OCB": ocb,
        "OWB": owb,
        "G": g.G,
        **g.geometry_params(),
        **fl,
        "wsh_max": 1024,  # vec4s of workgroup memory for staged weights (16 KiB, the WebGPU default limit)
    }
    wp = Tensor.empty((g.G * ocb, g.Cg, khw, 4), "float32", device)
    m = g.G * ocb * g.Cg * khw
    pack = {"n": m, "KHW": khw, "Cg": g.Cg, "OCB": ocb, "OCg": g.OCg, "w_g": w_g, "w_o": w_o, "w_c": w_c}
    pack.update({"w_t0": w_t0, "w_ts": w_ts})
    device.kernel("conv/direct_wpack.wgsl", WG=WG)(grid(device, m), pack, w=w, wp=wp)
    if px == 16:
        kernel = device.kernel("conv/direct8x16.wgsl", WG=HEAVY_WG)
    else:
        kernel = device.kernel("conv/direct.wgsl", WG=HEAVY_WG, OC_BLOCK=per)
    kernel(heavy_grid(device, n), params, x_in=x, wp=wp, bias=bias, out=out)
    wp.free()
    return out


def implicit(device, g, x, w, b, relu):
    """Forward as an implicit GEMM (conv/implicit.wgsl, f32 or f16); needs OH * OW % 4 == 0."""
    k4, ocg16 = r4(g.K), -(-g.OCg // 16) * 16
    wa = pad2d(w, g.G, g.OCg, g.K, ocg16, k4)
    out = Tensor.empty(g.out_shape, x.dtype_name, device)
    T = "f16" if x.dtype_name == "float16" else "f32"
    rb = ocg16 // 16
    np4 = g.N * g.P // 4
    n = g.G * rb * np4
    bias, fl = flags(device, b, relu)
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
        **fl,
        "wsh_max": 1024,  # vec4s of workgroup memory for the staged weight rows (16 KiB)
    }
    kernel = device.kernel("conv/implicit.wgsl", WG=HEAVY_WG, T=T)
    kernel(heavy_grid(device, n), params, x_in=x, wa=wa, bias=bias, out=out)
    wa.free()
    return out


def implicit_rows(device, g, x, w, b, relu, wstrides=None, out=None):
    """Forward on conv/implicit_rows.wgsl: a window sliding along input rows, weights shared by subgroupBroadcast.
    ``wstrides`` = (w_o, w_c, w_t0, w_ts) addresses the weights (default: w as (OC, C, KH, KW))."""
    khw = g.KH * g.KW
    w_o, w_c, w_t0, w_ts = wstrides or (g.C * khw, khw, 0, 1)
    m = g.OC * g.C * g.KH * 8
    wp = Tensor.empty((g.OC, g.C, g.KH, 8), "float32", device)
    pack = {"n": m, "Cg": g.C, "KH": g.KH, "KW": g.KW, "w_o": w_o, "w_c": w_c, "w_t0": w_t0, "w_ts": w_ts}
    device.kernel("conv/rows_wpack.wgsl", WG=WG)(grid(device, m), pack, w=w, wp=wp)
    out = Tensor.empty(g.out_shape, "float32", device) if out is None else out
    owq = -(-g.OW // 4)
    npx = g.N * g.OH * owq
    tile = 8 if g.OC <= 8 else 16
    bias, fl = flags(device, b, relu)
    params = {"npx": npx, **g.pick("C", "H", "W", "OC", "KH", "OH", "OW"), "OWq": owq, **fl}
    params.update(sh=g.sh, ph=g.ph, pw=g.pw, dh=g.dh)
    kernel = device.kernel("conv/implicit_rows.wgsl", ROWS=tile, KW=g.KW, LANES=8 if lanes(device) >= 8 else 4)
    kernel((-(-npx // 8), -(-g.OC // tile), 1), params, x_in=x, wp=wp, bias=bias, out=out)
    wp.free()
    return out


def tap_params(g, n: int, k4: int, npc: int, nimg: int, n0: int) -> dict:
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


def _row_layout(g) -> int:
    """Output columns per row in the column matrix: OW rounded up to 4 when that lets conv/im2col.wgsl slide a
    window along input rows (stride and dilation 1 across; at most 25% padding columns), else OW."""
    owc = r4(g.OW)
    return owc if g.sw == 1 and g.dw == 1 and owc * 4 <= g.OW * 5 else g.OW


def _im2col(device, g, x, k4: int, npc: int, nimg: int, n0: int, owc: int | None = None, blk: int = 0) -> Tensor:
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
    params = {**tap_params(g, n, k4, npc, nimg, n0), "CPB": cpb, "CB": cb, "OWc": owc, "Pc": g.OH * owc}
    params["NP"] = nimg * g.OH * owc
    device.kernel("conv/im2col.wgsl", WG=WG, BLK=blk // 4)(grid(device, n), params, x_in=x, cols=cols)
    return cols


def im2col(device, g, x, w, b, relu):
    k4 = r4(g.K)
    wa = w.reshape(g.OC, g.K) if k4 == g.K else pad2d(w, 1, g.OC, g.K, g.OC, k4)  # (OC, K4), zero columns K..K4
    out = Tensor.empty(g.out_shape, "float32", device)
    bias, fl = flags(device, b, relu)
    owc = _row_layout(g)
    pc = g.OH * owc
    # short A (<= 16 output channels, one group) on the subgroup GEMM: blocked columns, one GEMM per 64-column block
    # (the B operand is streamed once with no reuse across row tiles; contiguous blocks are faster on lavapipe)
    blk = 64 if g.G == 1 and g.OC <= 16 and gemm_kernel_for(device) == "subgroup" else 0
    if blk and -(-g.N * pc // blk) > int(device.limits.get("max_compute_workgroups_per_dimension", 65535)):
        blk = 0  # one GEMM batch element per block: keep within the grid limit
    for n0, nimg in c.chunks(g.N, 4 * g.G * k4 * pc + 4 * g.OC * pc):
        npc = -(-nimg * pc // blk) * blk if blk else r4(nimg * pc)
        cols = _im2col(device, g, x, k4, npc, nimg, n0, owc, blk)
        y = Tensor.empty((g.OC, npc), "float32", device)
        if blk:
            gemm(wa, cols, y, g.OC, blk, k4, batch=npc // blk, stride_a=0, stride_b=k4 * blk, stride_c=g.OC * blk)
        else:
            gemm(wa, cols, y, g.OCg, npc, k4, batch=g.G, stride_a=g.OCg * k4, stride_b=k4 * npc, stride_c=g.OCg * npc)
        cols.free()
        if not blk and g.N == 1 and npc == g.P and not fl["has_bias"] and not fl["relu"]:
            out.free()
            return y.reshape(g.out_shape)  # one image, one group's rows after another: already NCHW
        params = {"OC": g.OC, "P": g.P, "OW": g.OW, "OWc": owc, "Pc": pc, "NPc": npc, "out_offset": n0 * g.OC * g.P}
        grid3 = (-(-g.P // EPI_WG), g.OC, nimg)
        device.kernel("conv/bias_act.wgsl", WG=EPI_WG, BLK=blk)(grid3, {**params, **fl}, y=y, bias=bias, out=out)
        y.free()
    return out


def winograd(device, g, x, w, b, relu, m: int):
    alpha = m + 2
    a2 = alpha * alpha
    tmpl = {"WG": WG, "M": m, "ALPHA": alpha}
    cg4 = r4(g.Cg)
    th, tw = -(-g.OH // m), -(-g.OW // m)
    # weight transform (on the device: weights change every training step)
    u = Tensor.empty((a2, g.OC, cg4), "float32", device)
    nw = g.OC * cg4
    device.kernel("conv/winograd_weight.wgsl", **tmpl)(grid(device, nw), {"n": nw, "Cg": g.Cg, "Cg4": cg4}, w=w, u=u)
    out = Tensor.empty(g.out_shape, "float32", device)
    bias, fl = flags(device, b, relu)
    for n0, nimg in c.chunks(g.N, 4 * a2 * th * tw * (g.G * cg4 + g.OC)):
        t = nimg * th * tw
        t4 = r4(t)
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
        device.kernel("conv/winograd_input.wgsl", **tmpl)(grid(device, nv), params, x_in=x, v=v)
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
            **fl,
        }
        device.kernel("conv/winograd_output.wgsl", **tmpl)(grid(device, no), params, y=y, bias=bias, out=out)
        y.free()
    u.free()
    return out


RUN = {
    "implicit_rows": implicit_rows,
    "implicit": implicit,
    "direct": direct,
    "im2col": im2col,
    "winograd2": lambda device, g, x, w, b, relu: winograd(device, g, x, w, b, relu, 2),
    "winograd4": lambda device, g, x, w, b, relu: winograd(device, g, x, w, b, relu, 4),
}


def conv_case(device, g, f16: bool = False) -> ConvCase:
    return ConvCase(g, f16, c.grid_limit(device))


def choose(device, g, x, w, b, relu, algo: str) -> str:
    """The kernel to run: ``auto`` asks the table (static order, or measurement with tuning on); a public algorithm
    names its family ("direct": implicit_rows, implicit, direct), taken in static order."""
    case = conv_case(device, g, x.dtype_name == "float16")
    if algo != "auto":
        return CONV2D.static_in(device.caps, case, FAMILY[algo]).name

    def run(variant) -> None:
        RUN[variant.name](device, g, x, w, b, relu)

    return CONV2D.choose(device, case, run if g.N else None).name


def conv2d(x: Tensor, w: Tensor, b: Tensor | None, g, algo: str, relu: bool) -> Tensor:
    """``algo``: a public algorithm (validated by gpuml.ops.conv2d) or "auto". Records the kernel that ran in
    ``device.op_state["conv2d.last"]``."""
    device = x.device
    kernel = choose(device, g, x, w, b, relu, algo)
    device.op_state["conv2d.last"] = kernel
    if g.N == 0:
        return Tensor.empty(g.out_shape, x.dtype_name, device)
    return RUN[kernel](device, g, x, w, b, relu)


def conv2d_algo(device, g) -> str:
    """The public algorithm ``auto`` runs for ``g`` on ``device`` by the static order (what gpuml.ops.conv's
    choose_conv_algo reports)."""
    return ALGO_OF[CONV2D.applicable(device.caps, conv_case(device, g))[0].name]
