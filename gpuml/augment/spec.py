"""Text pipeline specs: ``parse_pipeline("rotate 15, translate 2, zoom 0.1")`` -> Compose.

Items are separated by commas (or semicolons): a name, then positional numbers, ``nearest``/``bilinear``, and
``key=value`` options; ``p=0.3`` on any item wraps it in RandomApply (flips and grayscale take p themselves; the
size-changing crop, centercrop, resize and rrc take no p: every image of a batch must come out the same size).

  rotate D            Rotate(D)                  translate T [TY]     Translate(T, TY) px
  zoom Z              Zoom(Z)                    affine D T S SH      Affine(D, T, (1-S, 1+S), SH)
  hflip|flip [P]      HorizontalFlip(P=0.5)      vflip [P]            VerticalFlip(P=0.5)
  crop H [W]          RandomCrop                 centercrop H [W]     Crop (centred)
  resize H [W]        Resize                     rrc H [W]            RandomResizedCrop
  brightness B        Brightness(B)              contrast C           Contrast(C)
  saturation S        Saturation(S)              hue H                Hue(H turns)
  grayscale [P]       Grayscale(P=1)             noise SIGMA          GaussianNoise(SIGMA)
  cutout SIZE [N]     Cutout(SIZE, N)            erase [P]            RandomErasing(P)
  elastic A [SPACING] ElasticTransform(A, SPACING)
  normalize M.. S..   Normalize(means, stds): one mean and one std, or one of each per channel (M1 M2 M3 S1 S2 S3)

Units (see gpuml.augment): sizes, translate, cutout and elastic in pixels; rotate, affine and shear in degrees;
zoom, brightness, contrast, saturation and affine's S as a fraction (factor 1 +- v); hue in turns; noise sigma,
normalize and fill= in value_range units; p= and flip / grayscale / erase probabilities in [0, 1].
A bad value is a one-line ValueError naming the item.
"""

from __future__ import annotations

from . import transforms as T

_SIZED = {"crop": T.RandomCrop, "centercrop": T.Crop, "resize": T.Resize, "rrc": T.RandomResizedCrop}
_SIMPLE = {
    "rotate": T.Rotate,
    "translate": T.Translate,
    "zoom": T.Zoom,
    "hflip": T.HorizontalFlip,
    "flip": T.HorizontalFlip,
    "vflip": T.VerticalFlip,
    "brightness": T.Brightness,
    "contrast": T.Contrast,
    "saturation": T.Saturation,
    "hue": T.Hue,
    "grayscale": T.Grayscale,
    "noise": T.GaussianNoise,
    "cutout": T.Cutout,
    "erase": T.RandomErasing,
    "elastic": T.ElasticTransform,
}
NAMES = sorted([*_SIZED, *_SIMPLE, "affine", "normalize"])


def _number(tok: str):
    try:
        v = float(tok)
    except ValueError:
        return None
    return int(v) if v.is_integer() and "." not in tok else v


def parse_transform(item: str) -> T.Transform:
    tokens = item.split()
    if not tokens:
        raise ValueError("empty item in augmentation spec")
    name, rest = tokens[0].lower(), tokens[1:]
    nums, kwargs = [], {}
    for tok in rest:
        if "=" in tok:
            key, _, val = tok.partition("=")
            num = _number(val)
            kwargs[key] = num if num is not None else val
        elif tok.lower() in ("nearest", "bilinear"):
            kwargs["interpolation"] = tok.lower()
        else:
            num = _number(tok)
            if num is None:
                raise ValueError(f"augmentation spec item {item!r}: cannot read {tok!r}")
            nums.append(num)
    p = kwargs.pop("p", None)
    if name in _SIZED:
        if p is not None:  # RandomApply keeps the others unchanged: every image must come out the same size
            raise ValueError(f"augmentation spec item {item!r}: p= needs a size-preserving transform; {name} resizes")
        if not 1 <= len(nums) <= 2:
            raise ValueError(f"{name} takes a size H [W], got {item!r}")
        t = _build(item, _SIZED[name], tuple(nums) if len(nums) == 2 else nums[0], **kwargs)
    elif name == "normalize":
        if not nums or len(nums) % 2:
            raise ValueError(f"normalize takes means then stds (as many of each), got {item!r}")
        t = _build(item, T.Normalize, tuple(nums[: len(nums) // 2]), tuple(nums[len(nums) // 2 :]), **kwargs)
    elif name == "affine":
        d, tr, s, sh = ([*nums, 0, 0, 0, 0])[:4]
        t = _build(item, T.Affine, d, tr, (1 - s, 1 + s), sh, **kwargs)
    elif name in _SIMPLE:
        cls = _SIMPLE[name]
        if p is not None and cls in (T.HorizontalFlip, T.VerticalFlip, T.Grayscale, T.RandomErasing):
            kwargs["p"], p = p, None
        t = _build(item, cls, *nums, **kwargs)
    else:
        raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(NAMES)}")
    return _build(item, T.RandomApply, t, p) if p is not None else t


def _build(item: str, cls, *args, **kwargs):
    """cls(*args, **kwargs), with the spec item in the message of a ValueError / TypeError."""
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"augmentation spec item {item!r}: {exc}") from None


def parse_pipeline(spec: str, **compose_kwargs) -> T.Compose:
    """A Compose from a text spec such as ``"rotate 15, translate 2, zoom 0.1"`` (see the module docstring)."""
    items = [s.strip() for s in spec.replace(";", ",").split(",") if s.strip()]
    if not items:
        raise ValueError("empty augmentation spec")
    parsed = [parse_transform(s) for s in items]
    for s, t in zip(items, parsed, strict=True):  # per-item checks (fill vs value_range) name the item
        _build(s, T.Compose, [t], **compose_kwargs)
    return T.Compose(parsed, **compose_kwargs)
