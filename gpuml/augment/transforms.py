"""Augmentation transforms: parameter generation (pure Python, seeded) separate from a deterministic apply.

``t.generate(n, shape, rng)`` draws per-image parameters with a ``random.Random`` (Mersenne Twister: the same
sequence in CPython and Pyodide, with or without numpy); ``t(x, params=p)`` replays them exactly;
``t(x, seed=s, step=k)`` draws from ``random.Random`` seeded with (s, k) and keeps the draw in ``t.params_``.
Device-side randomness (noise, elastic fields) uses the PCG hash of shaders/common/hash.wgsl keyed by a 32-bit
seed drawn here per image, so the kernels are pure functions of (image, parameters) on every backend.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from . import engine
from .engine import CONTRAST, CUTOUT, IDENTITY, LUMA, MATRIX, NOISE, Elastic, Geo, Pixel, invert

Shape = tuple[int, int, int]  # (C, H, W)


def make_rng(seed: int | None, step: int = 0) -> random.Random:
    """The generator for (seed, step): ``random.Random`` seeded with seed * 2**32 + step (None: fresh entropy)."""
    if seed is None:
        return random.Random()
    return random.Random((int(seed) & 0xFFFFFFFF) << 32 | (int(step) & 0xFFFFFFFF))


def _range(value, name: str, center: float = 0.0) -> tuple[float, float]:
    """``v`` -> (center - v, center + v); ``(lo, hi)`` -> itself."""
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        return (center - float(value), center + float(value))
    lo, hi = (float(v) for v in value)
    if lo > hi:
        raise ValueError(f"{name} range ({lo}, {hi}) is empty")
    return lo, hi


def _size(size) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    h, w = (int(s) for s in size)
    return (h, w)


def _interp(mode: str) -> str:
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {mode!r}")
    return mode


class Transform:
    """Base class. Subclasses define ``generate``, ``stages`` and (when the size changes) ``output_shape``."""

    geometric = False
    value_range: tuple[float, float] = (0.0, 1.0)
    clip = True

    def generate(self, n: int, shape: Shape, rng: random.Random) -> list:
        raise NotImplementedError

    def output_shape(self, shape: Shape) -> Shape:
        return shape

    def stages(self, params: list, shape: Shape) -> list:
        raise NotImplementedError

    def __call__(self, x, *, params=None, seed: int | None = None, step: int = 0):
        """Augment ``x`` (numpy array, PIL image(s) or gpuml Tensor; see gpuml.augment) and return the same kind."""
        from .io import from_host, to_host, wants_uint8

        batch, meta = from_host(x)
        out = "uint8" if wants_uint8(meta, batch) else "float32"
        return to_host(self.apply_batch(batch, params=params, seed=seed, step=step, out=out), meta)

    def apply_batch(self, x, *, params=None, seed: int | None = None, step: int = 0, out: str = "float32"):
        """Device entry point: (N, C, H, W) or (N, H, W) float32 Tensor (or an io.U8Batch) in, float32 Tensor on the
        same device out; no host round trip (parameters are generated on the host and uploaded as one small
        buffer). ``out="uint8"`` (at most 4 channels) returns an (N, C, Ho, Wo) io.U8Batch instead, one word per
        pixel: ``io.to_uint8`` of the float32 result, written by the last kernel (a quarter of the bytes)."""
        from .io import U8Batch

        if out not in ("float32", "uint8"):
            raise ValueError(f"out must be 'float32' or 'uint8', got {out!r}")
        packed = isinstance(x, U8Batch)
        squeeze = x.ndim == 3
        if squeeze:
            x = x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
        if x.ndim != 4:
            raise ValueError(f"augment expects (N, H, W) or (N, C, H, W) images, got shape {x.shape}")
        n, c, h, w = x.shape
        if params is None:
            params = self.generate(n, (c, h, w), make_rng(seed, step))
        self.params_ = params
        stages = self.stages(params, (c, h, w))
        kw = {"clip": self.clip, "value_range": self.value_range, "out_u8": out == "uint8"}
        if packed:
            res = engine.execute(x.words, stages, u8_shape=x.shape, u8_layout=x.layout, **kw)
        else:
            res = engine.execute(x, stages, **kw)
        if out == "uint8":
            return U8Batch(res, (n, *self.output_shape((c, h, w))), "u8px")
        if squeeze:
            res = res.reshape(n, res.shape[2], res.shape[3])
        return res

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"


# --- geometric ----------------------------------------------------------------------------------------------
class _Flip(Transform):
    geometric = True
    axis = 0

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def generate(self, n, shape, rng):
        return [{"flip": rng.random() < self.p} for _ in range(n)]

    def stages(self, params, shape):
        _, h, w = shape
        flip = (-1.0, 0.0, float(w), 0.0, 1.0, 0.0) if self.axis == 0 else (1.0, 0.0, 0.0, 0.0, -1.0, float(h))
        return [Geo([flip if p["flip"] else IDENTITY for p in params], (h, w))]


class HorizontalFlip(_Flip):
    """Mirror left-right, per image with probability ``p`` (Pillow FLIP_LEFT_RIGHT; exact)."""

    axis = 0


class VerticalFlip(_Flip):
    """Mirror top-bottom, per image with probability ``p`` (Pillow FLIP_TOP_BOTTOM; exact)."""

    axis = 1


def rotation_matrix(angle: float, w: int, h: int, center=None) -> engine.Mat:
    """Pillow's ``Image.rotate`` inverse matrix: counter-clockwise ``angle`` degrees about (w/2, h/2)."""
    cx, cy = center if center is not None else (w / 2.0, h / 2.0)
    a = -math.radians(angle % 360.0)
    m = [round(math.cos(a), 15), round(math.sin(a), 15), 0.0, round(-math.sin(a), 15), round(math.cos(a), 15), 0.0]
    m[2] = m[0] * -cx + m[1] * -cy + cx
    m[5] = m[3] * -cx + m[4] * -cy + cy
    return tuple(m)


