"""Augmentation passes on WebGPU: shaders/augment/resample.wgsl (resampling + the first run of pixel ops),
image_mean.wgsl and color.wgsl (a contrast op and the ops after it), all reading one buffer of packed per-image
parameters (gpuml.augment.stages.pack; the format in gpuml/impl/augment_params.py).

The resampling kernel is one WGSL file whose template is fixed by the case: the source layout (SOURCES: float32,
packed uint8, one uint8 pixel per word), nearest or bilinear, with or without an elastic field, the output store
(OUTPUTS: vec4 rows when Ho * Wo % 4 == 0, else per element; uint8 pixels from the last kernel) and the generated
op sequence. Those are cases, not options. What is an option is how many quads of 4 output pixels one invocation
handles (QUADS): the :data:`RESAMPLE` variant table, chosen per pass (resample and colour kernels alike;
GPUML_RESAMPLE forces one; either is correct at any size).
"""

from __future__ import annotations

import array
from dataclasses import dataclass

from ...backends.variants import Variant, VariantTable
from ...tensor import Tensor, tensor
from ..augment_params import CONTRAST, CUTOUT, GEO_SLOTS, MATRIX, NOISE, NORMALIZE, OP_SLOTS

WG = 64
PX = 4  # pixels per quad (shaders/augment/common.wgsl)
QUADS = 8  # quads per invocation of the "quads8" variant


@dataclass(frozen=True)
class ResampleShape:
    """One pass: images, channels, quads per image, source layout (SOURCES), sampling, elastic, uint8 output."""

    n: int
    c: int
    quads: int
    source: str
    mode: str
    elastic: bool
    u8_out: bool


def _bucket(v: int) -> int:
    return 1 << max(0, (v - 1).bit_length())  # next power of two: one tuning per octave


RESAMPLE = VariantTable(
    "augment_resample",
    [
        Variant("quads8", "augment/resample.wgsl", {"QUADS": QUADS}, lambda caps, g: g.quads >= 4 * QUADS,
                "parameters loaded once per 8 quads (a storage load costs ~50 FMAs on CPU adapters); "
                "from 32 quads per image"),
        Variant("quads1", "augment/resample.wgsl", {"QUADS": 1},
                note="one quad per invocation: the most invocations; small images"),
    ],
    shape_class=lambda g: (g.source, g.c, g.mode, g.elastic, g.u8_out, _bucket(g.quads), _bucket(g.n)),
    force_setting="GPUML_RESAMPLE",
)  # fmt: skip


# Source layouts of resample.wgsl: name -> (SRC_T, LAYOUT). "f32": float32 (N, C, H, W); "u8": uint8 (N, C, H, W)
# packed 4 bytes per u32 word, little-endian; "u8px": uint8, one u32 word per pixel with channel c in byte c
# (C <= 4: one load per bilinear tap for all channels). uint8 reads as byte / 255.
SOURCES = {"f32": ("f32", 0), "u8": ("u32", 1), "u8px": ("u32", 2)}
# Outputs of resample.wgsl / color.wgsl: name -> (OUT_T, PUT: body of store4, PUT_PX: body of store_pixels).
# "vec4": float32 rows, one vec4 per channel and quad (when ho * wo % 4 == 0: quads never straddle planes);
# "f32": float32 per element; "u8px4" / "u8px": uint8 output (C <= 4), one u32 word per pixel, a quad's 4 words
# as one vec4<u32> (ho * wo % 4 == 0) or per pixel.
_F32_PUT = (
    "out[i] = v.x; if (m > 1u) { out[i + 1u] = v.y; } if (m > 2u) { out[i + 2u] = v.z; } "
    "if (m > 3u) { out[i + 3u] = v.w; }"
)
_U8_PUT = (
    "let i = r.n * P.plane + r.e0; out[i] = pack_u8(q[0]); if (r.m > 1u) { out[i + 1u] = pack_u8(q[1]); } "
    "if (r.m > 2u) { out[i + 2u] = pack_u8(q[2]); } if (r.m > 3u) { out[i + 3u] = pack_u8(q[3]); }"
)
OUTPUTS = {
    "vec4": ("vec4<f32>", "out[i >> 2u] = v;", ""),
    "f32": ("f32", _F32_PUT, ""),
    "u8px4": (
        "vec4<u32>",
        "",
        "out[(r.n * P.plane + r.e0) >> 2u] = vec4<u32>(pack_u8(q[0]), pack_u8(q[1]), pack_u8(q[2]), pack_u8(q[3]));",
    ),
    "u8px": ("u32", "", _U8_PUT),
}
# Inputs of color.wgsl (float32 rows): (name, in place) -> (IN_T, GET: body of load4). In place, the kernel reads
# and rewrites `out` (float32 output; `inp` is then bound to a dummy); otherwise it reads `inp` (uint8 output).
_F32_GET = (
    "var v = vec4<f32>(B[i], 0.0, 0.0, 0.0); if (m > 1u) { v.y = B[i + 1u]; } "
    "if (m > 2u) { v.z = B[i + 2u]; } if (m > 3u) { v.w = B[i + 3u]; } return v;"
)
INPUTS = {
    (rows, in_place): (t, get.replace("B[", "out[" if in_place else "inp["))
    for rows, t, get in (("vec4", "vec4<f32>", "return B[i >> 2u];"), ("f32", "f32", _F32_GET))
    for in_place in (False, True)
}


