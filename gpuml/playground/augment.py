"""Data augmentation, live: a batch of images through a ``gpuml.augment`` pipeline on the device, with new random
parameters per seed. The pipeline is built from per-transform switches and strengths (its text spec works with
``gpuml train --augment`` and ``gpuml augment --pipeline``), or given as a text spec. Numpy-free.
"""

from __future__ import annotations

import time

from ..augment import parse_pipeline
from . import augment_steps
from .augment_export import export_zip
from .controls import DemoModel, button, slider, toggle

# name, spec template, default strength, (min, max), what the number means
TRANSFORMS = [
    ("rotate", "rotate {v}", 25.0, (1.0, 180.0), "max degrees"),
    ("translate", "translate {v}", 0.12, (0.01, 0.5), "fraction of the size"),
    ("zoom", "zoom {v}", 0.2, (0.02, 0.6), "max scale change"),
    ("elastic", "elastic {v}", 0.06, (0.01, 0.3), "displacement / size"),
    ("hflip", "hflip {v}", 0.5, (0.0, 1.0), "probability"),
    ("brightness", "brightness {v}", 0.3, (0.02, 0.9), "max change"),
    ("contrast", "contrast {v}", 0.4, (0.02, 0.9), "max change"),
    ("noise", "noise {v}", 0.08, (0.005, 0.5), "sigma"),
    ("cutout", "cutout {v}", 0.25, (0.05, 0.6), "square / size"),
]
DEFAULT_ON = {"rotate", "translate", "zoom", "brightness", "noise"}


def _controls():
    out = []
    for name, _, default, (lo, hi), meaning in TRANSFORMS:
        out.append(toggle(name, name in DEFAULT_ON))
        step = 0.1 if name == "hflip" else None  # probabilities move linearly, strengths by x1.25
        out.append(slider(f"{name}_strength", default, lo, hi, log=step is None, step=step, label=meaning))
    out.append(slider("seed", 0, 0, 2**31 - 1, integer=True, step=1))
    out.append(button("new", label="new variants (next seed)"))
    return tuple(out)


