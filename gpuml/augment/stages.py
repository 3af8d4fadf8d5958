"""The augmentation planner: transforms give per-image *stages* (``Geo``, ``Elastic``, ``Pixel``); :func:`plan`
fuses them into passes and :func:`pack` writes every pass's per-image parameters into one buffer.

A pass is one resampling kernel (every consecutive geometric stage composed into one per-image 2x3 matrix, at most
one elastic field in between) followed by pixel ops run in registers; a contrast op needs the image mean, so it
starts a new segment (one mean dispatch + one in-place op dispatch). A geometric stage after a pixel op starts a
new pass (resampling does not commute with noise, clipping or fill).

Coordinates follow Pillow: a matrix maps an *output* pixel-centre coordinate (x + 0.5, y + 0.5) to a continuous
*input* coordinate (see gpuml/augment/__init__). Pure Python: no numpy, no device.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..impl.augment_params import CONTRAST, GEO_SLOTS, OP_FORMATS, OP_IDENTITY, OP_SLOTS

MAX_OPS = 16  # pixel ops per pass (each is generated code in the kernel)
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
