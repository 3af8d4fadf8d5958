"""Colour and pixel transforms: brightness, contrast, saturation, hue, grayscale, noise, cutout and random
erasing. Each gives ``Pixel`` stages (ops run in registers after the pass's resampling)."""

from __future__ import annotations

import math

from ..impl.augment_params import CONTRAST, CUTOUT, LUMA, MATRIX, NOISE
from .base import Shape, Transform, _range, _size
from .stages import Pixel


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
