"""Augmentation transforms (every class, from gpuml/augment/base.py, geometric.py and color.py) and the
pipelines that combine them: Compose, RandomApply, OneOf."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Shape, Transform, _finite, _prob, make_rng
from .color import (
    YIQ,
    Brightness,
    Contrast,
    Cutout,
    GaussianNoise,
    Grayscale,
    Hue,
    Normalize,
    RandomErasing,
    Saturation,
    hue_matrix,
)
from .geometric import (
    Affine,
    Crop,
    ElasticTransform,
    HorizontalFlip,
    RandomCrop,
    RandomResizedCrop,
    Resize,
    Rotate,
    Translate,
    VerticalFlip,
    Zoom,
    affine_matrix,
    rotation_matrix,
)

__all__ = [
    "YIQ",
    "Affine",
    "Brightness",
    "Compose",
    "Contrast",
    "Crop",
    "Cutout",
    "ElasticTransform",
    "GaussianNoise",
    "Grayscale",
    "HorizontalFlip",
    "Hue",
    "Normalize",
    "OneOf",
    "RandomApply",
    "RandomCrop",
    "RandomErasing",
    "RandomResizedCrop",
    "Resize",
    "Rotate",
    "Saturation",
    "Shape",
    "Transform",
    "Translate",
    "VerticalFlip",
    "Zoom",
    "affine_matrix",
    "hue_matrix",
    "make_rng",
    "rotation_matrix",
]


# --- pipelines ------------------------------------------------------------------------------------------------
class Compose(Transform):
    """Apply transforms in order. Consecutive geometric transforms fuse into one resampling pass; pixel ops run in
    the same kernel; the whole pipeline is a few dispatches over the batch (see gpuml.augment.stages).

    Plain Python callables (tensor -> tensor) may sit between the transforms: each gets the float32 (N, C, H, W)
    device tensor the transforms before it produced and returns the next input (same device, same N). A callable
    splits the pipeline into separately fused segments (each one or more passes), so it costs a pass boundary;
    it cannot be nested in RandomApply / OneOf or planned ahead (``stages``), only run.

    value_range: float images lie in this range (a float host batch outside it is a ValueError; uint8 input is read
    as byte / 255, so it needs (0, 1)); the colour transforms' clip, Normalize's mean and std, ``fill`` and noise
    sigma are in its units. clip: clamp after each colour op (as Pillow's 8-bit enhancers do)."""

    def __init__(self, transforms: Sequence[Transform], *, value_range=(0.0, 1.0), clip: bool = True):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not isinstance(t, Transform) and not callable(t):
                raise TypeError(f"Compose takes gpuml.augment transforms and callables, got {t!r}")
        lo, hi = (_finite(v, "value_range", "Compose") for v in value_range)
        if not lo < hi:
            raise ValueError(f"Compose: value_range must be (lo, hi) with lo < hi, got {tuple(value_range)!r}")
        self.value_range = (lo, hi)
        self.clip = bool(clip)
        for t in self.transforms:
            if isinstance(t, Transform) and t.normalizes:
                break  # after Normalize, values (and a fill) are in the normalised units
            for owner, fill in _fills(t):
                if not lo <= fill <= hi:
                    raise ValueError(f"{owner}: fill {fill:g} is outside the value_range ({lo:g}, {hi:g})")

    @property
    def callables(self) -> bool:
        return any(not isinstance(t, Transform) for t in self.transforms)

    @property
    def normalizes(self) -> bool:
        return any(isinstance(t, Transform) and t.normalizes for t in self.transforms)

    def _items(self):
        return self.transforms if self.callables else [self]

    def _param_list(self, params):
        return list(params) if self.callables else [params]

    def _param_value(self, plist):
        return plist if self.callables else plist[0]

    def _planned(self):
        if self.callables:
            raise TypeError("a Compose with Python callables runs only as a whole (call it or apply_batch)")

    def output_shape(self, shape):
        self._planned()
        for t in self.transforms:
            shape = t.output_shape(shape)
        return shape

    def generate(self, n, shape, rng):
        self._planned()
        params = []
        for t in self.transforms:
            params.append(t.generate(n, shape, rng))
            shape = t.output_shape(shape)
        return params

    def stages(self, params, shape):
        self._planned()
        out = []
        for t, p in zip(self.transforms, params, strict=True):
            out += t.stages(p, shape)
            shape = t.output_shape(shape)
        return out

    def select(self, params, first, last):
        return [
            t.select(p, first, last) if isinstance(t, Transform) and p is not None else p
            for t, p in zip(self.transforms, params, strict=True)
        ]

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


def _fills(t):
    """(transform name, fill) of ``t`` and the transforms nested in it."""
    if hasattr(t, "fill"):
        yield type(t).__name__, t.fill
    for inner in [getattr(t, "transform", None), *getattr(t, "transforms", [])]:
        if isinstance(inner, Transform):
            yield from _fills(inner)


def _masked(stages, keep, shape):
    return [s.masked(keep, shape[1:]) for s in stages]


class RandomApply(Transform):
    """Apply ``transform`` to each image with probability ``p`` (per-image; the others pass unchanged).
    The transform must keep the image size."""

    def __init__(self, transform: Transform, p: float = 0.5):
        if not isinstance(transform, Transform) or getattr(transform, "callables", False):
            raise TypeError(f"RandomApply takes one gpuml.augment transform, got {transform!r}")
        self.transform, self.p = transform, _prob(p, f"RandomApply({type(transform).__name__})")

    @property
    def normalizes(self) -> bool:
        return self.transform.normalizes

    def select(self, params, first, last):
        return {"apply": params["apply"][first:last], "params": self.transform.select(params["params"], first, last)}

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
        if not all(isinstance(t, Transform) and not getattr(t, "callables", False) for t in self.transforms):
            raise TypeError(f"OneOf takes gpuml.augment transforms, got {self.transforms!r}")
        self.weights = (
            [_finite(v, "weights", "OneOf") for v in weights] if weights is not None else [1.0] * len(self.transforms)
        )
        if len(self.weights) != len(self.transforms) or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"OneOf: weights must be one per transform, >= 0 and not all 0, got {weights!r}")

    @property
    def normalizes(self) -> bool:
        return any(t.normalizes for t in self.transforms)

    def select(self, params, first, last):
        sel = [t.select(p, first, last) for t, p in zip(self.transforms, params["params"], strict=True)]
        return {"choice": params["choice"][first:last], "params": sel}

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
