"""Draw a digit: a 28x28 pad with a smooth brush; live class probabilities, the first convolution's activation
maps and a Grad-CAM overlay for the predicted class, recomputed whenever the drawing changes.

The stroke is painted on a 280x280 canvas (soft round brush, segments interpolated between pointer events), then
prepared the way MNIST digits are (:func:`gpuml.train.image_to_mnist`: box scaled to 20x20, centred by mass).
One forward pass gives the probabilities and the activations; one backward pass from the predicted class score to
the last convolution gives Grad-CAM (``gpuml.explain``'s formula).
"""

from __future__ import annotations

import importlib.resources
import itertools
import os
import time

import numpy as np

from .. import ops
from ..explain import _backward, _forward, _normalise, _onehot, resolve_layer, upsample
from ..nn import Conv2d, ReLU
from ..train import image_to_mnist, load_model, softmax
from .app import Demo
from .render import DIM, PALETTE, TEXT, colormap

HI = 280  # drawing canvas resolution (10x the model input)
PAD = (40, 70, 420, 420)  # x, y, w, h of the pad on screen
CLEAR_BUTTON = (40, 506, 130, 34)
BRUSH = 11.0  # brush radius in canvas pixels


def default_model_path() -> str | None:
    """The LeNet-5 shipped with the package (gpuml/models/lenet5_mnist.npz), when present."""
    try:
        node = importlib.resources.files("gpuml").joinpath("models", "lenet5_mnist.npz")
        if node.is_file():
            return str(node)
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    return None


def _model_accuracy(meta: dict) -> float | None:
    for record in reversed(meta.get("history") or []):
        if "test_accuracy" in record:
            return float(record["test_accuracy"])
    return None