class Rotate(Transform):
    """Rotate counter-clockwise by an angle drawn per image from [-degrees, degrees] (or (lo, hi)), about the
    image centre, like Pillow's ``Image.rotate`` (same matrix; outside pixels get ``fill``)."""

    geometric = True

    def __init__(self, degrees=15.0, interpolation: str = "bilinear", fill: float = 0.0):
        self.degrees = _range(degrees, "degrees")
        self.interpolation = _interp(interpolation)
        self.fill = float(fill)

    def generate(self, n, shape, rng):
        lo, hi = self.degrees
        return [{"angle": rng.uniform(lo, hi)} for _ in range(n)]

    def stages(self, params, shape):
        _, h, w = shape
        return [Geo([rotation_matrix(p["angle"], w, h) for p in params], (h, w), self.interpolation, self.fill)]


class Crop(Transform):
    """Fixed crop to ``size`` (h, w) at (top, left); centred when not given (Pillow ``crop`` box; exact)."""

    geometric = True

    def __init__(self, size, top: int | None = None, left: int | None = None):
        self.size = _size(size)
        self.top, self.left = top, left

    def output_shape(self, shape):
        return (shape[0], *self.size)

    def _check(self, shape):
        ch, cw = self.size
        if ch > shape[1] or cw > shape[2] or ch < 1 or cw < 1:
            raise ValueError(f"crop size {self.size} does not fit images of {shape[1:]}")

    def generate(self, n, shape, rng):
        self._check(shape)
        top = self.top if self.top is not None else (shape[1] - self.size[0]) // 2
        left = self.left if self.left is not None else (shape[2] - self.size[1]) // 2
        return [{"top": top, "left": left} for _ in range(n)]

    def stages(self, params, shape):
        mats = [(1.0, 0.0, float(p["left"]), 0.0, 1.0, float(p["top"])) for p in params]
        return [Geo(mats, self.size)]


class RandomCrop(Crop):
    """Crop ``size`` at a per-image random integer position (uniform over all positions that fit)."""

    def __init__(self, size):
        super().__init__(size)

    def generate(self, n, shape, rng):
        self._check(shape)
        mh, mw = shape[1] - self.size[0], shape[2] - self.size[1]
        return [{"top": rng.randint(0, mh), "left": rng.randint(0, mw)} for _ in range(n)]


