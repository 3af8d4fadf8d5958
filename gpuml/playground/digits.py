"""Draw a digit: a pad of ink on the device (brush strokes recorded by ``render/web_stroke.wgsl``, on the host
where the device has no kernels), prepared the way MNIST digits are (:func:`~gpuml.playground.mnist.ink_to_mnist`),
classified by a LeNet-5, explained with Grad-CAM (:func:`gpuml.explain.grad_cam_device`) and the activation maps
of its convolutions. Numpy-free (the web page runs it in Pyodide core).

Pad coordinates: the pad is ``PAD`` x ``PAD`` units (the page's 280 CSS px, the native pad's 280 canvas pixels);
the ink holds ``INK`` x ``INK`` values (2.5 units per ink pixel).
"""

from __future__ import annotations

import array
import itertools
import time

from .. import ops
from ..explain import grad_cam_device
from ..tensor import tensor
from .controls import DemoModel, button, slider, toggle
from .mnist import ink_to_mnist, softmax, stroke_host, upsample_map

INK = 112
PAD = 280
BRUSH = 11.0  # brush radius in pad units
# A "2" for offscreen runs and tests: pad coordinates in [0, 1], one stroke.
SAMPLE_STROKE = [(0.30, 0.30), (0.40, 0.20), (0.55, 0.18), (0.66, 0.27), (0.66, 0.40), (0.55, 0.55), (0.42, 0.68)]
SAMPLE_STROKE += [(0.32, 0.80), (0.45, 0.79), (0.58, 0.78), (0.72, 0.79)]


def model_accuracy(meta: dict | None) -> float | None:
    """The last test accuracy in a trained model's history (its metadata), if any."""
    for record in reversed((meta or {}).get("history") or []):
        if "test_accuracy" in record:
            return float(record["test_accuracy"])
    return None


