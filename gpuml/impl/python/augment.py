"""Augmentation passes as pure-Python twins of the kernels, for the ``python`` backend (no numpy, no WebGPU).

Same semantics as the numpy twin (gpuml/impl/cpu/augment.py), reading the same packed parameters. numpy
computes in float32; this module computes in float64 and rounds to float32 after every arithmetic step, a whole
list at a time (``array('f')`` round trips). For +, -, * and / that double rounding equals float32 rounding
(53 >= 2 * 24 + 2 bits), so coordinates, floor / bounds decisions, bilinear weights, the elastic field and the
colour ops match the numpy twin bit for bit; the contrast mean reproduces numpy's pairwise float64 summation
(checked equal up to 300 x 301 planes). Only the Box-Muller noise can differ in the last float32 bit, in
principle (``math.log`` / ``math.cos`` against numpy's float64 routines before rounding; none seen in the tests).

Images travel as lists of channel planes (flat float lists of Ho * Wo); per-pixel work is index lists built once
per image and ``map`` / list comprehensions over them, so 16 images of 48 x 48 x 3 take a fraction of a second.
"""

from __future__ import annotations

import array
import math
import sys
from operator import add, mul, sub

from ...tensor import Tensor
from ..augment_params import CONTRAST, CUTOUT, GEO_SLOTS, LUMA, MATRIX, NOISE, NORMALIZE
from .nn import pcg_hash as _pcg

M32 = 0xFFFFFFFF
INV24 = 1.0 / 16777216.0
TWO_PI = 2 * math.pi
_BIG = sys.byteorder == "big"


def _r(values) -> list[float]:
    """``values`` (an iterable of floats) rounded to float32, as a list."""
    return array.array("f", values).tolist()


def _r1(v: float) -> float:
    return array.array("f", (v,))[0]


def gauss(seed: int, count: int) -> list[float]:
    """gauss() of common.wgsl for indices 0 .. count - 1 (float64 Box-Muller, float32 result) like gauss_twin."""
    pcg, out = _pcg, []
    for k in range(count):
        k2 = (2 * k) & M32
        u1 = (pcg(seed ^ pcg(k2)) >> 8) * INV24
        u2 = (pcg(seed ^ pcg((k2 + 1) & M32)) >> 8) * INV24
        out.append(math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(TWO_PI * u2))
    return _r(out)


def _smooth(t: list[float]) -> list[float]:
    """t * t * (3 - 2 t) in float32 steps."""
    return _r(map(mul, _r(map(mul, t, t)), _r([3.0 - v for v in _r([2.0 * v for v in t])])))


def _lerp(a: list[float], b: list[float], t: list[float]) -> list[float]:
    """a + (b - a) * t in float32 steps."""
    return _r(map(add, a, _r(map(mul, _r(map(sub, b, a)), t))))


def elastic(qx: list[float], qy: list[float], spacing: float, seed: int) -> list[list[float]]:
    """elastic_field() of resample.wgsl (as elastic_twin): the (dx, dy) displacement at each point."""
    gx, gy = _r([q / spacing for q in qx]), _r([q / spacing for q in qy])
    fx, fy = [math.floor(g) for g in gx], [math.floor(g) for g in gy]
    sx, sy = _smooth(_r(map(sub, gx, fx))), _smooth(_r(map(sub, gy, fy)))
    out = []
    if not qx:
        return [[], []]
    xs, ys = range(min(fx), max(fx) + 2), range(min(fy), max(fy) + 2)
    for comp in (0, 1):
        lat = {}
        for ay in ys:
            hy = _pcg((((ay & M32) * 2) + comp) & M32)
            for ax in xs:
                h = _pcg(seed ^ _pcg((ax & M32) ^ hy))
                lat[ax, ay] = 2.0 * ((h >> 8) * INV24) - 1.0  # exact in float32
        v00 = [lat[a, b] for a, b in zip(fx, fy, strict=True)]
        v10 = [lat[a + 1, b] for a, b in zip(fx, fy, strict=True)]
        v01 = [lat[a, b + 1] for a, b in zip(fx, fy, strict=True)]
        v11 = [lat[a + 1, b + 1] for a, b in zip(fx, fy, strict=True)]
        out.append(_lerp(_lerp(v00, v10, sx), _lerp(v01, v11, sx), sy))
    return out


