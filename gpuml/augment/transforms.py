"""Augmentation transforms (every class, from gpuml/augment/base.py, geometric.py and color.py) and the
pipelines that combine them: Compose, RandomApply, OneOf."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Shape, Transform, make_rng
from .color import (
    YIQ,
    Brightness,
    Contrast,
    Cutout,
    GaussianNoise,
    Grayscale,
    Hue,
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
