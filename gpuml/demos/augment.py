"""Data augmentation, live, in a window: a thin front end over :class:`gpuml.playground.augment.AugmentModel`:
one image and 9 augmented variants (one batch through ``gpuml.augment`` on the device), re-drawn with new random
parameters per click or key press. Two tabs: "switches" (each transform on / off and its strength on a slider;
the text spec of the pipeline is shown: it works with ``gpuml train --augment`` and ``gpuml augment --pipeline``)
and "builder" (:mod:`gpuml.demos.augment_builder`: add transforms from a list, remove and reorder steps, a slider
per parameter and per step's probability, and the text spec as an editable field, in sync both ways; the model
checks every value), as on the page; everything works with the mouse and with keys. "export zip" ("e") writes the
set shown (the original and the 9 variants as PNGs plus labels.csv, the page's download and ``gpuml augment``'s
format) as a zip in the ``export_dir`` option's folder (default: the current one).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..playground.augment import TRANSFORMS, AugmentModel
from ..playground.augment_export import export_zip
from ..tensor import tensor
from .app import Demo
from .augment_builder import STEPS_BOX, Builder
from .render import DIM, PALETTE, TEXT
from .widgets import ERROR, Widgets, clip


def default_image() -> tuple[np.ndarray, str]:
    """An MNIST test digit when MNIST is available locally, else a scikit-learn 8x8 digit upscaled to 28x28."""
    try:
        from ..datasets import data_dir, mnist

        if (data_dir() / "mnist").exists():
            return mnist("test").images[0, 0], "MNIST test image 0"
    except Exception:
        pass
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits().images[0] / 16.0
    img = Image.fromarray((d * 255).astype(np.uint8)).resize((20, 20), Image.BILINEAR)
    out = np.zeros((28, 28), np.float32)
    out[4:24, 4:24] = np.asarray(img, np.float32) / 255
    return out, "scikit-learn digit 0 (MNIST not cached)"


def load_image(path: str, max_side: int = 192) -> np.ndarray:
    """A user's image file as float32 (H, W) or (3, H, W) in [0, 1], at most ``max_side`` pixels per side."""
    from PIL import Image

    img = Image.open(path)
    img.thumbnail((max_side, max_side))
    if img.mode in ("L", "LA", "I", "F", "1"):
        return np.asarray(img.convert("L"), np.float32) / 255
    return np.asarray(img.convert("RGB"), np.float32).transpose(2, 0, 1) / 255


def _rgba(img: np.ndarray) -> np.ndarray:
    """(H, W) gray or (3, H, W) color in [0, 1] (clipped) -> (H, W, 4) uint8."""
    a = np.clip(img, 0, 1)
    rgb = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a.transpose(1, 2, 0)
    out = np.empty((*rgb.shape[:2], 4), np.uint8)
    out[..., :3] = (rgb * 255).astype(np.uint8)
    out[..., 3] = 255
    return out


