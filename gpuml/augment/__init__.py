"""GPU data augmentation over image batches: one WGSL resampling pass per run of geometric transforms.

    >>> import gpuml.augment as A
    >>> pipe = A.Compose([A.HorizontalFlip(), A.Rotate(15), A.RandomCrop(24), A.Brightness(0.2), A.Contrast(0.2)])
    >>> out = pipe(images_uint8, seed=0)            # numpy / PIL in, same kind out
    >>> again = pipe(images_uint8, params=pipe.params_)   # exact replay
    >>> x_aug = A.parse_pipeline("rotate 15, translate 2, zoom 0.1").apply_batch(x_device, seed=0, step=k)

Inputs: (N, H, W) or (N, C, H, W) float32 (values in [0, 1]) or uint8 (packed into u32 words on upload, returned
as uint8 written by the kernels), PIL images, or gpuml Tensors (``apply_batch``: device in, device out, no host
round trip; ``out="uint8"`` gives an ``io.U8Batch`` of uint8 pixels instead of float32).

Split as in kornia: ``generate(n, shape, rng)`` draws per-image parameters with ``random.Random`` (seeded with
(seed, step); identical in CPython and Pyodide, no numpy needed); the apply is a deterministic function of
(image, parameters), so the native, browser, cpu and python (pure-Python) backends give the same result for the
same seed; each backend's passes are in gpuml/impl/{webgpu,cpu,python}/augment.py.

Conventions (Pillow's): matrices map output pixel centres (x + 0.5, y + 0.5) to input coordinates; nearest takes
pixel floor(q); bilinear interpolates at q - 0.5 with edge clamping; points outside the source get ``fill``.
Rotation angles are counter-clockwise degrees. Consecutive geometric transforms are composed into one matrix per
image and resampled once (sharper than resampling at each step); bounds are checked against the source only, so a
corner an intermediate rotation would have filled may show source pixels instead. Colour ops clip to
``value_range`` after each step, as Pillow's 8-bit enhancers do.
"""

from __future__ import annotations

from .engine import execute, plan
from .io import contact_sheet, from_host, to_host
from .spec import parse_pipeline, parse_transform
from .transforms import (
    Affine,
    Brightness,
    Compose,
    Contrast,
    Crop,
    Cutout,
    ElasticTransform,
    GaussianNoise,
    Grayscale,
    HorizontalFlip,
    Hue,
    Normalize,
    OneOf,
    RandomApply,
    RandomCrop,
    RandomErasing,
    RandomResizedCrop,
    Resize,
    Rotate,
    Saturation,
    Transform,
    Translate,
    VerticalFlip,
    Zoom,
    make_rng,
)

# Test tolerances per (dtype, operation kind): (max abs error, fraction of pixels allowed beyond it).
# float32 bilinear: f32 coordinates (error ~1e-5 px at 224 px) times a gradient of at most 1 per pixel; a point
# exactly on the source border can land inside on one backend and outside on another, hence the outlier fraction.
# uint8: one level (Pillow truncates blends, gpuml rounds; Pillow rounds the contrast mean to a whole level).
TOLERANCES: dict[tuple[str, str], tuple[float, float]] = {
    ("float32", "exact"): (0.0, 0.0),
    ("float32", "nearest"): (0.0, 0.002),
    ("float32", "bilinear"): (2e-4, 0.002),
    ("float32", "color"): (2e-6, 0.0),
    ("float32", "noise"): (2e-5, 0.0),
    ("uint8", "exact"): (0, 0.0),
    ("uint8", "nearest"): (0, 0.002),
    ("uint8", "bilinear"): (1, 0.002),
    ("uint8", "color"): (1, 0.0),
}

__all__ = [
    "TOLERANCES",
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
    "Transform",
    "Translate",
    "VerticalFlip",
    "Zoom",
    "contact_sheet",
    "execute",
    "from_host",
    "make_rng",
    "parse_pipeline",
    "parse_transform",
    "plan",
    "to_host",
]
