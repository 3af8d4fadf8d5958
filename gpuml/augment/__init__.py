"""GPU data augmentation over image batches: one WGSL resampling pass per run of geometric transforms.

    >>> import gpuml.augment as A
    >>> pipe = A.Compose([A.HorizontalFlip(), A.Rotate(15), A.RandomCrop(24), A.Brightness(0.2), A.Contrast(0.2)])
    >>> out = pipe(images_uint8, seed=0)            # numpy / PIL in, same kind out
    >>> again = pipe(images_uint8, params=pipe.params_)   # exact replay
    >>> x_aug = A.parse_pipeline("rotate 15, translate 2, zoom 0.1").apply_batch(x_device, seed=0, step=k)
    >>> norm = A.Compose([A.RandomResizedCrop(224), A.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])

Inputs: (N, H, W) or (N, C, H, W) float (values in the pipeline's ``value_range``, [0, 1] by default; a float host
batch outside it is a ValueError naming the range found — scale it, pass uint8, or declare
``Compose(..., value_range=(0, 255))``) or uint8 (packed into u32 words on upload, read as byte / 255, returned as
uint8 written by the kernels), PIL images, or gpuml Tensors (``apply_batch``: device in, device out, no host round
trip, values trusted unless ``check_range=True``; ``out="uint8"`` gives an ``io.U8Batch`` of uint8 pixels instead
of float32). After ``Normalize`` the result is float32 whatever the input. Host batches larger than the adapter's
largest storage binding run in chunks of images, with the same result (gpuml.augment.run). ``Compose`` also takes
plain callables (tensor -> tensor) between transforms; each splits the fused pipeline into segments.

Units of every parameter (the same in the classes and the text spec, gpuml.augment.spec):

    ====================================  ===============================================================
    parameter                             unit
    ====================================  ===============================================================
    Rotate degrees, Affine degrees/shear  degrees, counter-clockwise; ``v`` draws from [-v, v]
    Translate max_dx/max_dy, Affine       pixels (of the image the transform sees); ``v``: [-v, v]
    translate, ElasticTransform alpha
    and spacing, Cutout size
    Crop / RandomCrop / Resize /          pixels of the output (H, W)
    RandomResizedCrop size
    RandomResizedCrop / RandomErasing     fraction of the image area (scale); aspect ratio: width / height
    scale, ratio                          for RandomResizedCrop, height / width for RandomErasing (torchvision)
    Zoom, Affine scale, Brightness,       fraction: factor drawn from [1 - v, 1 + v] (or a (lo, hi) factor range)
    Contrast, Saturation
    Hue                                   turns of the colour circle (0.5 = 180 degrees); [-v, v]
    GaussianNoise sigma, Normalize mean   value_range units (for [0, 1] images, 0.05 = 5 % of full scale)
    and std, fill (every transform)
    p (flips, Grayscale, RandomErasing,   probability in [0, 1], per image
    RandomApply, spec ``p=``)
    ====================================  ===============================================================

The demos' sliders (gpuml/playground/augment.py TRANSFORMS) give translate, cutout and elastic as a fraction of
the image size and convert them to pixels in the spec they run. A value outside its domain (a probability
outside [0, 1], NaN or infinity, a size below one pixel or above 16384, a Brightness / Contrast / Saturation
strength above 1 (a negative factor), a non-positive std, a ``fill`` outside the Compose's ``value_range``) is a
one-line ValueError naming the transform and the value (and, from a text spec, the item).

Split as in kornia: ``generate(n, shape, rng)`` draws per-image parameters with ``random.Random`` (seeded with
(seed, step); identical in CPython and Pyodide, no numpy needed); the apply is a deterministic function of
(image, parameters), so the native, browser, cpu and python (pure-Python) backends give the same result for the
same seed; each backend's passes are in gpuml/impl/{webgpu,cpu,python}/augment.py.

Conventions (Pillow's): matrices map output pixel centres (x + 0.5, y + 0.5) to input coordinates; nearest takes
pixel floor(q); bilinear interpolates at q - 0.5 with edge clamping; points outside the source get ``fill``.
Rotation angles are counter-clockwise degrees. Consecutive geometric transforms are composed into one matrix per
image and resampled once (sharper than resampling at each step); bounds are checked against the source only, so a
corner an intermediate rotation would have filled may show source pixels instead. Colour ops clip to
``value_range`` after each step, as Pillow's 8-bit enhancers do; Normalize never clips, and a clipping op may
not follow it (unless ``clip=False``).
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
