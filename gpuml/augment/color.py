"""Colour and pixel transforms: brightness, contrast, saturation, hue, grayscale, noise, cutout and random
erasing. Each gives ``Pixel`` stages (ops run in registers after the pass's resampling)."""

from __future__ import annotations

import math

from ..impl.augment_params import CONTRAST, CUTOUT, LUMA, MATRIX, NOISE, NORMALIZE
from .base import Shape, Transform, _finite, _prob, _range, _size
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
        owner = type(self).__name__
        self.factor = _range(factor, "factor", 1.0, owner)
        if self.factor[0] < 0:  # a negative factor inverts the image: v <= 1 (documented [1 - v, 1 + v])
            raise ValueError(f"{owner}: factor must stay >= 0 (a strength in [0, 1] or a (lo, hi) range), got {factor}")

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
        self.hue = _range(hue, "hue", owner="Hue")

    def generate(self, n, shape, rng):
        return [{"hue": rng.uniform(*self.hue)} for _ in range(n)]

    def stages(self, params, shape):
        return [_matrix_op([hue_matrix(p["hue"]) for p in params], shape)]


class Grayscale(Transform):
    """Replace R, G, B by the luma 0.299 R + 0.587 G + 0.114 B (channels kept); per image with probability p."""

    def __init__(self, p: float = 1.0):
        self.p = _prob(p, "Grayscale")

    def generate(self, n, shape, rng):
        return [{"gray": rng.random() < self.p} for _ in range(n)]

    def stages(self, params, shape):
        gray = [list(LUMA)] * 3
        return [_matrix_op([gray if p["gray"] else _scale(1.0) for p in params], shape)]


class GaussianNoise(Transform):
    """Add N(0, sigma^2) noise per pixel and channel; sigma per image from [lo, hi] (a number: fixed). The noise
    comes from the device PCG hash of (per-image seed, channel, y, x) via Box-Muller."""

    def __init__(self, sigma=0.05):
        lo, hi = _range(sigma, "sigma", owner="GaussianNoise")
        self.sigma = (hi, hi) if isinstance(sigma, int | float) else (lo, hi)
        if self.sigma[0] < 0:
            raise ValueError(f"GaussianNoise: sigma must be >= 0, got {sigma!r}")

    def generate(self, n, shape, rng):
        return [{"sigma": rng.uniform(*self.sigma), "seed": rng.getrandbits(32)} for _ in range(n)]

    def stages(self, params, shape):
        return [Pixel(NOISE, [(p["sigma"], p["seed"]) + (0.0,) * 10 for p in params])]


def _cutout_op(rects, fill) -> Pixel:
    return Pixel(CUTOUT, [(float(x0), float(y0), float(x1), float(y1), fill) + (0.0,) * 7 for x0, y0, x1, y1 in rects])


MAX_HOLES = 64


class Cutout(Transform):
    """Cutout (DeVries & Taylor 2017): ``n_holes`` squares of ``size`` px (or (h, w)) centred at random pixels,
    clipped at the border, set to ``fill``."""

    def __init__(self, size=8, n_holes: int = 1, fill: float = 0.0):
        self.size = _size(size, "Cutout")
        # each hole is one masked pass of the fused kernel: a bound keeps a typo (1e30) from building forever
        if not 0 <= _finite(n_holes, "n_holes", "Cutout") <= MAX_HOLES or n_holes != int(n_holes):
            raise ValueError(f"Cutout: n_holes must be a whole number in [0, {MAX_HOLES}], got {n_holes!r}")
        self.n_holes = int(n_holes)
        self.fill = _finite(fill, "fill", "Cutout")

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
        owner = "RandomErasing"
        self.p, self.fill = _prob(p, owner), _finite(fill, "fill", owner)
        self.scale = _range(scale, "scale", owner=owner, low=0.0)
        self.ratio = _range(ratio, "ratio", owner=owner, low=0.0)
        if self.scale[1] > 1:
            raise ValueError(f"{owner}: scale is a fraction of the area in (0, 1], got {scale!r}")

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


class Normalize(Transform):
    """Per-channel standardisation (x - mean[c]) / std[c], as torchvision's Normalize; ``mean`` and ``std`` are
    in the units of the pipeline's ``value_range`` (the ImageNet (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    for [0, 1]); one value applies to every channel. A pixel op in the fused kernels; it never clips, and the
    colour ops that clip to ``value_range`` may not follow it (unless ``Compose(clip=False)``); geometric
    transforms may (their ``fill`` is then in normalised units). The result is float32 even for uint8 input."""

    normalizes = True

    def __init__(self, mean, std):
        owner = "Normalize"
        self.mean = tuple(_finite(v, "mean", owner) for v in ((mean,) if isinstance(mean, int | float) else mean))
        self.std = tuple(_finite(v, "std", owner) for v in ((std,) if isinstance(std, int | float) else std))
        if not self.mean or len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: mean and std need the same number of values, got {mean!r} and {std!r}")
        if any(v <= 0 for v in self.std):
            raise ValueError(f"Normalize: std must be > 0, got {std!r}")

    def _per_channel(self, c: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if len(self.mean) == 1:
            return self.mean * c, self.std * c
        if len(self.mean) != c:
            raise ValueError(f"Normalize: {len(self.mean)} means and stds for images of {c} channels")
        return self.mean, self.std

    def generate(self, n, shape, rng):
        self._per_channel(shape[0])
        return [{} for _ in range(n)]

    def stages(self, params, shape):
        mean, std = self._per_channel(shape[0])
        out = []
        for g in range(0, shape[0], 4):  # one op per group of 4 channels (a quad's register rows)
            m, s = mean[g : g + 4], std[g : g + 4]
            per = (*m, *(0.0,) * (4 - len(m)), *s, *(1.0,) * (4 - len(s)), float(g // 4), 0.0, 0.0, 0.0)
            out.append(Pixel(NORMALIZE, [per] * len(params)))
        return out
