"""Data augmentation, live, in a window: a thin front end over :class:`gpuml.playground.augment.AugmentModel`:
one image and 9 augmented variants (one batch through ``gpuml.augment`` on the device), re-drawn with new random
parameters per key press. Each transform of the pipeline can be switched on and off and its strength changed;
the text spec of the current pipeline is shown (it works with ``gpuml train --augment`` and ``gpuml augment
--pipeline``). "b" switches to the pipeline builder: a list of steps (add, remove, reorder; each parameter and
the step's probability changed with the arrow keys; the model checks every value), as on the page. "e" exports
the set shown (the original and the 9 variants as PNGs plus labels.csv, the page's download and ``gpuml
augment``'s format) as a zip in the ``export_dir`` option's folder (default: the current one).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..playground.augment import TRANSFORMS, AugmentModel
from ..playground.augment_export import export_zip
from ..playground.augment_steps import NO_P, STEPS
from ..tensor import tensor
from .app import Demo
from .render import DIM, PALETTE, TEXT


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
        ("1-9", "toggle transform"),
        ("up/down", "select"),
        ("left/right or -/+", "strength"),
        ("e", "export zip"),
        ("b", "pipeline builder"),
        ("Esc", "quit"),
    )
    builder_help = (
        ("space / n", "new variants"),
        ("up/down", "step"),
        ("Tab", "parameter"),
        ("left/right", "value"),
        ("a", "add"),
        ("x", "remove"),
        ("[ / ]", "move"),
        ("e", "export zip"),
        ("b", "switches"),
        ("Esc", "quit"),
    )

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
        self.builder = False  # the step list (add / remove / reorder, probability per step) instead of switches
        self.step_sel, self.param_sel, self.add_next, self.error = 0, 0, 0, ""
        self.export_thread: threading.Thread | None = None

    def update(self) -> None:
        self.model.step()

    def on_key(self, key, modifiers):
        m = self.model
        if key in (" ", "n", "Enter"):
            m.press("new")
        elif key == "e":
            self.export()
        elif key == "b":
            self.builder = not self.builder
            m.use_spec(m.spec() if self.builder else None)  # the switches' pipeline becomes the first steps
            self.help = self.builder_help if self.builder else type(self).help
        elif self.builder:
            self._builder_key(key)
        elif key.isdigit() and 1 <= int(key) <= len(TRANSFORMS):
            i = int(key) - 1
            name = TRANSFORMS[i][0]
            m.set(name, not m.get(name))
            self.selected = i
        elif key == "ArrowUp":
            self.selected = (self.selected - 1) % len(TRANSFORMS)
        elif key == "ArrowDown":
            self.selected = (self.selected + 1) % len(TRANSFORMS)
        elif key in ("ArrowRight", "ArrowLeft", "+", "=", "-", "WheelUp", "WheelDown"):
            name = TRANSFORMS[self.selected][0]
            m.nudge(f"{name}_strength", key in ("ArrowRight", "+", "=", "WheelUp"))
            m.set(name, True)

    def _fields(self, step: dict) -> list[tuple]:
        """The selected step's adjustable fields: (parameter index or None for the probability, lo, hi, integer)."""
        if "raw" in step:
            return []
        out = [(k, lo, hi, i) for k, (_, _, lo, hi, _, i) in enumerate(STEPS[step["name"]][0])]
        return out + ([] if step["name"] in NO_P else [(None, 0.0, 1.0, False)])

    def _builder_key(self, key) -> None:
        m, steps = self.model, self.model.steps
        i = min(self.step_sel, max(len(steps) - 1, 0))
        try:
            if key == "a":
                names = list(STEPS)
                m.edit_steps("add", arg=names[self.add_next % len(names)])
                self.add_next += 1
                self.step_sel, self.param_sel = len(m.steps) - 1, 0
            elif not steps:
                return
            elif key in ("x", "Delete", "Backspace"):
                m.edit_steps("remove", i)
                self.step_sel = max(0, min(i, len(m.steps) - 1))
            elif key in ("[", "]"):
                m.edit_steps("up" if key == "[" else "down", i)
                self.step_sel = max(0, min(len(m.steps) - 1, i + (-1 if key == "[" else 1)))
            elif key in ("ArrowUp", "ArrowDown"):
                self.step_sel = (i + (1 if key == "ArrowDown" else -1)) % len(steps)
                self.param_sel = 0
            elif key == "Tab":
                self.param_sel = (self.param_sel + 1) % max(1, len(self._fields(steps[i])))
            elif key in ("ArrowRight", "ArrowLeft", "+", "=", "-", "WheelUp", "WheelDown"):
                fields = self._fields(steps[i])
                if not fields:
                    raise ValueError(f"step {i + 1} ({steps[i]['name']}) is edited in the text spec only")
                k, lo, hi, integer = fields[self.param_sel % len(fields)]
                old = steps[i]["p"] if k is None else steps[i]["values"][k]
                delta = (1 if integer else (hi - lo) / 20) * (1 if key in ("ArrowRight", "+", "=", "WheelUp") else -1)
                new = min(max(old + delta, lo), hi)
                m.edit_steps("set", i, round(new) if integer else round(new, 6), k)
            self.error = ""
        except ValueError as exc:
            self.error = str(exc)

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
        return {**out, "builder": self.builder, "steps": self.model.steps, "error": self.error}

    def _draw_steps(self, r, px, py) -> None:
        r.panel(px, py, 300, 340, "pipeline steps (top to bottom)")
        steps = self.model.steps
        for i, step in enumerate(steps[:9]):
            y = py + 30 + i * 34
            if i == self.step_sel:
                r.rect(px + 4, y - 3, 292, 32, "#2c303c")
            r.text(f"{i + 1} {step['name']}", px + 12, y, 14, TEXT)
            if "raw" in step:
                r.text(step["raw"][:40] + " (text spec)", px + 12, y + 17, 10, DIM)
                continue
            fields = self._fields(step)
            words = []
            for j, (k, *_rest) in enumerate(fields):
                key = "p" if k is None else STEPS[step["name"]][0][k][0]
                value = step["p"] if k is None else step["values"][k]
                mark = ">" if i == self.step_sel and j == self.param_sel % len(fields) else ""
                words.append(f"{mark}{key} {value:.3g}")
            r.text("  ".join(words)[:46], px + 12, y + 17, 10, DIM)
        if not steps:
            r.text("no steps: press a to add", px + 12, py + 34, 12, DIM)
        r.text(f"a adds: {list(STEPS)[self.add_next % len(STEPS)]}", px + 12, py + 318, 11, DIM)

    def _host_variants(self, variants) -> np.ndarray:
        if self._variants[0] is not variants:  # one readback per new batch
            self._variants = (variants, variants.numpy())
        return self._variants[1]

    def draw(self, r) -> None:
        v = self.model.view()
        r.text(v["title"], 40, 16, 22, TEXT)
        r.text(f"source: {v['source']}", 40, 46, 12, DIM)
        size = self.image.shape[-1]
        smooth = size > 64
        r.panel(40, 70, 300, 330, "original")
        r.image("original", _rgba(self.image), 50, 100, 280, 280, smooth=smooth)
        gx, gy, cell = 370, 70, 212
        r.panel(gx, gy, 3 * cell + 20, 3 * cell + 36, f"9 variants (seed {v['seed']})")
        variants = self._host_variants(v["variants"])
        for i, img in enumerate(variants):
            img = img[0] if img.ndim == 3 and img.shape[0] == 1 else img
            x, y = gx + 10 + (i % 3) * cell, gy + 30 + (i // 3) * cell
            r.image(f"variant{i}", _rgba(img), x, y, cell - 8, cell - 8, smooth=smooth)
        px, py = 40, 416
        if self.builder:
            self._draw_steps(r, px, py)
        else:
            self._draw_switches(r, v, px, py)
        spec = v["spec"] or "(identity)"
        r.text("spec: " + spec[:100], 370, 772 - 22, 12, TEXT)
        if self.error:
            r.text(self.error[:110], 370, 772 - 40, 12, "#ff8a80")
        elif self.exported:
            r.text(self.exported[-110:], 370, 772 - 40, 12, PALETTE[4])
        self.draw_help(r, 40, 772, 1040)  # one line, clear of the frame-time readout at the bottom right

    def _draw_switches(self, r, v, px, py) -> None:
        r.panel(px, py, 300, 340, "pipeline")
        for i, (name, on, strength, (lo, hi), meaning) in enumerate(v["transforms"]):
            y = py + 30 + i * 34
            if i == self.selected:
                r.rect(px + 4, y - 3, 292, 32, "#2c303c")
            r.rect(px + 12, y + 2, 14, 14, PALETTE[4] if on else "#3a3e4c")
            r.text(f"{i + 1} {name}", px + 34, y, 14, TEXT if on else DIM)
            frac = (strength - lo) / (hi - lo)
            r.rect(px + 160, y + 5, 120, 6, "#3a3e4c")
            r.rect(px + 160, y + 5, 120 * frac, 6, PALETTE[1] if on else "#6b6b78")
            r.text(f"{strength:.3g} {meaning}", px + 34, y + 17, 10, DIM)
