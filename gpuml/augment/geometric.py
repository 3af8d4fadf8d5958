"""Geometric transforms: flips, rotation, crops, resizing, affine maps and elastic distortion. Each gives
``Geo`` stages (per-image inverse matrices, fused into one resampling pass) or an ``Elastic`` stage."""

from __future__ import annotations

import math

from .base import Transform, _finite, _interp, _prob, _range, _size
from .stages import IDENTITY, Elastic, Geo, Mat, compose, invert


# --- geometric ----------------------------------------------------------------------------------------------
class _Flip(Transform):
    geometric = True
    axis = 0

    def __init__(self, p: float = 0.5):
        self.p = _prob(p, type(self).__name__)

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


def rotation_matrix(angle: float, w: int, h: int, center=None) -> Mat:
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
        self.degrees = _range(degrees, "degrees", owner="Rotate")
        self.interpolation = _interp(interpolation, "Rotate")
        self.fill = _finite(fill, "fill", "Rotate")

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
        owner = type(self).__name__
        self.size = _size(size, owner)
        for name, v in (("top", top), ("left", left)):
            if v is not None and (_finite(v, name, owner) < 0 or v != int(v)):
                raise ValueError(f"{owner}: {name} must be a whole pixel offset >= 0, got {v!r}")
        self.top, self.left = top, left

    def output_shape(self, shape):
        return (shape[0], *self.size)

    def _check(self, shape):
        ch, cw = self.size
        if ch > shape[1] or cw > shape[2] or ch < 1 or cw < 1:
            raise ValueError(f"{type(self).__name__}: crop size {self.size} does not fit images of {shape[1:]}")

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
        self.size = _size(size, "Resize")
        self.interpolation = _interp(interpolation, "Resize")

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
        self.size = _size(size, "RandomResizedCrop")
        self.scale = _range(scale, "scale", owner="RandomResizedCrop", low=0.0)
        self.ratio = _range(ratio, "ratio", owner="RandomResizedCrop", low=0.0)
        if self.scale[1] > 1:
            raise ValueError(f"RandomResizedCrop: scale is a fraction of the area in (0, 1], got {scale!r}")
        self.interpolation = _interp(interpolation, "RandomResizedCrop")

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


def affine_matrix(w, h, angle=0.0, translate=(0.0, 0.0), scale=1.0, shear=(0.0, 0.0)) -> Mat:
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
    lin = compose(r, compose(sh, s))
    to_c = (1.0, 0.0, cx + translate[0], 0.0, 1.0, cy + translate[1])
    from_c = (1.0, 0.0, -cx, 0.0, 1.0, -cy)
    forward = compose(to_c, compose(lin, from_c))
    return invert(forward)


class Affine(Transform):
    """Random rotation, translation, scale and shear combined into one matrix (one resampling pass).

    degrees: angle range (counter-clockwise); translate: max |dx|, |dy| in pixels (a number or (tx, ty));
    scale: (lo, hi) factor range; shear: x-shear range in degrees (a number or (lo, hi)).
    """

    geometric = True

    def __init__(self, degrees=0.0, translate=0.0, scale=(1.0, 1.0), shear=0.0, interpolation="bilinear", fill=0.0):
        owner = type(self).__name__
        self.degrees = _range(degrees, "degrees", owner=owner)
        tx, ty = (translate, translate) if isinstance(translate, int | float) else translate
        self.translate = tuple(_range(t, "translate", owner=owner)[1] for t in (tx, ty))
        self.scale = _range(scale, "zoom" if owner == "Zoom" else "scale", 1.0, owner, low=0.0)
        self.shear = _range(shear, "shear", owner=owner)
        self.interpolation = _interp(interpolation, owner)
        self.fill = _finite(fill, "fill", owner)

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
        super().__init__(scale=_range(zoom, "zoom", 1.0, "Zoom", low=0.0), interpolation=interpolation, fill=fill)


class ElasticTransform(Transform):
    """Elastic distortion (Simard et al. 2003 in spirit): each output pixel is displaced by ``alpha`` pixels times
    a smooth random field in [-1, 1]^2. The field is generated on the device from a per-image seed: random values
    on a lattice of ``spacing`` pixels, blended with smoothstep weights (C1) — a cheap stand-in for Gaussian-
    smoothed white noise with correlation length ~``spacing``, needing no extra passes."""

    geometric = True

    def __init__(self, alpha=2.0, spacing=4.0, interpolation="bilinear", fill=0.0):
        owner = "ElasticTransform"
        a = _range(alpha, "alpha", 0.0, owner)
        self.alpha = a if not isinstance(alpha, int | float) else (a[1], a[1])
        if self.alpha[0] < 0:
            raise ValueError(f"{owner}: alpha (pixels) must be >= 0, got {alpha!r}")
        if _finite(spacing, "spacing", owner) <= 0:
            raise ValueError(f"{owner}: spacing (pixels) must be > 0, got {spacing!r}")
        self.spacing = float(spacing)
        self.interpolation = _interp(interpolation, owner)
        self.fill = _finite(fill, "fill", owner)

    def generate(self, n, shape, rng):
        return [{"alpha": rng.uniform(*self.alpha), "seed": rng.getrandbits(32)} for _ in range(n)]

    def stages(self, params, shape):
        return [Elastic([(p["alpha"], self.spacing, p["seed"]) for p in params], self.interpolation, self.fill)]
