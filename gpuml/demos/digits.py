"""Draw a digit, in a window: a thin front end over :class:`gpuml.playground.digits.DigitsModel` (the web page's
digit pad drives the same model). The pad shows the ink at 28 x 28; the panels show the class probabilities,
the first convolution's activation maps and a Grad-CAM overlay for the predicted class, recomputed whenever the
drawing changes.
"""

from __future__ import annotations

import importlib.resources
import os

import numpy as np

from ..playground import digits as pad
from ..playground.digits import INK, DigitsModel, model_accuracy
from ..train import load_model
from .app import Demo
from .render import DIM, PALETTE, TEXT, colormap

PAD = (40, 70, 420, 420)  # x, y, w, h of the pad on screen
CLEAR_BUTTON = (40, 506, 130, 34)
BRUSHES = (7.0, 11.0, 15.0)  # the b key cycles through these (pad units)


def default_model_path() -> str | None:
    """The LeNet-5 shipped with the package (gpuml/models/lenet5_mnist.npz), when present."""
    try:
        node = importlib.resources.files("gpuml").joinpath("models", "lenet5_mnist.npz")
        if node.is_file():
            return str(node)
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    return None


class DigitsDemo(Demo):
    name = "digits"
    title = "draw a digit"
    help = (
        ("left mouse", "draw"),
        ("right mouse / c / Clear", "clear"),
        ("b", "brush size"),
        ("g", "Grad-CAM on/off"),
        ("Esc", "quit"),
    )

    def __init__(self, app, options):
        super().__init__(app, options)
        path = options.get("model") or default_model_path()
        if not path:
            raise RuntimeError(
                "no model: pass --model PATH (a model.npz written by `gpuml train mnist`); "
                "the package ships none in this build"
            )
        if not os.path.exists(path):
            raise FileNotFoundError(f"model file {path} does not exist")
        net, meta = load_model(path, self.device)
        self.model_path = str(path)
        self.model = DigitsModel(net, name=os.path.basename(path), accuracy=model_accuracy(meta))
        self.last_point = None
        if options.get("sample", app.offscreen):
            self.model.sample()

    # --- input ------------------------------------------------------------------------------------------------
    def _to_pad(self, x, y):
        px, py, pw, ph = PAD
        return (x - px) / pw * pad.PAD, (y - py) / ph * pad.PAD

    def on_pointer(self, kind, x, y, buttons):
        m = self.model
        bx, by, bw, bh = CLEAR_BUTTON
        if kind == "pointer_down" and ((bx <= x <= bx + bw and by <= y <= by + bh) or 2 in buttons):
            m.press("clear")
            return
        cx, cy = self._to_pad(x, y)
        inside = -20 <= cx <= pad.PAD + 20 and -20 <= cy <= pad.PAD + 20
        if kind == "pointer_down" and 1 in buttons and inside:
            self.last_point = (cx, cy)
            m.stroke([(cx, cy)])
        elif kind == "pointer_move" and self.last_point is not None and 1 in buttons:
            m.stroke_segments([*self.last_point, cx, cy])
            self.last_point = (cx, cy)
        elif kind == "pointer_up":
            self.last_point = None

    def on_key(self, key, modifiers):
        m = self.model
        if key in ("c", "Backspace", "Delete"):
            m.press("clear")
        elif key == "b":
            brush = m.get("brush")
            m.set("brush", BRUSHES[(BRUSHES.index(brush) + 1) % len(BRUSHES)] if brush in BRUSHES else BRUSHES[0])
        elif key == "g":
            m.set("gradcam", not m.get("gradcam"))

    def update(self) -> None:
        self.model.step()

    def state(self) -> dict:
        return {**self.model.state(), "model": self.model_path}

    # --- drawing ---------------------------------------------------------------------------------------------------
    def draw(self, r) -> None:
        v = self.model.view()
        r.text(v["title"], 40, 16, 22, TEXT)
        r.text(v["subtitle"], 40, 46, 12, DIM)
        px, py, pw, ph = PAD
        r.rect(px - 3, py - 3, pw + 6, ph + 6, "#3a3e4c")
        k = INK // 28
        pad28 = np.asarray(v["ink_flat"], np.float32).reshape(28, k, 28, k).mean(axis=(1, 3))  # the 28x28 pad
        r.image("pad", (pad28 * 255).astype(np.uint8), px, py, pw, ph)
        for i in range(1, 28):  # faint pixel grid
            r.rect(px + i * pw / 28, py, 1, ph, (1, 1, 1, 0.05))
            r.rect(px, py + i * ph / 28, pw, 1, (1, 1, 1, 0.05))
        bx, by, bw, bh = CLEAR_BUTTON
        r.rect(bx, by, bw, bh, "#3a3e4c")
        r.text("Clear", bx + bw / 2, by + 8, 15, TEXT, "center")
        r.text(f"brush {v['brush']:.0f}", bx + bw + 16, by + 9, 13, DIM)
        self._draw_bars(r, 500, 70, v)
        self._draw_maps(r, 500, 410, v)
        self._draw_cam(r, 1000, 70, v)
        r.text(v["latency"], 500, 374, 12, DIM)
        self.draw_help(r, 40, 770, 1200)

    def _draw_bars(self, r, x, y, v) -> None:
        w = 460
        r.panel(x, y, w, 290, "class probabilities")
        top = v["label"] if v["label"] is not None else -1
        for i, p in enumerate(v["probs"]):
            yy = y + 32 + i * 25
            r.text(str(i), x + 14, yy + 1, 16, TEXT if i == top else DIM)
            r.rect(x + 36, yy, w - 120, 18, "#2a2d38")
            r.rect(x + 36, yy, (w - 120) * float(p), 18, PALETTE[0] if i != top else PALETTE[1])
            r.text(f"{p * 100:5.1f}%", x + w - 12, yy + 1, 14, TEXT if i == top else DIM, "right")

    def _draw_maps(self, r, x, y, v) -> None:
        acts = [np.asarray(a, np.float32).reshape(h, w) for h, w, a in v["activations"]]
        if not acts:  # empty pad: blank maps
            acts = [np.zeros((28, 28), np.float32)] * 6
        r.panel(x, y, 740, 340, f"first convolution: {len(acts)} activation maps (after ReLU)")
        size, cols = 136, 4
        for c, a in enumerate(acts[:8]):
            peak = float(a.max())
            img = colormap(a / peak if peak > 0 else a, "viridis")
            xx, yy = x + 14 + (c % cols) * (size + 40), y + 30 + (c // cols) * (size + 18)
            r.image(f"act{c}", img, xx, yy, size, size)
            r.text(f"{c}", xx + 2, yy + size + 1, 11, DIM)

    def _draw_cam(self, r, x, y, v) -> None:
        w = 240
        cls = v["label"]
        r.panel(x, y, w, 290, "Grad-CAM" + (f", class {cls}" if cls is not None else ""))
        gray = np.clip(np.asarray(v["pixels"], np.float32).reshape(28, 28), 0, 1)[..., None] * np.float32(255)
        if v["gradcam"]:
            cam = np.asarray(v["cam_image"], np.float32).reshape(28, 28)
            heat = colormap(cam, "jet")[..., :3].astype(np.float32)
            alpha = 0.55 * cam[..., None] + 0.15
            rgb = gray * (1 - alpha) + heat * alpha
        else:
            rgb = np.repeat(gray, 3, axis=2)
        img = np.concatenate([rgb.astype(np.uint8), np.full((28, 28, 1), 255, np.uint8)], axis=2)
        r.image("cam", img, x + 12, y + 34, w - 24, w - 24, smooth=True)
        r.text("model input (centred, 20x20 box)", x + 12, y + 262, 11, DIM)