class AugmentDemo(Demo):
    name = "augment"
    title = "data augmentation"
    help = (
        ("space / n", "new variants"),
        ("1-9", "on / off"),
        ("up/down", "select"),
        ("left/right", "strength"),
        ("e", "export zip"),
        ("b", "builder"),
        ("Esc", "quit"),
    )
    builder_help = (
        ("space", "new"),
        ("up/down", "step"),
        ("Tab", "param"),
        ("left/right", "value"),
        ("a/x", "add/remove"),
        ("[/]", "move"),
        ("e", "export"),
        ("b", "switches"),
        ("Esc", "quit"),
    )

    @classmethod
    def check_options(cls, options: dict) -> None:
        path = options.get("image")
        if path and not Path(path).is_file():
            raise FileNotFoundError(f"image file {path} does not exist")
        out = options.get("export_dir")
        if out and not Path(out).is_dir():
            raise FileNotFoundError(f"export folder {out} does not exist")

    def __init__(self, app, options):
        super().__init__(app, options)
        if options.get("image"):
            image, source = load_image(options["image"]), options["image"]
        else:
            image, source = default_image()
        self.image = np.asarray(image, np.float32)
        chw = self.image[None] if self.image.ndim == 2 else self.image
        batch = tensor(np.ascontiguousarray(np.repeat(chw[None], 9, axis=0)), device=self.device)
        self.model = AugmentModel(batch, source=source, seed=int(options.get("seed") or 0))
        self.selected = 0
        self._variants = (None, None)  # (variants tensor, its host copy)
        self.exported = ""  # what the last export says (its path, or its error)
        self.builder = False  # the builder tab (step list, spec field) instead of the switches
        self.widgets = Widgets()
        self.steps = Builder(self.model, self.widgets)
        self.pointer_at = (0.0, 0.0)
        self.export_thread: threading.Thread | None = None

    @property
    def error(self) -> str:
        return self.steps.error

    def update(self) -> None:
        try:
            self.model.step()
        except ValueError as exc:  # shown; the variants stay the last ones that ran
            self.steps.error = str(exc).splitlines()[0]
            self.model.dirty = False

    def set_builder(self, on: bool) -> None:
        """The builder tab (the switches' pipeline becomes its first steps) or back to the switches."""
        if on != self.builder:
            self.builder = on
            self.model.use_spec(self.model.spec() if on else None, strict=False)  # the switches' own spec
            self.help = self.builder_help if on else type(self).help
            self.steps.error, self.steps.errors, self.widgets.focus = "", {}, None

    def on_key(self, key, modifiers):
        if self.widgets.key(key):  # typing into the spec field
            return
        m = self.model
        if key in ("WheelUp", "WheelDown") and self.builder and _inside(*self.pointer_at, STEPS_BOX):
            self.steps.scroll(key == "WheelDown")
        elif key in (" ", "n", "Enter"):
            m.press("new")
        elif key == "e":
            self.export()
        elif key == "b":
            self.set_builder(not self.builder)
        elif self.builder:
            self.steps.key(key)
        elif key.isdigit() and 1 <= int(key) <= len(TRANSFORMS):
            self.toggle(int(key) - 1)
        elif key == "ArrowUp":
            self.selected = (self.selected - 1) % len(TRANSFORMS)
        elif key == "ArrowDown":
            self.selected = (self.selected + 1) % len(TRANSFORMS)
        elif key in ("ArrowRight", "ArrowLeft", "+", "=", "-", "WheelUp", "WheelDown"):
            name = TRANSFORMS[self.selected][0]
            m.nudge(f"{name}_strength", key in ("ArrowRight", "+", "=", "WheelUp"))
            m.set(name, True)

    def on_pointer(self, kind, x, y, buttons):
        self.pointer_at = (x, y)
        self.widgets.pointer(kind, x, y, buttons)

    def toggle(self, i: int) -> None:
        name = TRANSFORMS[i][0]
        self.model.set(name, not self.model.get(name))
        self.selected = i

    def set_strength(self, i: int, value: float) -> None:
        """Switch ``i``'s strength (its slider: log scale for all but hflip's probability)."""
        name, _, _, (lo, hi), _ = TRANSFORMS[i]
        self.selected = i
        self.model.set(f"{name}_strength", min(max(float(f"{value:.3g}"), lo), hi))
        self.model.set(name, True)

    def export(self) -> None:
        """Write the shown set as a zip: the readback here, PNG encoding and the file in a thread (not a frame)."""
        m = self.model
        m.step()
        variants = self._host_variants(m.variants)
        flat = [(img.ravel().tolist(), *(img.shape if img.ndim == 3 else (1, *img.shape))) for img in variants]
        chw = self.image if self.image.ndim == 3 else self.image[None]
        original = (chw.ravel().tolist(), *chw.shape)
        seed, params, source = m.values["seed"], m.params, m.source
        path = Path(self.options.get("export_dir") or ".").resolve() / f"gpuml-augment-seed{seed}.zip"
        self.exported = f"exporting to {path} ..."

        def write():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(export_zip(original, flat, params, source=source, label=source, stem="image"))
                self.exported = f"exported 1 + {len(flat)} PNGs and labels.csv to {path}"
            except (OSError, ValueError) as exc:
                self.exported = f"export failed: {exc}"

        self.export_thread = threading.Thread(target=write, daemon=True)
        self.export_thread.start()

    def state(self) -> dict:
        out = {**self.model.state(), "selected": TRANSFORMS[self.selected][0], "exported": self.exported}
        out.update(builder=self.builder, steps=self.model.steps, error=self.error, errors=dict(self.steps.errors))
        return {**out, "editing_spec": self.widgets.focus == "spec", "draft": self.widgets.draft}

    def _host_variants(self, variants) -> np.ndarray:
        if self._variants[0] is not variants:  # one readback per new batch
            self._variants = (variants, variants.numpy())
        return self._variants[1]

    def draw(self, r) -> None:
        v = self.model.view()
        self.widgets.begin()
        r.text(v["title"], 40, 16, 22, TEXT)
        r.text(f"source: {v['source']}", 40, 46, 12, DIM)
        self._draw_bar(r)
        if self.builder:  # a smaller gallery: the steps take the right-hand side
            self._draw_gallery(r, v, (40, 70, 200), (260, 70, 156))
            self.steps.draw(r)
            if self.exported:
                r.text(self.exported[-100:], 40, 744, 12, PALETTE[4])
        else:
            self._draw_gallery(r, v, (40, 70, 300), (370, 70, 212))
            self._draw_switches(r, v, 40, 416)
            spec = v["spec"] or "(identity)"
            r.text("spec: " + spec[:100], 370, 750, 12, TEXT)
            if self.error:
                r.text(clip(self.error, 110), 370, 732, 12, ERROR)
            elif self.exported:
                r.text(self.exported[-110:], 370, 732, 12, PALETTE[4])
        self.draw_help(r, 40, 772, 1040)  # one line, clear of the frame-time readout at the bottom right

    def _draw_bar(self, r) -> None:
        """The tabs and the actions, top right."""
        w = self.widgets
        w.button(
            r, "tab:switches", 820, 14, 92, 26, "switches", lambda: self.set_builder(False), active=not self.builder
        )
        w.button(r, "tab:builder", 916, 14, 92, 26, "builder", lambda: self.set_builder(True), active=self.builder)
        w.button(r, "new", 1024, 14, 112, 26, "new variants", lambda: self.model.press("new"))
        w.button(r, "export", 1140, 14, 100, 26, "export zip", self.export)

    def _draw_gallery(self, r, v, original, grid) -> None:
        """The original in a panel of side ``original[2]`` and the 9 variants in 3 x 3 cells of ``grid[2]``."""
        ox, oy, side = original
        smooth = self.image.shape[-1] > 64
        r.panel(ox, oy, side, side + 30, "original")
        r.image("original", _rgba(self.image), *_fit(ox + 10, oy + 30, side - 20, self.image.shape), smooth=smooth)
        gx, gy, cell = grid
        r.panel(gx, gy, 3 * cell + 20, 3 * cell + 36, f"9 variants (seed {v['seed']})")
        for i, img in enumerate(self._host_variants(v["variants"])):
            img = img[0] if img.ndim == 3 and img.shape[0] == 1 else img
            x, y = gx + 10 + (i % 3) * cell, gy + 30 + (i // 3) * cell
            r.image(f"variant{i}", _rgba(img), *_fit(x, y, cell - 8, img.shape), smooth=smooth)

    def _draw_switches(self, r, v, px, py) -> None:
        r.panel(px, py, 300, 340, "pipeline (click: on / off)")
        w = self.widgets
        for i, (name, on, strength, (lo, hi), meaning) in enumerate(v["transforms"]):
            y = py + 30 + i * 34
            if i == self.selected:
                r.rect(px + 4, y - 3, 292, 32, "#2c303c")
            w.checkbox(r, f"on:{name}", px + 12, y, 140, f"{i + 1} {name}", on, lambda i=i: self.toggle(i))
            if name == "hflip":  # a probability: linear
                w.slider(r, f"strength:{name}", px + 160, y - 1, 120, strength, lo, hi,
                         lambda s, i=i: self.set_strength(i, s), active=on)  # fmt: skip
            else:  # strengths move on a log scale (as the keys' x1.25)
                w.slider(r, f"strength:{name}", px + 160, y - 1, 120, np.log10(strength), np.log10(lo), np.log10(hi),
                         lambda s, i=i: self.set_strength(i, 10**s), active=on)  # fmt: skip
            r.text(f"{strength:.3g} {meaning}", px + 34, y + 17, 10, DIM)


def _fit(x, y, side, shape) -> tuple[float, float, float, float]:
    """An image of ``shape`` ((H, W) or (C, H, W)) in a ``side`` square at (x, y), centred, aspect kept."""
    h, w = shape[-2:]
    scale = side / max(h, w)
    return x + (side - w * scale) / 2, y + (side - h * scale) / 2, w * scale, h * scale


def _inside(x, y, box) -> bool:
    bx, by, bw, bh = box
    return bx <= x < bx + bw and by <= y < by + bh
