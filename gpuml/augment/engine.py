"""Execution of augmentation stages: fusion into passes, parameter packing, the WGSL kernels and their numpy twin.

A transform turns its per-image parameters into *stages* (``Geo``, ``Elastic``, ``Pixel``). :func:`plan` fuses
them into passes: a pass is one resampling kernel (every consecutive geometric stage composed into one per-image
2x3 matrix, at most one elastic field in between) followed by pixel ops run in registers; a contrast op needs
the image mean, so it starts a new segment (one mean dispatch + one in-place op dispatch). A geometric stage
after a pixel op starts a new pass (resampling does not commute with noise, clipping or fill). All per-image
parameters of a run go up in one buffer; kernels are deterministic functions of (image, parameters).

Coordinates follow Pillow: a matrix maps an *output* pixel-centre coordinate (x + 0.5, y + 0.5) to a continuous
*input* coordinate; nearest samples pixel floor(q), bilinear samples q - 0.5 with edge clamping, and points
outside [0, W) x [0, H) of the source get the fill value. A fused pass checks bounds against the source only, so
a region an intermediate step would have filled can show source pixels (documented in gpuml/augment/__init__).

This module imports without numpy (Pyodide core): packing uses ``struct``/``array``; only the cpu twin needs numpy
(the python backend runs the pure-Python twin in gpuml.augment.pure).
"""

from __future__ import annotations

import array
import math
import struct
from dataclasses import dataclass, field

from ..tensor import Tensor

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

WG = 64
PX = 4  # pixels per quad (shaders/augment/common.wgsl)
QUADS = 8  # quads per invocation (fewer for small images)
MAX_OPS = 16  # pixel ops per pass (each is generated code in the kernel)
GEO_SLOTS = 5  # A (2 slots), B (2), elastic (1)
OP_SLOTS = 3

MATRIX, CONTRAST, NOISE, CUTOUT = 0, 1, 2, 3
OP_FORMATS = {MATRIX: "f" * 12, CONTRAST: "f" * 12, NOISE: "fI" + "f" * 10, CUTOUT: "f" * 12}
OP_IDENTITY = {
    MATRIX: (1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    CONTRAST: (1.0,) + (0.0,) * 11,
    NOISE: (0.0, 0) + (0.0,) * 10,
    CUTOUT: (0.0,) * 12,
}
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
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, Pillow's "L"
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

Mat = tuple[float, float, float, float, float, float]


def compose(p: Mat, q: Mat) -> Mat:
    """p ∘ q (apply q first) for 2x3 affine maps."""
    return (
        p[0] * q[0] + p[1] * q[3],
        p[0] * q[1] + p[1] * q[4],
        p[0] * q[2] + p[1] * q[5] + p[2],
        p[3] * q[0] + p[4] * q[3],
        p[3] * q[1] + p[4] * q[4],
        p[3] * q[2] + p[4] * q[5] + p[5],
    )


def invert(m: Mat) -> Mat:
    a, b, c, d, e, f = m
    det = a * e - b * d
    if det == 0:
        raise ValueError(f"affine matrix {m} is singular")
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return (ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f))


# --- stages -----------------------------------------------------------------------------------------------
@dataclass
class Geo:
    """Per-image inverse maps (output pixel-centre coords -> input coords) and the output size (h, w)."""

    mats: list[Mat]
    out_hw: tuple[int, int]
    mode: str | None = None  # "nearest" / "bilinear"; None: exact under either (flips, integer crops)
    fill: float | None = None

    def masked(self, keep: list[bool], in_hw: tuple[int, int]) -> Geo:
        if self.out_hw != tuple(in_hw):
            raise ValueError(
                f"RandomApply/OneOf cannot skip a transform that changes the image size ({in_hw} -> {self.out_hw})"
            )
        return Geo(
            [m if k else IDENTITY for m, k in zip(self.mats, keep, strict=True)], self.out_hw, self.mode, self.fill
        )


@dataclass
class Elastic:
    """Per-image (alpha px, lattice spacing px, seed) of a smooth random displacement field."""

    per: list[tuple[float, float, int]]
    mode: str = "bilinear"
    fill: float | None = None

    def masked(self, keep, in_hw) -> Elastic:
        return Elastic(
            [v if k else (0.0, v[1], v[2]) for v, k in zip(self.per, keep, strict=True)], self.mode, self.fill
        )


@dataclass
class Pixel:
    """A per-pixel op (code from OP_FORMATS) with 12 parameters per image."""

    code: int
    per: list[tuple]

    def masked(self, keep, in_hw) -> Pixel:
        ident = OP_IDENTITY[self.code]
        return Pixel(self.code, [v if k else ident for v, k in zip(self.per, keep, strict=True)])