def _map_points(m0, m1, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    """(m0 . (x, y, 1), m1 . (x, y, 1)) per point, float32 steps in the numpy twin's order."""
    qx = _r(map(add, _r([m0[0] * v for v in xs]), _r([m0[1] * v for v in ys])))
    qy = _r(map(add, _r([m1[0] * v for v in xs]), _r([m1[1] * v for v in ys])))
    return _r([v + m0[2] for v in qx]), _r([v + m1[2] for v in qy])


def _grid(m0, m1, ho: int, wo: int) -> tuple[list[float], list[float]]:
    """_map_points over the output pixel centres, using that the products are per column / per row."""
    px, py = [x + 0.5 for x in range(wo)], [y + 0.5 for y in range(ho)]
    out = []
    for m in (m0, m1):
        ax, by = _r([m[0] * v for v in px]), _r([m[1] * v for v in py])
        s = _r([u + v for v in by for u in ax])
        out.append(_r([v + m[2] for v in s]))
    return out[0], out[1]


def sample(planes: list[list[float]], h: int, w: int, qx, qy, mode: str, fill: float) -> list[list[float]]:
    """Resample (H * W) planes at source points (qx, qy) (as the numpy twin's _sample; fill: float32)."""
    hw = h * w
    if mode == "nearest":
        floor = math.floor
        idx = [floor(y) * w + floor(x) if 0 <= x < w and 0 <= y < h else hw for x, y in zip(qx, qy, strict=True)]
        return [list(map([*pl, fill].__getitem__, idx)) for pl in planes]
    sx, sy = _r([v - 0.5 for v in qx]), _r([v - 0.5 for v in qy])
    fx, fy = [math.floor(v) for v in sx], [math.floor(v) for v in sy]
    tx, ty = _r(map(sub, sx, fx)), _r(map(sub, sy, fy))
    cx = {v: (min(max(v, 0), w - 1), min(max(v + 1, 0), w - 1)) for v in set(fx)}
    cy = {v: (min(max(v, 0), h - 1) * w, min(max(v + 1, 0), h - 1) * w) for v in set(fy)}
    i00, i10, i01, i11 = [], [], [], []
    for a, b in zip(fx, fy, strict=True):
        x0, x1 = cx[a]
        y0, y1 = cy[b]
        i00.append(y0 + x0)
        i10.append(y0 + x1)
        i01.append(y1 + x0)
        i11.append(y1 + x1)
    outside = [p for p, (x, y) in enumerate(zip(qx, qy, strict=True)) if not (0 <= x < w and 0 <= y < h)]
    out = []
    for pl in planes:
        get = pl.__getitem__
        v00, v10 = list(map(get, i00)), list(map(get, i10))
        v01, v11 = list(map(get, i01)), list(map(get, i11))
        o = _lerp(_lerp(v00, v10, tx), _lerp(v01, v11, tx), ty)
        for p in outside:
            o[p] = fill
        out.append(o)
    return out


def pairwise_sum(a: list[float], lo: int = 0, n: int | None = None) -> float:
    """numpy's pairwise summation of float64 values (add.reduce of a contiguous array)."""
    if n is None:
        n = len(a)
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= 128:
        r = a[lo : lo + 8]
        end = lo + n - n % 8
        for i in range(lo + 8, end, 8):
            for j in range(8):
                r[j] += a[i + j]
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for i in range(end, lo + n):
            res += a[i]
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(a, lo, n2) + pairwise_sum(a, lo + n2, n - n2)


def image_mean(img: list[list[float]]) -> float:
    """The luma mean the contrast op blends with (float32 luma, float64 mean, as the numpy twin)."""
    if len(img) < 3:
        gray = img[0]
    else:
        l0, l1, l2 = (_r1(v) for v in LUMA)
        gray = _r(map(add, _r([l0 * v for v in img[0]]), _r([l1 * v for v in img[1]])))
        gray = _r(map(add, gray, _r([l2 * v for v in img[2]])))
    if not gray:
        return math.nan
    return (0.0 + pairwise_sum(gray)) / len(gray)


def run_ops(img, opf, opu, codes, first, count, mean, clip, lo, hi, ho, wo) -> None:
    """Pixel ops [first, first + count) on one image's planes in place (as the numpy twin's _run_ops_twin);
    opf / opu: this image's op parameters as float32 / uint32 words, 12 per op."""
    c = len(img)
    ncol = 3 if c >= 3 else 1
    plane = ho * wo
    for j in range(first, first + count):
        code, q = codes[j], opf[12 * j : 12 * j + 12]
        if code == MATRIX:
            if ncol == 3:
                rgb = img[:3]
                for r in range(3):
                    k0, k1, k2, k3 = q[4 * r : 4 * r + 4]
                    t = _r(map(add, _r([k0 * v for v in rgb[0]]), _r([k1 * v for v in rgb[1]])))
                    t = _r(map(add, t, _r([k2 * v for v in rgb[2]])))
                    img[r] = _r([v + k3 for v in t])
            else:
                k0, k3 = q[0], q[3]
                img[0] = _r([v + k3 for v in _r([k0 * v for v in img[0]])])
        elif code == CONTRAST:
            m, f = _r1(mean), q[0]
            for ch in range(ncol):
                img[ch] = _r([m + v for v in _r([f * v for v in _r([v - m for v in img[ch]])])])
        elif code == NOISE:
            sigma = q[0]
            g = _r([sigma * v for v in gauss(opu[12 * j + 1], c * plane)])
            for ch in range(c):
                img[ch] = _r(map(add, img[ch], g[ch * plane : (ch + 1) * plane]))
        elif code == CUTOUT:
            x0, y0, x1, y1, fv = q[:5]
            cols = [x for x in range(wo) if x0 <= x < x1]
            if cols:
                span = [fv] * len(cols)
                for y in range(ho):
                    if y0 <= y < y1:
                        s = y * wo + cols[0]
                        for pl in img:
                            pl[s : s + len(cols)] = span
        elif code == NORMALIZE:
            c0 = 4 * int(q[8])
            for ch in range(c0, min(c, c0 + 4)):
                m, sd = q[ch - c0], q[4 + ch - c0]
                img[ch] = _r([v / sd for v in _r([v - m for v in img[ch]])])
            continue  # never clipped
        if clip:
            for ch in range(c):
                img[ch] = [lo if v < lo else (hi if v > hi else v) for v in img[ch]]


def _words(raw: bytes, code: str) -> list:
    a = array.array(code)
    a.frombytes(raw)
    if _BIG:
        a.byteswap()
    return a.tolist()


def _source_planes(x: Tensor, shape, layout: str | None) -> list[list[list[float]]]:
    """Per image, its channel planes as float32 values (uint8 sources read as byte / 255)."""
    n, c, h, w = shape
    hw = h * w
    if layout is None:
        vals = x.values()
        return [[vals[(i * c + ch) * hw : (i * c + ch + 1) * hw] for ch in range(c)] for i in range(n)]
    words = array.array("I", x.values())
    if _BIG:
        words.byteswap()
    raw = words.tobytes()  # little-endian bytes, as the kernels read them
    inv = _r1(1.0 / 255.0)
    table = _r([b * inv for b in range(256)])
    get = table.__getitem__
    if layout == "u8px":  # one word per pixel, channel c in byte c
        return [[list(map(get, raw[4 * i * hw + ch : 4 * (i + 1) * hw : 4])) for ch in range(c)] for i in range(n)]
    return [[list(map(get, raw[(i * c + ch) * hw : (i * c + ch + 1) * hw])) for ch in range(c)] for i in range(n)]


def augment_passes(x: Tensor, passes: list, raw: bytes, bases: list[int], clip: bool, lo: float, hi: float, shape,
            u8_layout: str | None = None, out_u8: bool = False) -> Tensor:  # fmt: skip
    """gpuml/impl/webgpu/augment.py's ``augment_passes`` on a python-backend tensor (source layout: None for float32
    (N, C, H, W), "u8" / "u8px" for packed uint8): a new tensor on x's device."""
    n, c, h, w = shape
    slots_f, slots_u = _words(raw, "f"), _words(raw, "I")
    lo, hi = _r1(lo), _r1(hi)
    cur = _source_planes(x, shape, u8_layout)
    for ps, base in zip(passes, bases, strict=True):
        ho, wo = ps.out_hw
        fill = _r1(ps.fill)
        codes = [op.code for op in ps.ops]
        nxt = []
        for i in range(n):
            blk = 4 * (base + i * ps.stride)
            a0, a1 = slots_f[blk : blk + 4], slots_f[blk + 4 : blk + 8]
            qx, qy = _grid(a0, a1, ho, wo)
            if ps.elastic is not None:
                b0, b1, e = slots_f[blk + 8 : blk + 12], slots_f[blk + 12 : blk + 16], slots_f[blk + 16 : blk + 20]
                dx, dy = elastic(qx, qy, e[1], slots_u[blk + 18])
                ex = _r(map(add, qx, _r([e[0] * v for v in dx])))
                ey = _r(map(add, qy, _r([e[0] * v for v in dy])))
                qx, qy = _map_points(b0, b1, ex, ey)
            img = sample(cur[i], h, w, qx, qy, ps.mode, fill)
            ops0 = blk + 4 * GEO_SLOTS
            opf, opu = slots_f[ops0 : blk + 4 * ps.stride], slots_u[ops0 : blk + 4 * ps.stride]
            for si, (first, count) in enumerate(ps.segments or [(0, 0)]):
                mean = image_mean(img) if si > 0 else 0.0
                run_ops(img, opf, opu, codes, first, count, mean, clip, lo, hi, ho, wo)
            nxt.append(img)
        cur, (h, w) = nxt, (ho, wo)
    if not out_u8:
        return Tensor.from_values([v for img in cur for pl in img for v in pl], (n, c, h, w), x.device)
    words = []
    for img in cur:  # io.to_uint8, one word per pixel with channel c in byte c ("u8px")
        px = [0] * (h * w)
        for ch, pl in enumerate(img):
            shift = 8 * ch
            u8 = [round(0.0 if not v > 0.0 else (255.0 if v > 255.0 else v)) for v in _r([v * 255.0 for v in pl])]
            px = [p | (b << shift) for p, b in zip(px, u8, strict=True)]
        words += px
    return Tensor.from_values(words, (n * h * w,), x.device, "uint32")