def ops_wgsl(ops: list, first: int, count: int, c: int, clip: bool) -> tuple[str, str]:
    """(OPS_LOAD, OPS): WGSL statements for ops [first, first + count) of resample.wgsl / color.wgsl (op
    functions in common.wgsl). OPS_LOAD loads each op's parameters once per invocation (image ``n``, slot block
    ``blk``, constant slot offsets); OPS applies them to the quad ``q`` (channel group ``c0``, quad ``r``)."""
    loads, lines = [], []
    for j in range(first, first + count):
        code, s = ops[j].code, GEO_SLOTS + OP_SLOTS * j
        nslots = {MATRIX: 3 if c >= 3 else 1, CONTRAST: 1, NOISE: 1, CUTOUT: 2, NORMALIZE: 3}.get(code)
        if nslots is None:
            raise ValueError(f"unknown pixel op code {code}")
        o = [f"o{j}_{k}" for k in range(nslots)]
        loads += [f"let {name} = slot(blk + {s + k}u);" for k, name in enumerate(o)]
        if code == MATRIX and c >= 3:
            call = f"op_matrix(q, c0, {o[0]}, {o[1]}, {o[2]})"
        elif code == MATRIX:
            call = f"op_scale(q, c0, {o[0]})"
        elif code == CONTRAST:
            loads.append(f"let o{j}_mean = stats[n];")
            call = f"op_contrast(q, c0, {o[0]}.x, o{j}_mean)"
        elif code == NOISE:
            call = f"op_noise(q, c0, {o[0]}, r.xs, r.ys)"
        elif code == NORMALIZE:
            call = f"op_normalize(q, c0, {o[0]}, {o[1]}, {o[2]}.x)"
        else:
            call = f"op_cutout(q, {o[0]}, {o[1]}.x, r.xs, r.ys)"
        lines.append(f"q = {call};" + (" q = clip_quad(q);" if clip and code != NORMALIZE else ""))
    return "\n    ".join(loads) or "// no ops", "\n            ".join(lines) or "// no ops"