Stage = Geo | Elastic | Pixel


@dataclass
class Pass:
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    a: list[Mat]
    b: list[Mat] | None = None
    elastic: list[tuple[float, float, int]] | None = None
    mode: str = "nearest"
    fill: float = 0.0
    ops: list[Pixel] = field(default_factory=list)
    segments: list[tuple[int, int]] = field(default_factory=list)  # (first, count); segments after 0 start at contrast

    @property
    def stride(self) -> int:
        return GEO_SLOTS + OP_SLOTS * len(self.ops)


def plan(stages: list[Stage], n: int, in_hw: tuple[int, int]) -> list[Pass]:
    """Fuse stages into passes (see the module docstring)."""
    passes: list[Pass] = []
    cur: dict | None = None
    hw = tuple(in_hw)

    def new_pass():
        return {"in_hw": hw, "before": [], "after": [], "elastic": None, "modes": [], "fill": None, "ops": []}

    for st in stages:
        if isinstance(st, Pixel):
            if cur is None:
                cur = new_pass()
            cur["ops"].append(st)
            continue
        if cur is None or cur["ops"] or (isinstance(st, Elastic) and cur["elastic"] is not None):
            if cur is not None:
                passes.append(_finish(cur, n, hw))
            cur = new_pass()
        cur["modes"].append(st.mode)
        if st.fill is not None:
            cur["fill"] = st.fill
        if isinstance(st, Elastic):
            cur["elastic"] = st.per
        else:
            (cur["after"] if cur["elastic"] is not None else cur["before"]).append(st.mats)
            hw = st.out_hw
    if cur is None:
        cur = new_pass()
    passes.append(_finish(cur, n, hw))
    return passes


def _chain(mat_lists: list[list[Mat]], n: int) -> list[Mat]:
    out = []
    for i in range(n):
        acc = IDENTITY
        for mats in mat_lists:
            acc = compose(acc, mats[i])
        out.append(acc)
    return out


def _finish(cur: dict, n: int, out_hw) -> Pass:
    modes = cur["modes"]
    mode = "bilinear" if "bilinear" in modes else "nearest"
    if cur["elastic"] is not None:
        a, b = _chain(cur["after"], n), _chain(cur["before"], n)
    else:
        a, b = _chain(cur["before"], n), None
    ops = cur["ops"]
    if len(ops) > MAX_OPS:
        raise ValueError(f"at most {MAX_OPS} pixel ops between two geometric transforms, got {len(ops)}")
    starts = [0] + [i for i, op in enumerate(ops) if op.code == CONTRAST and i > 0]
    ends = [*starts[1:], len(ops)]
    segments = [(s, e - s) for s, e in zip(starts, ends, strict=True)]
    if ops and ops[0].code == CONTRAST:  # contrast needs the resampled image first
        segments = [(0, 0), *segments]
    return Pass(cur["in_hw"], tuple(out_hw), a, b, cur["elastic"], mode, float(cur["fill"] or 0.0), ops, segments)


# --- parameter buffer -----------------------------------------------------------------------------------
def pack(passes: list[Pass], n: int) -> tuple[bytes, list[int]]:
    """All per-image parameters as little-endian vec4 slots; returns (bytes, base slot of each pass)."""
    chunks, bases, slot = [], [], 0
    for ps in passes:
        bases.append(slot)
        fmt = "<" + "f" * 16 + "ffIf" + "".join(OP_FORMATS[op.code] for op in ps.ops)
        st = struct.Struct(fmt)
        for i in range(n):
            a = ps.a[i]
            b = ps.b[i] if ps.b is not None else IDENTITY
            e = ps.elastic[i] if ps.elastic is not None else (0.0, 1.0, 0)
            vals = [a[0], a[1], a[2], 0.0, a[3], a[4], a[5], 0.0, b[0], b[1], b[2], 0.0, b[3], b[4], b[5], 0.0]
            vals += [float(e[0]), float(e[1]), int(e[2]) & 0xFFFFFFFF, 0.0]
            for op in ps.ops:
                vals += op.per[i]
            chunks.append(st.pack(*vals))
        slot += n * ps.stride
    return b"".join(chunks), bases