class Resize(Transform):
    """Resize to ``size`` (h, w) by bilinear (or nearest) sampling at pixel centres. No antialiasing when
    shrinking (like torch ``interpolate(antialias=False)``; Pillow's resize filters over the footprint)."""

    geometric = True

    def __init__(self, size, interpolation: str = "bilinear"):
        self.size = _size(size)
        self.interpolation = _interp(interpolation)

    def output_shape(self, shape):
        return (shape[0], *self.size)

    def generate(self, n, shape, rng):
        return [{} for _ in range(n)]

    def stages(self, params, shape):
        _, h, w = shape
        oh, ow = self.size
        return [Geo([(w / ow, 0.0, 0.0, 0.0, h / oh, 0.0)] * len(params), self.size, self.interpolation)]


class RandomResizedCrop(Transform):
    """torchvision's RandomResizedCrop: a crop of random area fraction ``scale`` and aspect ``ratio`` (10 tries,
    then the centre crop), resized to ``size`` in the same resampling pass."""

    geometric = True

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation: str = "bilinear"):
        self.size = _size(size)
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation = _interp(interpolation)

    def output_shape(self, shape):
        return (shape[0], *self.size)

    def _one(self, h, w, rng):
        area = h * w
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(log_lo, log_hi))
            cw = round(math.sqrt(target * aspect))
            ch = round(math.sqrt(target / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                return {"top": rng.randint(0, h - ch), "left": rng.randint(0, w - cw), "h": ch, "w": cw}
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            cw, ch = w, round(w / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            ch, cw = h, round(h * self.ratio[1])
        else:
            cw, ch = w, h
        return {"top": (h - ch) // 2, "left": (w - cw) // 2, "h": ch, "w": cw}

    def generate(self, n, shape, rng):
        return [self._one(shape[1], shape[2], rng) for _ in range(n)]

    def stages(self, params, shape):
        oh, ow = self.size
        mats = [(p["w"] / ow, 0.0, float(p["left"]), 0.0, p["h"] / oh, float(p["top"])) for p in params]
        return [Geo(mats, self.size, self.interpolation)]


def affine_matrix(w, h, angle=0.0, translate=(0.0, 0.0), scale=1.0, shear=(0.0, 0.0)) -> engine.Mat:
    """Inverse map of the forward transform out = C + T + R(angle) Sh(shear) S(scale) (in - C), C the centre;
    angle counter-clockwise in degrees (as Rotate), shear (x, y) in degrees, translate (dx, dy) in pixels."""
    cx, cy = w / 2.0, h / 2.0
    a = -math.radians(angle)  # y points down: counter-clockwise on screen
    ca, sa = math.cos(a), math.sin(a)
    shx, shy = math.tan(math.radians(shear[0])), math.tan(math.radians(shear[1]))
    # R * Sh * S
    r = (ca, -sa, 0.0, sa, ca, 0.0)
    sh = (1.0, shx, 0.0, shy, 1.0, 0.0)
    s = (scale, 0.0, 0.0, 0.0, scale, 0.0)
    lin = engine.compose(r, engine.compose(sh, s))
    to_c = (1.0, 0.0, cx + translate[0], 0.0, 1.0, cy + translate[1])
    from_c = (1.0, 0.0, -cx, 0.0, 1.0, -cy)
    forward = engine.compose(to_c, engine.compose(lin, from_c))
    return invert(forward)


class Affine(Transform):
    """Random rotation, translation, scale and shear combined into one matrix (one resampling pass).

    degrees: angle range (counter-clockwise); translate: max |dx|, |dy| in pixels (a number or (tx, ty));
    scale: (lo, hi) factor range; shear: x-shear range in degrees (a number or (lo, hi)).
    """

    geometric = True

    def __init__(self, degrees=0.0, translate=0.0, scale=(1.0, 1.0), shear=0.0, interpolation="bilinear", fill=0.0):
        self.degrees = _range(degrees, "degrees")
        tx, ty = (translate, translate) if isinstance(translate, int | float) else translate
        self.translate = (float(tx), float(ty))
        self.scale = _range(scale, "scale", 1.0) if isinstance(scale, int | float) else tuple(scale)
        self.shear = _range(shear, "shear")
        self.interpolation = _interp(interpolation)
        self.fill = float(fill)

    def generate(self, n, shape, rng):
        out = []
        for _ in range(n):
            out.append(
                {
                    "angle": rng.uniform(*self.degrees),
                    "dx": rng.uniform(-self.translate[0], self.translate[0]),
                    "dy": rng.uniform(-self.translate[1], self.translate[1]),
                    "scale": rng.uniform(*self.scale),
                    "shear": rng.uniform(*self.shear),
                }
            )
        return out

    def stages(self, params, shape):
        _, h, w = shape
        mats = [affine_matrix(w, h, p["angle"], (p["dx"], p["dy"]), p["scale"], (p["shear"], 0.0)) for p in params]
        return [Geo(mats, (h, w), self.interpolation, self.fill)]


class Translate(Affine):
    """Shift by (dx, dy) drawn per image from [-t, t] pixels (``max_dx``, ``max_dy``)."""

    def __init__(self, max_dx=2.0, max_dy=None, interpolation="bilinear", fill=0.0):
        super().__init__(
            translate=(max_dx, max_dx if max_dy is None else max_dy), interpolation=interpolation, fill=fill
        )


class Zoom(Affine):
    """Scale about the centre by a factor drawn per image from [1 - z, 1 + z] (or (lo, hi)); > 1 magnifies."""

    def __init__(self, zoom=0.1, interpolation="bilinear", fill=0.0):
        super().__init__(scale=_range(zoom, "zoom", 1.0), interpolation=interpolation, fill=fill)


class ElasticTransform(Transform):
    """Elastic distortion (Simard et al. 2003 in spirit): each output pixel is displaced by ``alpha`` pixels times
    a smooth random field in [-1, 1]^2. The field is generated on the device from a per-image seed: random values
    on a lattice of ``spacing`` pixels, blended with smoothstep weights (C1) — a cheap stand-in for Gaussian-
    smoothed white noise with correlation length ~``spacing``, needing no extra passes."""

    geometric = True

    def __init__(self, alpha=2.0, spacing=4.0, interpolation="bilinear", fill=0.0):
        self.alpha = _range(alpha, "alpha", 0.0) if not isinstance(alpha, int | float) else (float(alpha),) * 2
        if spacing <= 0:
            raise ValueError(f"spacing must be > 0, got {spacing}")
        self.spacing = float(spacing)
        self.interpolation = _interp(interpolation)
        self.fill = float(fill)

    def generate(self, n, shape, rng):
        return [{"alpha": rng.uniform(*self.alpha), "seed": rng.getrandbits(32)} for _ in range(n)]

    def stages(self, params, shape):
        return [Elastic([(p["alpha"], self.spacing, p["seed"]) for p in params], self.interpolation, self.fill)]


# --- colour -----------------------------------------------------------------------------------------------------
def _matrix_op(mats: list[list[list[float]]], shape: Shape) -> Pixel:
    """Per-image 3x3 colour matrices (or scalars for one channel) as a MATRIX pixel op."""
    per = []
    for m in mats:
        if shape[0] < 3:
            per.append((m[0][0], 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0))
        else:
            per.append(tuple(v for row in m for v in (*row, 0.0)))
    return Pixel(MATRIX, per)


def _scale(f: float) -> list[list[float]]:
    return [[f, 0.0, 0.0], [0.0, f, 0.0], [0.0, 0.0, f]]


def _blend_gray(f: float) -> list[list[float]]:
    """f * I + (1 - f) * gray (Pillow ImageEnhance.Color)."""
    return [[(1 - f) * LUMA[j] + (f if i == j else 0.0) for j in range(3)] for i in range(3)]


class _Factor(Transform):
    def __init__(self, factor=0.2):
        self.factor = _range(factor, "factor", 1.0) if isinstance(factor, int | float) else tuple(factor)

    def generate(self, n, shape, rng):
        return [{"factor": rng.uniform(*self.factor)} for _ in range(n)]


class Brightness(_Factor):
    """Multiply by a factor in [1 - b, 1 + b] (or (lo, hi)); Pillow ImageEnhance.Brightness, then clip."""

    def stages(self, params, shape):
        return [_matrix_op([_scale(p["factor"]) for p in params], shape)]


class Contrast(_Factor):
    """Blend with the image's mean grey level: m + f (x - m); Pillow ImageEnhance.Contrast (which rounds m to a
    whole 8-bit level; gpuml uses the exact mean of the luma)."""

    def stages(self, params, shape):
        return [Pixel(CONTRAST, [(p["factor"],) + (0.0,) * 11 for p in params])]


class Saturation(_Factor):
    """Blend with the luma grey image: f x + (1 - f) gray; Pillow ImageEnhance.Color. Identity on one channel."""

    def stages(self, params, shape):
        return [_matrix_op([_blend_gray(p["factor"]) for p in params], shape)]


YIQ = ((0.299, 0.587, 0.114), (0.595716, -0.274453, -0.321263), (0.211456, -0.522591, 0.311135))


def _inv3(m):
    a, b, c = m[0]
    d, e, f = m[1]
    g, h, i = m[2]
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    cof = [
        [e * i - f * h, c * h - b * i, b * f - c * e],
        [f * g - d * i, a * i - c * g, c * d - a * f],
        [d * h - e * g, b * g - a * h, a * e - b * d],
    ]
    return [[v / det for v in row] for row in cof]


def _mul3(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def hue_matrix(turns: float) -> list[list[float]]:
    """RGB -> RGB hue rotation by ``turns`` of a full circle: rotate the chroma plane (I, Q) of YIQ, keeping the
    luma Y (so greys are unchanged). A linear approximation of an HSV hue shift, one 3x3 matrix per image."""
    t = 2 * math.pi * turns
    rot = [[1.0, 0.0, 0.0], [0.0, math.cos(t), -math.sin(t)], [0.0, math.sin(t), math.cos(t)]]
    return _mul3(_inv3(YIQ), _mul3(rot, [list(r) for r in YIQ]))


class Hue(Transform):
    """Hue rotation in YIQ space by h turns drawn from [-h, h] (0.5 = 180°); identity on one channel."""

    def __init__(self, hue=0.05):
        self.hue = _range(hue, "hue")

    def generate(self, n, shape, rng):
        return [{"hue": rng.uniform(*self.hue)} for _ in range(n)]

    def stages(self, params, shape):
        return [_matrix_op([hue_matrix(p["hue"]) for p in params], shape)]


class Grayscale(Transform):
    """Replace R, G, B by the luma 0.299 R + 0.587 G + 0.114 B (channels kept); per image with probability p."""

    def __init__(self, p: float = 1.0):
        self.p = float(p)

    def generate(self, n, shape, rng):
        return [{"gray": rng.random() < self.p} for _ in range(n)]

    def stages(self, params, shape):
        gray = [list(LUMA)] * 3
        return [_matrix_op([gray if p["gray"] else _scale(1.0) for p in params], shape)]


class GaussianNoise(Transform):
    """Add N(0, sigma^2) noise per pixel and channel; sigma per image from [lo, hi] (a number: fixed). The noise
    comes from the device PCG hash of (per-image seed, channel, y, x) via Box-Muller."""

    def __init__(self, sigma=0.05):
        self.sigma = (float(sigma), float(sigma)) if isinstance(sigma, int | float) else tuple(sigma)

    def generate(self, n, shape, rng):
        return [{"sigma": rng.uniform(*self.sigma), "seed": rng.getrandbits(32)} for _ in range(n)]

    def stages(self, params, shape):
        return [Pixel(NOISE, [(p["sigma"], p["seed"]) + (0.0,) * 10 for p in params])]


def _cutout_op(rects, fill) -> Pixel:
    return Pixel(CUTOUT, [(float(x0), float(y0), float(x1), float(y1), fill) + (0.0,) * 7 for x0, y0, x1, y1 in rects])


class Cutout(Transform):
    """Cutout (DeVries & Taylor 2017): ``n_holes`` squares of ``size`` px (or (h, w)) centred at random pixels,
    clipped at the border, set to ``fill``."""

    def __init__(self, size=8, n_holes: int = 1, fill: float = 0.0):
        self.size = _size(size)
        self.n_holes = int(n_holes)
        self.fill = float(fill)

    def generate(self, n, shape, rng):
        _, h, w = shape
        out = []
        for _ in range(n):
            holes = []
            for _ in range(self.n_holes):
                cy, cx = rng.randrange(h), rng.randrange(w)
                y0, x0 = max(0, cy - self.size[0] // 2), max(0, cx - self.size[1] // 2)
                holes.append((x0, y0, min(w, x0 + self.size[1]), min(h, y0 + self.size[0])))
            out.append({"holes": holes})
        return out

    def stages(self, params, shape):
        return [_cutout_op([p["holes"][k] for p in params], self.fill) for k in range(self.n_holes)]


class RandomErasing(Transform):
    """torchvision's RandomErasing: with probability p, one rectangle of area fraction ``scale`` and aspect
    ``ratio`` set to ``fill`` (10 tries; none erased when no rectangle fits)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), fill=0.0):
        self.p, self.scale, self.ratio, self.fill = float(p), tuple(scale), tuple(ratio), float(fill)

    def generate(self, n, shape, rng):
        _, h, w = shape
        out = []
        for _ in range(n):
            rect = (0, 0, 0, 0)
            if rng.random() < self.p:
                for _ in range(10):
                    area = h * w * rng.uniform(*self.scale)
                    aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
                    eh, ew = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
                    if eh < h and ew < w:
                        y0, x0 = rng.randint(0, h - eh), rng.randint(0, w - ew)
                        rect = (x0, y0, x0 + ew, y0 + eh)
                        break
            out.append({"rect": rect})
        return out

    def stages(self, params, shape):
        return [_cutout_op([p["rect"] for p in params], self.fill)]


# --- pipelines ------------------------------------------------------------------------------------------------
class Compose(Transform):
    """Apply transforms in order. Consecutive geometric transforms fuse into one resampling pass; pixel ops run in
    the same kernel; the whole pipeline is a few dispatches over the batch (see gpuml.augment.engine).

    value_range: images are floats in this range (uint8 input is scaled to [0, 1]); clip: clamp after each
    colour op (as Pillow's 8-bit enhancers do)."""

    def __init__(self, transforms: Sequence[Transform], *, value_range=(0.0, 1.0), clip: bool = True):
        self.transforms = list(transforms)
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.clip = bool(clip)

    def output_shape(self, shape):
        for t in self.transforms:
            shape = t.output_shape(shape)
        return shape

    def generate(self, n, shape, rng):
        params = []
        for t in self.transforms:
            params.append(t.generate(n, shape, rng))
            shape = t.output_shape(shape)
        return params

    def stages(self, params, shape):
        out = []
        for t, p in zip(self.transforms, params, strict=True):
            out += t.stages(p, shape)
            shape = t.output_shape(shape)
        return out

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


def _masked(stages, keep, shape):
    return [s.masked(keep, shape[1:]) for s in stages]


class RandomApply(Transform):
    """Apply ``transform`` to each image with probability ``p`` (per-image; the others pass unchanged).
    The transform must keep the image size."""

    def __init__(self, transform: Transform, p: float = 0.5):
        self.transform, self.p = transform, float(p)

    def generate(self, n, shape, rng):
        apply = [rng.random() < self.p for _ in range(n)]
        return {"apply": apply, "params": self.transform.generate(n, shape, rng)}

    def output_shape(self, shape):
        out = self.transform.output_shape(shape)
        if out != shape:
            raise ValueError(f"RandomApply needs a size-preserving transform; {self.transform!r} gives {out}")
        return shape

    def stages(self, params, shape):
        self.output_shape(shape)
        return _masked(self.transform.stages(params["params"], shape), params["apply"], shape)


class OneOf(Transform):
    """Apply one of ``transforms`` per image, chosen with probabilities ``weights`` (uniform by default)."""

    def __init__(self, transforms: Sequence[Transform], weights: Sequence[float] | None = None):
        self.transforms = list(transforms)
        if not self.transforms:
            raise ValueError("OneOf needs at least one transform")
        self.weights = list(weights) if weights is not None else [1.0] * len(self.transforms)

    def output_shape(self, shape):
        outs = {t.output_shape(shape) for t in self.transforms}
        if len(outs) != 1:
            raise ValueError(f"OneOf transforms must give the same output size, got {sorted(outs)}")
        return outs.pop()

    def generate(self, n, shape, rng):
        choice = rng.choices(range(len(self.transforms)), weights=self.weights, k=n)
        return {"choice": choice, "params": [t.generate(n, shape, rng) for t in self.transforms]}

    def stages(self, params, shape):
        self.output_shape(shape)
        out = []
        for k, (t, p) in enumerate(zip(self.transforms, params["params"], strict=True)):
            keep = [c == k for c in params["choice"]]
            stages = t.stages(p, shape)
            if t.output_shape(shape) != shape and len(self.transforms) > 1:
                raise ValueError("OneOf cannot mix size-changing transforms")
            out += _masked(stages, keep, shape) if len(self.transforms) > 1 else stages
        return out
