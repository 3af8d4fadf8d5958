"""Data augmentation, live: one image and 9 augmented variants (one batch through ``gpuml.augment`` on the device),
re-drawn with new random parameters per key press. Each transform of the pipeline can be switched on and off
and its strength changed; the text spec of the current pipeline is shown (it works with ``gpuml train
--augment`` and ``gpuml augment --pipeline``).
"""

from __future__ import annotations

import numpy as np

from ..augment import parse_pipeline
from .app import Demo
from .render import DIM, PALETTE, TEXT

# name, spec template, default strength, (min, max), integer?, what the number means
TRANSFORMS = [
    ("rotate", "rotate {v}", 25.0, (1.0, 180.0), False, "max degrees"),
    ("translate", "translate {v}", 0.12, (0.01, 0.5), False, "fraction of the size"),
    ("zoom", "zoom {v}", 0.2, (0.02, 0.6), False, "max scale change"),
    ("elastic", "elastic {v}", 0.06, (0.01, 0.3), False, "displacement / size"),
    ("hflip", "hflip {v}", 0.5, (0.0, 1.0), False, "probability"),
    ("brightness", "brightness {v}", 0.3, (0.02, 0.9), False, "max change"),
    ("contrast", "contrast {v}", 0.4, (0.02, 0.9), False, "max change"),
    ("noise", "noise {v}", 0.08, (0.005, 0.5), False, "sigma"),
    ("cutout", "cutout {v}", 0.25, (0.05, 0.6), False, "square / size"),
]
DEFAULT_ON = {"rotate", "translate", "zoom", "brightness", "noise"}


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


class AugmentDemo(Demo):
    name = "augment"
    title = "data augmentation"
    help = (
        ("space / n", "new variants"),
        ("1-9", "toggle transform"),
        ("up/down", "select"),
        ("left/right or -/+", "strength"),
        ("Esc", "quit"),
    )

    def __init__(self, app, options):
        super().__init__(app, options)
        if options.get("image"):
            self.image, self.source = load_image(options["image"]), options["image"]
        else:
            self.image, self.source = default_image()
        self.image = np.asarray(self.image, np.float32)
        self.size = self.image.shape[-1]
        self.enabled = [t[0] in DEFAULT_ON for t in TRANSFORMS]
        self.strength = [t[2] for t in TRANSFORMS]
        self.selected = 0
        self.seed = int(options.get("seed") or 0)
        self.presses = 0
        self.dirty = True
        self.variants = np.repeat(self.image[None], 9, axis=0)

    def spec(self) -> str:
        items = []
        for (name, template, _, _, _, _), on, v in zip(TRANSFORMS, self.enabled, self.strength, strict=True):
            if not on:
                continue
            if name == "translate":
                v = max(1, round(v * self.size))
            elif name == "cutout":
                v = max(1, round(v * self.size))
            elif name == "elastic":
                v = round(v * self.size, 2)
            items.append(template.format(v=f"{v:g}"))
        return ", ".join(items)

    def regenerate(self) -> None:
        spec = self.spec()
        batch = np.repeat(self.image[None], 9, axis=0)
        if spec:
            self.variants = np.clip(parse_pipeline(spec)(batch, seed=self.seed), 0, 1)
        else:
            self.variants = batch
        self.dirty = False

    def update(self) -> None:
        if self.dirty:
            self.regenerate()

    def on_key(self, key, modifiers):
        if key in (" ", "n", "Enter"):
            self.seed += 1
            self.presses += 1
        elif key.isdigit() and 1 <= int(key) <= len(TRANSFORMS):
            i = int(key) - 1
            self.enabled[i] = not self.enabled[i]
            self.selected = i
        elif key == "ArrowUp":
            self.selected = (self.selected - 1) % len(TRANSFORMS)
        elif key == "ArrowDown":
            self.selected = (self.selected + 1) % len(TRANSFORMS)
        elif key in ("ArrowRight", "ArrowLeft", "+", "=", "-", "WheelUp", "WheelDown"):
            up = key in ("ArrowRight", "+", "=", "WheelUp")
            lo, hi = TRANSFORMS[self.selected][3]
            step = 0.1 if TRANSFORMS[self.selected][0] == "hflip" else None
            v = self.strength[self.selected]
            v = v + (step if up else -step) if step else v * (1.25 if up else 0.8)
            self.strength[self.selected] = float(np.clip(v, lo, hi))
            self.enabled[self.selected] = True
        else:
            return
        self.dirty = True

    def state(self) -> dict:
        return {
            "seed": self.seed,
            "presses": self.presses,
            "spec": self.spec(),
            "enabled": [t[0] for t, on in zip(TRANSFORMS, self.enabled, strict=True) if on],
            "selected": TRANSFORMS[self.selected][0],
            "source": self.source,
        }

    def _rgba(self, img: np.ndarray) -> np.ndarray:
        a = np.clip(img, 0, 1)
        rgb = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a.transpose(1, 2, 0)
        out = np.empty((*rgb.shape[:2], 4), np.uint8)
        out[..., :3] = (rgb * 255).astype(np.uint8)
        out[..., 3] = 255
        return out

    def draw(self, r) -> None:
        r.text("data augmentation", 40, 16, 22, TEXT)
        r.text(f"source: {self.source}", 40, 46, 12, DIM)
        smooth = self.size > 64
        r.panel(40, 70, 300, 330, "original")
        r.image("original", self._rgba(self.image), 50, 100, 280, 280, smooth=smooth)
        gx, gy, cell = 370, 70, 212
        r.panel(gx, gy, 3 * cell + 20, 3 * cell + 36, f"9 variants (seed {self.seed})")
        for i, v in enumerate(self.variants):
            x, y = gx + 10 + (i % 3) * cell, gy + 30 + (i // 3) * cell
            r.image(f"variant{i}", self._rgba(v), x, y, cell - 8, cell - 8, smooth=smooth)
        px, py = 40, 416
        r.panel(px, py, 300, 340, "pipeline")
        for i, (name, _, _, _, _, meaning) in enumerate(TRANSFORMS):
            y = py + 30 + i * 34
            on, sel = self.enabled[i], i == self.selected
            if sel:
                r.rect(px + 4, y - 3, 292, 32, "#2c303c")
            r.rect(px + 12, y + 2, 14, 14, PALETTE[4] if on else "#3a3e4c")
            r.text(f"{i + 1} {name}", px + 34, y, 14, TEXT if on else DIM)
            lo, hi = TRANSFORMS[i][3]
            frac = (self.strength[i] - lo) / (hi - lo)
            r.rect(px + 160, y + 5, 120, 6, "#3a3e4c")
            r.rect(px + 160, y + 5, 120 * frac, 6, PALETTE[1] if on else "#6b6b78")
            r.text(f"{self.strength[i]:.3g} {meaning}", px + 34, y + 17, 10, DIM)
        spec = self.spec() or "(identity)"
        r.text("spec: " + spec[:100], 370, 772 - 22, 12, TEXT)
        self.draw_help(r, 40, 772, 1040)  # one line, clear of the frame-time readout at the bottom right