def ops_wgsl(ops: list[Pixel], first: int, count: int, c: int, clip: bool) -> tuple[str, str]:
    """(OPS_LOAD, OPS): WGSL statements for ops [first, first + count) of resample.wgsl / color.wgsl (op
    functions in common.wgsl). OPS_LOAD loads each op's parameters once per invocation (image ``n``, slot block
    ``blk``, constant slot offsets); OPS applies them to the quad ``q`` (channel group ``c0``, quad ``r``)."""
    loads, lines = [], []
    for j in range(first, first + count):
        code, s = ops[j].code, GEO_SLOTS + OP_SLOTS * j
        nslots = {MATRIX: 3 if c >= 3 else 1, CONTRAST: 1, NOISE: 1, CUTOUT: 2}.get(code)
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
        else:
            call = f"op_cutout(q, {o[0]}, {o[1]}.x, r.xs, r.ys)"
        lines.append(f"q = {call};" + (" q = clip_quad(q);" if clip else ""))
    return "\n    ".join(loads) or "// no ops", "\n            ".join(lines) or "// no ops"


def quads_per_invocation(quads: int) -> int:
    """QUADS of resample.wgsl / color.wgsl: several quads per invocation share its parameter loads."""
    return QUADS if quads >= 4 * QUADS else 1


def _uniform(ps: Pass, shape, base: int, lo, hi) -> dict:
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
        "qpi": -(-quads // quads_per_invocation(quads)),
        "stride": ps.stride,
        "base": base,
        "fill": ps.fill,
        "lo": lo,
        "hi": hi,
    }