class DigitsModel(DemoModel):
    """``net``: a trained ``gpuml.nn`` classifier of (1, 28, 28) images into 10 classes (its device is used)."""

    name = "digits"
    title = "draw a digit"
    controls = (
        slider("brush", BRUSH, 4.0, 24.0, step=4.0, label="brush radius (pad units of 280)"),
        toggle("gradcam", True, label="Grad-CAM overlay"),
        button("clear"),
    )

    def __init__(self, net, *, name: str = "model", accuracy: float | None = None):
        super().__init__()
        self.set_net(net, name, accuracy)
        self.device = net.device
        self.ink = ops.zeros((INK, INK), device=self.device)
        self.strokes = 0
        self.updates = 0
        self.dirty = False
        self.latencies: list[float] = []  # seconds per predict()
        self.timings: dict = {}
        self.ink_flat = [0.0] * (INK * INK)  # the ink the last prediction saw
        self._reset_outputs()

    def set_net(self, net, name: str = "model", accuracy: float | None = None) -> None:
        """Classify with ``net`` from now on (a (1, 28, 28) -> 10 classifier on the same device)."""
        if tuple(net.input_shape) != (1, 28, 28):
            raise ValueError(f"the digit pad needs a 28x28 model, {name} takes {tuple(net.input_shape)}")
        self.net, self.model_name, self.accuracy = net, name, accuracy
        layers = net.layers
        convs = [i for i, m in enumerate(layers) if type(m).__name__ == "Conv2d"]
        nxt = convs[0] + 1
        self.first = nxt if nxt < len(layers) and type(layers[nxt]).__name__ == "ReLU" else convs[0]

    def _reset_outputs(self) -> None:
        self.pixels = None  # the model input, flat 784 list (None: empty pad)
        self.probs = [0.1] * 10
        self.label = None
        self.x = self.cam = self.outputs = None  # device tensors of the last prediction
        self.cam_layer = None
        self.cam_image = [0.0] * 784  # Grad-CAM upsampled to 28 x 28, scaled to [0, 1]
        self.activations: list[tuple[int, int, list[float]]] = []  # first layer's maps: (h, w, flat values)

    # --- painting -------------------------------------------------------------------------------------------
    def stroke_segments(self, segments, radius: float | None = None) -> None:
        """Add pen segments (flat x0, y0, x1, y1, ... in pad units) with a brush of ``radius`` pad units."""
        s = INK / PAD
        segs = [float(v) * s for v in segments]
        r = (self.values["brush"] if radius is None else float(radius)) * s
        if not segs:
            return
        if getattr(self.device, "is_gpu", False):
            kernel = self.device.kernel("render/web_stroke.wgsl", WG=64)
            for start in range(0, len(segs), 4 * 64):
                part = tensor(array.array("f", segs[start : start + 4 * 64]), device=self.device)
                kernel(
                    self.device.grid_1d(-(-INK * INK // 64)),
                    {"n_segs": part.size // 4, "height": INK, "width": INK, "radius": r},
                    segs=part,
                    ink=self.ink,
                )
        else:  # cpu / python backends: the same coverage on the host
            vals = array.array("f", self.ink.to_bytes())
            stroke_host(vals, INK, segs, r)
            self.ink.assign(vals)
        self.dirty = True

    def stroke(self, points) -> None:
        """Paint a polyline of pad points [(x, y), ...] (one point: a dot) as one stroke."""
        pts = [(float(x), float(y)) for x, y in points]
        if len(pts) == 1:
            pts = pts * 2
        self.stroke_segments([v for a, b in itertools.pairwise(pts) for v in (*a, *b)])
        self.strokes += 1

    def sample(self) -> None:
        """Draw the built-in sample "2"."""
        self.stroke([(x * PAD, y * PAD) for x, y in SAMPLE_STROKE])

    def clear(self) -> None:
        self.ink = ops.zeros((INK, INK), device=self.device)
        self.dirty = True

    def ink_values(self) -> list[float]:
        """The ink, flat (INK * INK floats in [0, 1]); one readback."""
        return array.array("f", self.ink.to_bytes()).tolist()

    # --- model ----------------------------------------------------------------------------------------------
    def image(self, pixels):
        """A flat 784 list -> the (1, 1, 28, 28) input tensor."""
        return tensor(array.array("f", pixels), device=self.device).reshape(1, 1, 28, 28)

    def classify(self, x) -> tuple[int, list[float]]:
        """(label, probabilities) of one image tensor (:meth:`image`): forward pass + one readback of the logits."""
        probs = softmax(self.net.forward(x).tolist()[0])
        return max(range(10), key=lambda i: probs[i]), probs

    def predict(self, host_maps: bool = True) -> None:
        """Preprocess the ink, classify it, Grad-CAM for the predicted class and the activation maps (timed in
        ``timings``: ink readback, preprocess, predict, gradcam ms). ``host_maps``: read the Grad-CAM map and the
        first layer's activations back (``cam_image``, ``activations``) from one forward and one backward pass;
        without it (renderers that draw the device tensors) ``predict_ms`` is the classification alone (forward +
        readback of the logits) and Grad-CAM's passes are recorded after it, not waited for."""
        t0 = time.perf_counter()
        flat = self.ink_flat = self.ink_values()
        t1 = time.perf_counter()
        pixels = ink_to_mnist(flat, INK)
        t2 = time.perf_counter()
        self._reset_outputs()
        if pixels is not None:
            self.pixels = pixels
            self.x = self.image(pixels)
            if host_maps:  # one forward pass (Grad-CAM's, for the class it predicts), then that pass's logits
                cam = grad_cam_device(self.net, self.x)
                self.label = cam["classes"][0]
                self.probs = softmax(cam["outputs"][-1].tolist()[0])
                t3 = time.perf_counter()
            else:  # the class first (forward + readback); Grad-CAM's passes then run while the caller draws
                self.label, self.probs = self.classify(self.x)
                t3 = time.perf_counter()
                cam = grad_cam_device(self.net, self.x, target_class=self.label)
            self.outputs, self.cam, self.cam_layer = cam["outputs"], cam["cam"], cam["layer"]
            if host_maps:  # renderers that draw from the device tensors skip these readbacks
                _, h, w = self.cam.shape
                self.cam_image = upsample_map(self.cam.to_array(), h, w, 28, 28)
                first = self.outputs[self.first]
                _, c, fh, fw = first.shape
                vals = first.to_array()
                self.activations = [(fh, fw, vals[i * fh * fw : (i + 1) * fh * fw].tolist()) for i in range(c)]
        else:
            t3 = t2
        t4 = time.perf_counter()
        ms = 1e3
        self.timings = {
            "readback_ms": (t1 - t0) * ms,
            "preprocess_ms": (t2 - t1) * ms,
            "predict_ms": (t3 - t2) * ms,
            "gradcam_ms": (t4 - t3) * ms,
        }
        self.latencies.append(t4 - t0)
        self.updates += 1
        self.dirty = False

    def map_layers(self) -> list[int]:
        """Indices of the layers whose outputs are activation maps (ReLU/Tanh of a convolution)."""
        if self.outputs is None:
            return []
        return [
            i
            for i, m in enumerate(self.net.layers)
            if self.outputs[i].ndim == 4 and type(m).__name__ in ("ReLU", "Tanh")
        ]

    def step(self) -> None:
        if self.dirty or self.updates == 0:
            self.predict()

    def _pressed(self, name) -> None:
        if name == "clear":
            self.clear()

    # --- output ---------------------------------------------------------------------------------------------
    def view(self) -> dict:
        """What to draw: ``ink`` (the pad, INK x INK device tensor; ``ink_flat``: as the last prediction read it),
        ``pixels`` (the 28 x 28 model input, flat),
        ``probs`` and ``label``, ``cam_image`` (28 x 28 flat in [0, 1]) and ``gradcam`` (overlay on or off),
        ``activations`` of the first convolution, device tensors ``x``, ``cam``, ``outputs`` for zero-copy
        renderers, and text."""
        acc = f", test accuracy {self.accuracy * 100:.2f}%" if self.accuracy is not None else ""
        lat = self.latencies[-1] * 1e3 if self.latencies else 0.0
        return {
            "title": "draw a digit",
            "subtitle": f"model: {self.model_name}{acc}",
            "ink": self.ink,
            "ink_flat": self.ink_flat,
            "ink_size": INK,
            "pixels": self.pixels or [0.0] * 784,
            "probs": list(self.probs),
            "label": self.label,
            "gradcam": self.values["gradcam"],
            "cam_image": self.cam_image,
            "activations": self.activations,
            "brush": self.values["brush"],
            "latency": f"update: {lat:.1f} ms (forward + activations + Grad-CAM)",
            "x": self.x,
            "cam": self.cam,
            "outputs": self.outputs,
        }

    def state(self) -> dict:
        lat = sorted(self.latencies[1:] or self.latencies)
        ink = self.ink_values()
        return {
            "ink": sum(ink) / len(ink),
            "strokes": self.strokes,
            "updates": self.updates,
            "prediction": self.label,
            "probability": max(self.probs),
            "brush": self.values["brush"],
            "show_cam": self.values["gradcam"],
            "latency_ms_p50": lat[len(lat) // 2] * 1e3 if lat else None,
            "model": self.model_name,
        }