def _uniform(ps, shape, base: int, lo, hi, per: int) -> dict:
    n, _c, h, w = shape
    ho, wo = ps.out_hw
    quads = -(-(ho * wo) // PX)
    return {
        "n": n,
        "h": h,
        "w": w,
        "ho": ho,
        "wo": wo,
        "plane": ho * wo,
        "quads": quads,
        "qpi": -(-quads // per),
        "stride": ps.stride,
        "base": base,
        "fill": ps.fill,
        "lo": lo,
        "hi": hi,
    }


def quads_per_invocation(device, shape: ResampleShape, run=None) -> int:
    """QUADS of resample.wgsl / color.wgsl for a pass (several quads per invocation share its parameter loads):
    RESAMPLE.choose (the static order: 8 from 32 quads per image, else 1)."""
    return RESAMPLE.choose(device, shape, run).template["QUADS"]


def augment_passes(x: Tensor, passes: list, raw: bytes, bases: list[int], clip: bool, lo: float, hi: float, shape,
            u8_layout: str | None = None, out_u8: bool = False) -> Tensor:  # fmt: skip
    """Run ``passes`` (gpuml.augment.stages.plan) with their packed parameters ``raw`` (pass p at vec4 slot
    ``bases[p]``) over the (N, C, H, W) batch ``x``: float32, or uint8 packed into uint32 words as ``u8_layout``
    says ("u8", "u8px"; SOURCES). Returns float32 (N, C, Ho, Wo), or with ``out_u8`` the N * Ho * Wo "u8px" words."""
    n, c, _, _ = shape
    device = x.device
    words = array.array("I")
    words.frombytes(raw)
    prm = tensor(words, device=device)
    stats = Tensor.empty((max(n, 4),), "float32", device)
    source = u8_layout or "f32"
    cur = x
    for pi, (ps, base) in enumerate(zip(passes, bases, strict=True)):
        ho, wo = ps.out_hw
        last = pi == len(passes) - 1
        geometry = ResampleShape(n, c, -(-(ho * wo) // PX), source, ps.mode, ps.elastic is not None, out_u8 and last)
        args = (device, ps, base, cur, source, prm, stats, n, c, clip, lo, hi, out_u8 and last)

        def run(variant: Variant, args=args) -> None:
            _record_pass(*args, variant.template["QUADS"])  # into new tensors: the pass's input is not touched

        cur = _record_pass(*args, quads_per_invocation(device, geometry, run))
        source = "f32"
    return cur


def _record_pass(device, ps, base, src, source, prm, stats, n, c, clip, lo, hi, u8_last, per) -> Tensor:
    """Record one pass (resample.wgsl, then per contrast segment image_mean.wgsl + color.wgsl); returns its output."""
    ho, wo = ps.out_hw
    quads = -(-(ho * wo) // PX)
    partials = Tensor.empty((max(n * quads if len(ps.segments) > 1 else 0, 4),), "float32", device)
    rows = "vec4" if (ho * wo) % PX == 0 else "f32"
    grid = device.grid_1d(-(-(n * -(-quads // per)) // WG))
    u = _uniform(ps, (n, c, *ps.in_hw), base, lo, hi, per)
    segments = ps.segments or [(0, 0)]
    cur = src
    for k, (first, count) in enumerate(segments):
        u8_out = u8_last and k == len(segments) - 1
        dst = ("u8px4" if rows == "vec4" else "u8px") if u8_out else rows
        out_t, put, put_px = OUTPUTS[dst]
        shape = (n * ho * wo,) if u8_out else (n, c, ho, wo)
        in_place = k > 0 and not u8_out  # a float32 contrast segment rewrites the image it reads
        out = cur if in_place else Tensor.empty(shape, "uint32" if u8_out else "float32", device)
        if not out.size:
            return out
        load, code = ops_wgsl(ps.ops, first, count, c, clip)
        kw = {"WG": WG, "C": c, "QUADS": per, "OUT_T": out_t, "PUT": put, "PUT_PX": put_px, "PIXEL_OUT": u8_out}
        kw.update(OPS_LOAD=load, OPS=code, PARTIALS=k + 1 < len(segments))  # PARTIALS: a contrast op follows
        if k == 0:
            mode, layout = 1 if ps.mode == "bilinear" else 0, SOURCES[source]
            resample = device.kernel(
                "augment/resample.wgsl", **kw, MODE=mode, ELASTIC=ps.elastic is not None, SRC_T=layout[0],
                LAYOUT=layout[1],
            )  # fmt: skip
            resample(grid, u, prm=prm, src=cur, stats=stats, partials=partials, out=out)
        else:
            mean = device.kernel("augment/image_mean.wgsl", WG=WG)
            mean(device.grid_1d(n), {"n": n, "quads": quads, "plane": ho * wo}, partials=partials, stats=stats)
            in_t, get = INPUTS[(rows, in_place)]
            color = device.kernel("augment/color.wgsl", **kw, IN_T=in_t, GET=get)
            color(grid, u, prm=prm, stats=stats, partials=partials, inp=stats if in_place else cur, out=out)
        cur = out
    return cur