def execute(
    x: Tensor,
    stages: list[Stage],
    *,
    clip: bool = True,
    value_range=(0.0, 1.0),
    u8_shape=None,
    u8_layout="u8",
    out_u8: bool = False,
) -> Tensor:
    """Run ``stages`` over the (N, C, H, W) float32 batch ``x`` — or, with ``u8_shape``, over uint8 images packed
    into the uint32 words of ``x`` as ``u8_layout`` says ("u8": 4 bytes per word; "u8px": one pixel per word, see
    SOURCES; read as byte / 255) — and return a new float32 (N, C, Ho, Wo) tensor on x's device; with ``out_u8``
    (C <= 4), the uint8 result (``io.to_uint8`` of the float32 one) as N * Ho * Wo "u8px" words."""
    if u8_shape is not None:
        n, c, h, w = u8_shape
        need = n * h * w if u8_layout == "u8px" else -(-n * c * h * w // 4)
        if u8_layout not in ("u8", "u8px") or (u8_layout == "u8px" and c > 4):
            raise ValueError(f"unknown uint8 layout {u8_layout!r} for {c} channels")
        if x.dtype_name != "uint32" or x.size < need:
            raise ValueError(f"packed uint8 images {u8_shape} ({u8_layout}) need {need} uint32 words, got {x}")
    elif x.ndim != 4 or x.dtype_name != "float32":
        raise ValueError(f"augment kernels take (N, C, H, W) float32 tensors, got {x.shape} {x.dtype_name}")
    else:
        n, c, h, w = x.shape
    if out_u8 and c > 4:
        raise ValueError(f"uint8 output holds at most 4 channels, got {c}")
    passes = plan(stages, n, (h, w))
    for ps in passes:
        if any(op.code in (MATRIX, CONTRAST) for op in ps.ops) and c not in (1, 3, 4):
            raise ValueError(f"colour transforms need 1, 3 or 4 channels, got {c}")
    lo, hi = float(value_range[0]), float(value_range[1])
    raw, bases = pack(passes, n)
    device = x.device
    if device.pure:  # the python backend: the pure-Python twin (gpuml.augment.pure), no numpy
        from . import pure

        layout = u8_layout if u8_shape is not None else None
        return pure.execute(x, passes, raw, bases, clip, lo, hi, (n, c, h, w), layout, out_u8)
    if not device.is_gpu:
        host = x.host()
        if u8_shape is not None and u8_layout == "u8px":
            host = host.reshape(-1)[: n * h * w].view(np.uint8).reshape(n, h, w, 4)[..., :c].transpose(0, 3, 1, 2)
            host = host.astype(np.float32) * np.float32(1.0 / 255.0)
        elif u8_shape is not None:
            host = host.reshape(-1).view(np.uint8)[: n * c * h * w].reshape(n, c, h, w)
            host = host.astype(np.float32) * np.float32(1.0 / 255.0)
        out = twin(host, passes, raw, bases, clip, lo, hi)
        if out_u8:
            u8 = np.clip(np.rint(out * np.float32(255.0)), 0, 255).astype(np.uint8)  # io.to_uint8
            px = np.zeros((*out.shape[:1], *out.shape[2:], 4), np.uint8)
            px[..., :c] = u8.transpose(0, 2, 3, 1)
            out = px.view("<u4").reshape(-1)
        return Tensor.wrap_numpy(out, device)
    words = array.array("I")
    words.frombytes(raw)
    from ..tensor import tensor

    prm = tensor(words, device=device)
    stats = Tensor.empty((max(n, 4),), "float32", device)
    source = u8_layout if u8_shape is not None else "f32"
    mean = device.kernel("augment/image_mean.wgsl", WG=WG)
    cur = x
    for pi, (ps, base) in enumerate(zip(passes, bases, strict=True)):
        ho, wo = ps.out_hw
        quads = -(-(ho * wo) // PX)
        per = quads_per_invocation(quads)
        partials = Tensor.empty((max(n * quads if len(ps.segments) > 1 else 0, 4),), "float32", device)
        rows = "vec4" if (ho * wo) % PX == 0 else "f32"
        grid = device.grid_1d(-(-(n * -(-quads // per)) // WG))
        u = _uniform(ps, (n, c, *ps.in_hw), base, lo, hi)
        segments = ps.segments or [(0, 0)]
        for k, (first, count) in enumerate(segments):
            u8_out = out_u8 and pi == len(passes) - 1 and k == len(segments) - 1
            dst = ("u8px4" if rows == "vec4" else "u8px") if u8_out else rows
            out_t, put, put_px = OUTPUTS[dst]
            shape = (n * ho * wo,) if u8_out else (n, c, ho, wo)
            in_place = k > 0 and not u8_out  # a float32 contrast segment rewrites the image it reads
            out = cur if in_place else Tensor.empty(shape, "uint32" if u8_out else "float32", device)
            if not out.size:
                cur = out
                break
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
                mean(device.grid_1d(n), {"n": n, "quads": quads, "plane": ho * wo}, partials=partials, stats=stats)
                in_t, get = INPUTS[(rows, in_place)]
                color = device.kernel("augment/color.wgsl", **kw, IN_T=in_t, GET=get)
                color(grid, u, prm=prm, stats=stats, partials=partials, inp=stats if in_place else cur, out=out)
            cur = out
        source = "f32"
    return cur


# --- numpy twin ---------------------------------------------------------------------------------------------
def _hash(v):
    from ..nn.functional import pcg_hash

    with np.errstate(over="ignore"):
        return pcg_hash(v)


def _u01(h):
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def gauss_twin(seed: int, idx):
    """numpy twin of gauss() in common.wgsl (float64 transcendental, float32 result)."""
    with np.errstate(over="ignore"):
        idx = np.asarray(idx, np.uint32)
        s = np.uint32(seed)
        u1 = _u01(_hash(s ^ _hash(np.uint32(2) * idx))).astype(np.float64)
        u2 = _u01(_hash(s ^ _hash(np.uint32(2) * idx + np.uint32(1)))).astype(np.float64)
    return (np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2 * math.pi * u2)).astype(np.float32)


def elastic_twin(qx, qy, spacing, seed):
    """numpy twin of elastic_field() (float32)."""
    f32 = np.float32
    gx, gy = qx / f32(spacing), qy / f32(spacing)
    fx, fy = np.floor(gx), np.floor(gy)
    tx, ty = gx - fx, gy - fy
    sx, sy = tx * tx * (f32(3) - f32(2) * tx), ty * ty * (f32(3) - f32(2) * ty)
    ix, iy = fx.astype(np.int32).view(np.uint32), fy.astype(np.int32).view(np.uint32)
    s = np.uint32(seed)
    out = []
    with np.errstate(over="ignore"):
        for comp in (0, 1):

            def lat(ax, ay, comp=comp):
                h = _hash(s ^ _hash(ax ^ _hash(ay * np.uint32(2) + np.uint32(comp))))
                return f32(2) * _u01(h) - f32(1)

            v00, v10 = lat(ix, iy), lat(ix + np.uint32(1), iy)
            v01, v11 = lat(ix, iy + np.uint32(1)), lat(ix + np.uint32(1), iy + np.uint32(1))
            top = v00 + (v10 - v00) * sx
            bot = v01 + (v11 - v01) * sx
            out.append(top + (bot - top) * sy)
    return out


def _sample(x, qx, qy, mode: str, fill: float):
    """x (C, H, W); qx, qy (Ho, Wo) float32 source coords -> (C, Ho, Wo)."""
    _c, h, w = x.shape
    inside = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
    if mode == "nearest":
        ix = np.clip(np.floor(qx), 0, w - 1).astype(np.intp)
        iy = np.clip(np.floor(qy), 0, h - 1).astype(np.intp)
        out = x[:, iy, ix]
    else:
        sx, sy = qx - np.float32(0.5), qy - np.float32(0.5)
        fx, fy = np.floor(sx), np.floor(sy)
        tx, ty = sx - fx, sy - fy
        fx = np.clip(fx, -2, w + 1).astype(np.intp)  # keep the int cast in range for far-outside points
        fy = np.clip(fy, -2, h + 1).astype(np.intp)
        x0, x1 = np.clip(fx, 0, w - 1), np.clip(fx + 1, 0, w - 1)
        y0, y1 = np.clip(fy, 0, h - 1), np.clip(fy + 1, 0, h - 1)
        v00, v10, v01, v11 = x[:, y0, x0], x[:, y0, x1], x[:, y1, x0], x[:, y1, x1]
        top = v00 + (v10 - v00) * tx
        bot = v01 + (v11 - v01) * tx
        out = top + (bot - top) * ty
    return np.where(inside, out, np.float32(fill)).astype(np.float32)


def _run_ops_twin(img, ops_f, ops_u, codes, first, count, mean, clip, lo, hi):
    """img (C, Ho, Wo) float32 in place; ops_f / ops_u: (nops, 12) float32 / uint32 views of this image."""
    c, ho, wo = img.shape
    ncol = 3 if c >= 3 else 1
    f32 = np.float32
    for j in range(first, first + count):
        code, q, qu = codes[j], ops_f[j], ops_u[j]
        if code == MATRIX:
            if ncol == 3:
                rgb = img[:3].copy()
                for r in range(3):
                    row = q[4 * r : 4 * r + 4]
                    img[r] = row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2] + row[3]
            else:
                img[0] = q[0] * img[0] + q[3]
        elif code == CONTRAST:
            m = f32(mean)
            img[:ncol] = m + q[0] * (img[:ncol] - m)
        elif code == NOISE:
            idx = np.arange(c * ho * wo, dtype=np.uint32).reshape(c, ho, wo)
            img += q[0] * gauss_twin(int(qu[1]), idx)
        elif code == CUTOUT:
            ys = np.arange(ho, dtype=np.float32)[:, None]
            xs = np.arange(wo, dtype=np.float32)[None, :]
            inside = (xs >= q[0]) & (xs < q[2]) & (ys >= q[1]) & (ys < q[3])
            img[:, inside] = q[4]
        if clip:
            np.clip(img, f32(lo), f32(hi), out=img)


def twin(x, passes: list[Pass], raw: bytes, bases: list[int], clip: bool, lo: float, hi: float):
    """numpy twin of :func:`execute` on a (N, C, H, W) float32 array, reading the same packed parameters."""
    f32 = np.float32
    slots_f = np.frombuffer(raw, "<f4").reshape(-1, 4)
    slots_u = np.frombuffer(raw, "<u4").reshape(-1, 4)
    cur = np.asarray(x, np.float32)
    n, c = cur.shape[:2]
    for ps, base in zip(passes, bases, strict=True):
        ho, wo = ps.out_hw
        out = np.empty((n, c, ho, wo), np.float32)
        py, px = np.meshgrid(np.arange(ho, dtype=f32) + f32(0.5), np.arange(wo, dtype=f32) + f32(0.5), indexing="ij")
        codes = [op.code for op in ps.ops]
        for i in range(n):
            blk = base + i * ps.stride
            a0, a1 = slots_f[blk], slots_f[blk + 1]
            qx = a0[0] * px + a0[1] * py + a0[2]
            qy = a1[0] * px + a1[1] * py + a1[2]
            if ps.elastic is not None:
                b0, b1, e = slots_f[blk + 2], slots_f[blk + 3], slots_f[blk + 4]
                dx, dy = elastic_twin(qx, qy, e[1], int(slots_u[blk + 4][2]))
                ex, ey = qx + e[0] * dx, qy + e[0] * dy
                qx = b0[0] * ex + b0[1] * ey + b0[2]
                qy = b1[0] * ex + b1[1] * ey + b1[2]
            img = _sample(cur[i], qx, qy, ps.mode, ps.fill)
            ops_f = slots_f[blk + GEO_SLOTS : blk + ps.stride].reshape(-1, 12)
            ops_u = slots_u[blk + GEO_SLOTS : blk + ps.stride].reshape(-1, 12)
            for si, (first, count) in enumerate(ps.segments or [(0, 0)]):
                mean = 0.0
                if si > 0:
                    gray = img[0] if c < 3 else f32(0.299) * img[0] + f32(0.587) * img[1] + f32(0.114) * img[2]
                    mean = float(gray.astype(np.float64).mean())
                _run_ops_twin(img, ops_f, ops_u, codes, first, count, mean, clip, lo, hi)
            out[i] = img
        cur = out
    return cur