class AugmentModel(DemoModel):
    """``images``: an (N, C, H, W) or (N, H, W) float32 tensor in [0, 1] (N variants are made: pass one image N
    times for variants of one image); ``source`` describes it."""

    name = "augment"
    title = "data augmentation"
    controls = _controls()

    def __init__(self, images, *, source: str = "", seed: int = 0):
        super().__init__()
        self.images, self.source = images, source
        self.size = images.shape[-1]
        self.values["seed"] = int(seed)
        self.custom_spec: str | None = None
        self.steps: list[dict] = []  # the builder's steps when a spec / builder drives the pipeline
        self.presses = 0
        self.dirty = True
        self.variants = images
        self.params = []
        self.ms = 0.0

    def use_spec(self, spec: str | None, *, strict: bool = True) -> None:
        """Run a text spec instead of the switches (None: back to the switches; "": no transform); a bad spec
        raises a one-line ValueError naming the item, and (``strict``: a spec the user typed) a number outside
        the builder's range for it one naming the step, the parameter, the value and the range. The builder's
        steps follow the spec (``strict=False``: the switches' own spec, whose sizes scale with the image)."""
        if spec is not None and spec.strip():
            parse_pipeline(spec)
            self.steps = augment_steps.spec_to_steps(spec, strict=strict)
        elif spec is not None:
            self.steps = []
        self.custom_spec = spec
        self.dirty = True

    def edit_steps(self, op: str, index: int = 0, arg=None, key: int | None = None) -> str:
        """Change the builder's steps (see :func:`augment_steps.edit`) and run the spec they give (returned)."""
        steps = augment_steps.edit(self.steps, op, index, arg, key)
        h, w = self.images.shape[-2:]
        for i, s in enumerate(steps):  # the builder's crop range is for any image: it must fit this one
            if s["name"] == "crop" and "raw" not in s and s["values"][0] > min(h, w):
                raise ValueError(
                    f"step {i + 1} (crop): size is at most {min(h, w)} (image {h} x {w}), got {s['values'][0]}"
                )
        spec = augment_steps.steps_to_spec(steps)
        if spec:
            parse_pipeline(spec)
        self.steps, self.custom_spec, self.dirty = steps, spec, True
        return spec

    def export(self, *, label: str = "", stem: str = "image") -> bytes:
        """The original and the current variants as a zip of PNGs plus labels.csv (gpuml augment's format)."""
        self.step()
        orig, vars_ = _flat_images(self.images)[0], _flat_images(self.variants)
        return export_zip(orig, vars_, self.params, source=self.source, label=label, stem=stem)

    def spec(self) -> str:
        """The pipeline's text spec (sizes in pixels of this batch)."""
        if self.custom_spec is not None:
            return self.custom_spec
        items = []
        for name, template, *_ in TRANSFORMS:
            if not self.values[name]:
                continue
            v = self.values[f"{name}_strength"]
            if name in ("translate", "cutout"):
                v = max(1, round(v * self.size))
            elif name == "elastic":
                v = round(v * self.size, 2)
            items.append(template.format(v=f"{v:g}"))
        return ", ".join(items)

    def step(self) -> None:
        """Augment the batch (when something changed): ``variants`` (float32 tensor, same device)."""
        if not self.dirty:
            return
        t0 = time.perf_counter()
        spec = self.spec()
        if spec:
            pipe = parse_pipeline(spec)
            self.variants = pipe.apply_batch(self.images, seed=self.values["seed"], step=0)
            self.params = pipe.params_
        else:
            self.variants, self.params = self.images, []
        self.ms = (time.perf_counter() - t0) * 1e3
        self.dirty = False

    def _changed(self, name, value) -> None:
        if name.endswith("_strength"):
            self.values[name.removesuffix("_strength")] = True  # changing a strength switches it on
        self.dirty = True

    def _pressed(self, name) -> None:
        if name == "new":
            self.values["seed"] += 1
            self.presses += 1
            self.dirty = True

    def view(self) -> dict:
        """What to draw: ``images`` and ``variants`` (device tensors in [0, 1]; clip before display), the
        per-transform rows (name, on, strength, its range, meaning) and the spec text."""
        return {
            "title": "data augmentation",
            "source": self.source,
            "images": self.images,
            "variants": self.variants,
            "seed": self.values["seed"],
            "transforms": [
                (name, self.values[name], self.values[f"{name}_strength"], rng, meaning)
                for name, _, _, rng, meaning in TRANSFORMS
            ],
            "spec": self.spec(),
            "steps": self.steps,
        }

    def state(self) -> dict:
        return {
            "seed": self.values["seed"],
            "presses": self.presses,
            "spec": self.spec(),
            "enabled": [t[0] for t in TRANSFORMS if self.values[t[0]]],
            "source": self.source,
        }


def _flat_images(t) -> list[tuple[list[float], int, int, int]]:
    """(flat C x H x W floats, c, h, w) per image of an (N, C, H, W) or (N, H, W) tensor (one readback)."""
    n, (h, w) = t.shape[0], t.shape[-2:]
    c = t.shape[1] if len(t.shape) == 4 else 1
    flat = t.reshape(n * c * h * w).tolist()
    size = c * h * w
    return [(flat[i * size : (i + 1) * size], c, h, w) for i in range(n)]


def color_card(size: int = 48) -> list[float]:
    """A small RGB test card (gradients, a disc, stripes) as flat C x H x W floats, built in Python: the page's
    colour gallery source."""
    r, g, b = [], [], []
    for y in range(size):
        for x in range(size):
            u, v = x / (size - 1), y / (size - 1)
            disc = (u - 0.62) ** 2 + (v - 0.38) ** 2 < 0.05
            stripe = (x // 6) % 2 == 0 and v > 0.72
            r.append(1.0 if disc else (0.95 if stripe else 0.2 + 0.6 * u))
            g.append(0.85 if disc else (0.95 if stripe else 0.25 + 0.5 * v))
            b.append(0.15 if disc else (0.95 if stripe else 0.7 - 0.4 * u))
    return r + g + b