# A "2" for offscreen runs and tests: pad coordinates in [0, 1], one stroke.
SAMPLE_STROKE = [(0.30, 0.30), (0.40, 0.20), (0.55, 0.18), (0.66, 0.27), (0.66, 0.40), (0.55, 0.55), (0.42, 0.68)]
SAMPLE_STROKE += [(0.32, 0.80), (0.45, 0.79), (0.58, 0.78), (0.72, 0.79)]


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
        self.model, self.meta = load_model(path, self.device)
        if tuple(self.model.input_shape) != (1, 28, 28):
            raise ValueError(f"the digit pad needs a 28x28 model, {path} takes {self.model.input_shape}")
        self.model_path = str(path)
        self.accuracy = _model_accuracy(self.meta)
        convs = [i for i, m in enumerate(self.model.layers) if isinstance(m, Conv2d)]
        self.first = convs[0] + 1 if isinstance(self.model.layers[convs[0] + 1], ReLU) else convs[0]
        self.cam_layer = resolve_layer(self.model, "last_conv")
        self.canvas = np.zeros((HI, HI), np.float32)
        self.brush = BRUSH
        self.show_cam = True
        self.last_point = None
        self.dirty = False
        self.updates = 0
        self.latencies: list[float] = []
        self.strokes = 0
        self.probs = np.full(10, 0.1, np.float32)
        self.acts = np.zeros((6, 28, 28), np.float32)
        self.cam = np.zeros((28, 28), np.float32)
        self.x = np.zeros((28, 28), np.float32)
        if options.get("sample", app.offscreen):
            self.draw_stroke([(x * HI, y * HI) for x, y in SAMPLE_STROKE])

    # --- painting ---------------------------------------------------------------------------------------------
    def stamp(self, x: float, y: float) -> None:
        r = self.brush
        x0, x1 = max(0, int(x - r - 2)), min(HI, int(x + r + 3))
        y0, y1 = max(0, int(y - r - 2)), min(HI, int(y + r + 3))
        if x0 >= x1 or y0 >= y1:
            return
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = np.sqrt((xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2)
        ink = np.clip((r - d) / (0.45 * r), 0, 1) ** 0.8  # soft edge: full ink inside 55% of the radius
        np.maximum(self.canvas[y0:y1, x0:x1], ink, out=self.canvas[y0:y1, x0:x1])
        self.dirty = True

    def segment(self, a, b) -> None:
        dist = float(np.hypot(b[0] - a[0], b[1] - a[1]))
        for t in np.linspace(0, 1, max(2, int(dist / 2) + 2)):
            self.stamp(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)

    def draw_stroke(self, points) -> None:
        """Paint a polyline of canvas coordinates (0..280)."""
        for a, b in itertools.pairwise(points):
            self.segment(a, b)
        self.strokes += 1

    def clear(self) -> None:
        self.canvas[:] = 0
        self.dirty = True

    def _to_canvas(self, x, y):
        px, py, pw, ph = PAD
        return (x - px) / pw * HI, (y - py) / ph * HI

    def on_pointer(self, kind, x, y, buttons):
        bx, by, bw, bh = CLEAR_BUTTON
        if kind == "pointer_down" and bx <= x <= bx + bw and by <= y <= by + bh:
            self.clear()
            return
        if kind == "pointer_down" and 2 in buttons:
            self.clear()
            return
        cx, cy = self._to_canvas(x, y)
        inside = -20 <= cx <= HI + 20 and -20 <= cy <= HI + 20
        if kind == "pointer_down" and 1 in buttons and inside:
            self.last_point = (cx, cy)
            self.stamp(cx, cy)
            self.strokes += 1
        elif kind == "pointer_move" and self.last_point is not None and 1 in buttons:
            self.segment(self.last_point, (cx, cy))
            self.last_point = (cx, cy)
        elif kind == "pointer_up":
            self.last_point = None

    def on_key(self, key, modifiers):
        if key in ("c", "Backspace", "Delete"):
            self.clear()
        elif key == "b":
            self.brush = {7.0: 11.0, 11.0: 15.0}.get(self.brush, 7.0)
        elif key == "g":
            self.show_cam = not self.show_cam

    # --- model -----------------------------------------------------------------------------------------------------
    def predict(self) -> None:
        """Probabilities, first-layer activations and Grad-CAM for the current drawing (timed)."""
        t0 = time.perf_counter()
        if self.canvas.max() <= 0:
            self.x[:] = 0
            self.probs[:] = 0.1
            self.acts[:] = 0
            self.cam[:] = 0
        else:
            from PIL import Image

            self.x = image_to_mnist(Image.fromarray((self.canvas * 255).astype(np.uint8)))[0]
            model = self.model
            outs = _forward(model, self.x.reshape(1, 1, 28, 28))
            logits, acts = outs[-1], outs[self.cam_layer]
            probs = softmax(logits.numpy())[0]  # one readback flushes the whole forward pass
            cls = int(probs.argmax())
            n, c, h, w = acts.shape
            grads = _backward(
                model, _onehot(1, 10, np.array([cls]), model.device), len(model.layers) - 1, self.cam_layer
            )
            weights = ops.mean(grads.reshape(n, c, h * w), axis=2)
            cam_low = ops.relu(ops.sum(ops.mul(acts.reshape(n, c, h * w), weights.reshape(n, c, 1)), axis=1))
            self.cam = _normalise(upsample(cam_low.numpy().reshape(1, h, w), (28, 28)))[0]
            self.acts = outs[self.first].numpy()[0]
            self.probs = probs
        self.latencies.append(time.perf_counter() - t0)
        self.updates += 1
        self.dirty = False

    def update(self) -> None:
        if self.dirty or self.updates == 0:
            self.predict()

    def state(self) -> dict:
        lat = np.asarray(self.latencies[1:] or self.latencies) * 1e3
        return {
            "ink": float(self.canvas.mean()),
            "strokes": self.strokes,
            "updates": self.updates,
            "prediction": int(self.probs.argmax()) if self.canvas.max() > 0 else None,
            "probability": float(self.probs.max()),
            "brush": self.brush,
            "show_cam": self.show_cam,
            "latency_ms_p50": float(np.median(lat)) if len(lat) else None,
            "model": self.model_path,
        }

    # --- drawing ---------------------------------------------------------------------------------------------------
    def draw(self, r) -> None:
        r.text("draw a digit", 40, 16, 22, TEXT)
        acc = f", test accuracy {self.accuracy * 100:.2f}%" if self.accuracy is not None else ""
        r.text(f"model: {os.path.basename(self.model_path)}{acc}", 40, 46, 12, DIM)
        px, py, pw, ph = PAD
        r.rect(px - 3, py - 3, pw + 6, ph + 6, "#3a3e4c")
        pad28 = self.canvas.reshape(28, 10, 28, 10).mean(axis=(1, 3))  # what the 28x28 pad holds
        r.image("pad", (pad28 * 255).astype(np.uint8), px, py, pw, ph)
        for i in range(1, 28):  # faint pixel grid
            r.rect(px + i * pw / 28, py, 1, ph, (1, 1, 1, 0.05))
            r.rect(px, py + i * ph / 28, pw, 1, (1, 1, 1, 0.05))
        bx, by, bw, bh = CLEAR_BUTTON
        r.rect(bx, by, bw, bh, "#3a3e4c")
        r.text("Clear", bx + bw / 2, by + 8, 15, TEXT, "center")
        r.text(f"brush {self.brush:.0f}", bx + bw + 16, by + 9, 13, DIM)
        self._draw_bars(r, 500, 70)
        self._draw_maps(r, 500, 410)
        self._draw_cam(r, 1000, 70)
        lat = self.latencies[-1] * 1e3 if self.latencies else 0.0
        r.text(f"update: {lat:.1f} ms (forward + activations + Grad-CAM)", 500, 374, 12, DIM)
        self.draw_help(r, 40, 770, 1200)

    def _draw_bars(self, r, x, y) -> None:
        w = 460
        r.panel(x, y, w, 290, "class probabilities")
        top = int(self.probs.argmax()) if self.canvas.max() > 0 else -1
        for i, p in enumerate(self.probs):
            yy = y + 32 + i * 25
            r.text(str(i), x + 14, yy + 1, 16, TEXT if i == top else DIM)
            r.rect(x + 36, yy, w - 120, 18, "#2a2d38")
            r.rect(x + 36, yy, (w - 120) * float(p), 18, PALETTE[0] if i != top else PALETTE[1])
            r.text(f"{p * 100:5.1f}%", x + w - 12, yy + 1, 14, TEXT if i == top else DIM, "right")

    def _draw_maps(self, r, x, y) -> None:
        acts = self.acts
        r.panel(x, y, 740, 340, f"first convolution: {len(acts)} activation maps (after ReLU)")
        size, cols = 136, 4
        for c, a in enumerate(acts[:8]):
            peak = float(a.max())
            img = colormap(a / peak if peak > 0 else a, "viridis")
            xx, yy = x + 14 + (c % cols) * (size + 40), y + 30 + (c // cols) * (size + 18)
            r.image(f"act{c}", img, xx, yy, size, size)
            r.text(f"{c}", xx + 2, yy + size + 1, 11, DIM)

    def _draw_cam(self, r, x, y) -> None:
        w = 240
        cls = int(self.probs.argmax()) if self.canvas.max() > 0 else None
        r.panel(x, y, w, 290, "Grad-CAM" + (f", class {cls}" if cls is not None else ""))
        gray = np.clip(self.x, 0, 1)[..., None] * np.array([255, 255, 255], np.float32)
        if self.show_cam:
            heat = colormap(self.cam, "jet")[..., :3].astype(np.float32)
            alpha = 0.55 * self.cam[..., None] + 0.15
            rgb = gray * (1 - alpha) + heat * alpha
        else:
            rgb = gray
        img = np.concatenate([rgb.astype(np.uint8), np.full((28, 28, 1), 255, np.uint8)], axis=2)
        r.image("cam", img, x + 12, y + 34, w - 24, w - 24, smooth=True)
        r.text("model input (centred, 20x20 box)", x + 12, y + 262, 11, DIM)
