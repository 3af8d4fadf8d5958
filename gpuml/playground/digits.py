"""Draw a digit (the CNN explorer): a pad of ink (on the device, brush strokes recorded by
``render/web_stroke.wgsl``, or on the host), prepared the way MNIST digits are
(:func:`~gpuml.playground.mnist.ink_to_mnist`), classified by a LeNet-5 with an honest "unsure" verdict, and
explained: the filters of every convolution, the activation maps of any conv / activation / pooling layer, and
Grad-CAM, HiResCAM, saliency or occlusion for the predicted or a chosen class (:mod:`~gpuml.playground.digits_explain`).
Numpy-free (the web page runs it in Pyodide core).

Threads: a front end may run :meth:`DigitsModel.predict` on a worker thread while its own thread paints strokes
(host ink) and draws: a prediction publishes its results in one assignment (``result``), and one started before a
Clear is dropped.

Pad coordinates: the pad is ``PAD`` x ``PAD`` units (the page's 280 CSS px, the native pad's 280 canvas pixels);
the ink holds ``INK`` x ``INK`` values (2.5 units per ink pixel).
"""

from __future__ import annotations

import array
import itertools
import time

from .. import ops
from ..explain import _forward
from ..tensor import tensor
from .controls import DemoModel, button, choice, slider, toggle
from .digits_explain import EXPLAIN_METHODS, conv_filters, evidence_levels, explain, map_layers, verdict
from .mnist import ink_to_mnist, stroke_host

_SERIAL = itertools.count(1)  # result serials: a front end redraws a panel when its result's serial changes

INK = 112
PAD = 280
BRUSH = 11.0  # brush radius in pad units
TARGETS = ("predicted", *(str(d) for d in range(10)))
LENET_LAYERS = ("conv 1", "relu 1", "max-pool 1", "conv 2", "relu 2", "max-pool 2")
# A "2" for offscreen runs and tests: pad coordinates in [0, 1], one stroke.
SAMPLE_STROKE = [(0.30, 0.30), (0.40, 0.20), (0.55, 0.18), (0.66, 0.27), (0.66, 0.40), (0.55, 0.55), (0.42, 0.68)]
SAMPLE_STROKE += [(0.32, 0.80), (0.45, 0.79), (0.58, 0.78), (0.72, 0.79)]
EMPTY = {"pixels": None, "probs": [0.1] * 10, "label": None, "verdict": None, "x": None, "outputs": None,
         "cam": None, "explain": None, "target": None, "activations": []}  # fmt: skip


def model_accuracy(meta: dict | None) -> float | None:
    """The last test accuracy in a trained model's history (its metadata), if any."""
    for record in reversed((meta or {}).get("history") or []):
        if "test_accuracy" in record:
            return float(record["test_accuracy"])
    return None


class DigitsModel(DemoModel):
    """``net``: a trained ``gpuml.nn`` classifier of (1, 28, 28) images into 10 classes (its device is used).
    ``host_ink``: keep the ink on the host (an ``array.array`` painted by :func:`stroke_host`) instead of in a
    device tensor (which renderers can draw from, and which the cpu / python backends paint on the host too)."""

    name = "digits"
    title = "draw a digit"
    controls = (
        slider("brush", BRUSH, 4.0, 24.0, step=4.0, label="brush radius (pad units of 280)"),
        toggle("gradcam", True, label="explanation overlay"),
        choice("explain", "gradcam", EXPLAIN_METHODS, label="explanation"),
        choice("target", "predicted", TARGETS, label="class explained"),
        choice("layer", "conv 1", LENET_LAYERS, label="activation maps of layer"),
        button("predict"),
        button("clear"),
    )

    def __init__(self, net, *, name: str = "model", accuracy: float | None = None, host_ink: bool = False):
        super().__init__()
        self.floors: dict[str, float] = {}  # model name -> evidence floor (digits_explain.evidence_levels)
        self.weak_lines: dict[str, float] = {}  # model name -> the "weak evidence" line (the same)
        self.novelties: dict[str, dict] = {}  # model name -> its feature cue (gpuml.playground.novelty), if any
        self.device = net.device
        self.set_net(net, name, accuracy)
        self.host_ink = bool(host_ink)
        self.generation = 0  # bumped by Clear: a prediction of older ink is dropped
        self.result = {**EMPTY, "serial": 0}
        self.strokes = 0
        self.updates = 0
        self.dirty = False
        self.latencies: list[float] = []  # seconds per predict()
        self.timings: dict = {}
        self._new_ink()
        self.ink_flat = [0.0] * (INK * INK)  # the ink the last prediction saw

    def set_net(self, net, name: str = "model", accuracy: float | None = None) -> None:
        """Classify with ``net`` from now on (a (1, 28, 28) -> 10 classifier on the same device)."""
        if tuple(net.input_shape) != (1, 28, 28):
            raise ValueError(f"the digit pad needs a 28x28 model, {name} takes {tuple(net.input_shape)}")
        self.net, self.model_name, self.accuracy = net, name, accuracy
        self.layers = map_layers(net)
        self.filters = None  # conv_filters(net), read on first use
        names = tuple(entry["name"] for entry in self.layers)
        self.controls = tuple(
            choice("layer", names[0], names, c.label) if c.name == "layer" else c for c in self.controls
        )
        if self.values.get("layer") not in names:
            self.values["layer"] = names[0]
        self.dirty = True

    def calibrate(self, pixels_list, batch: int = 256) -> float:
        """Set this model's evidence floor and weak line from real digits (flat 784 lists in [0, 1]), classified
        ``batch`` at a time; returns the floor."""
        self.set_levels(*evidence_levels(self.net, pixels_list, batch))
        return self.floors[self.model_name]

    def set_levels(self, floor: float, weak: float | None = None) -> None:
        """This model's evidence floor (unsure below) and weak line (sure but "weak evidence" below)."""
        self.floors[self.model_name] = floor
        if weak is not None:
            self.weak_lines[self.model_name] = weak
        self.dirty = True

    def set_novelty(self, novelty: dict | None) -> None:
        """This model's feature cue (:func:`gpuml.playground.novelty.of`: layer, prototypes, line) or None."""
        if novelty is None:
            self.novelties.pop(self.model_name, None)
        else:
            self.novelties[self.model_name] = novelty
        self.dirty = True

    @property
    def novelty(self) -> dict | None:
        return self.novelties.get(self.model_name)

    @property
    def floor(self) -> float | None:
        return self.floors.get(self.model_name)

    @property
    def weak_line(self) -> float | None:
        return self.weak_lines.get(self.model_name)

    # the last prediction's results (see ``result``)
    label = property(lambda self: self.result["label"])
    probs = property(lambda self: self.result["probs"])
    pixels = property(lambda self: self.result["pixels"])
    x = property(lambda self: self.result["x"])
    outputs = property(lambda self: self.result["outputs"])
    cam = property(lambda self: self.result["cam"])
    activations = property(lambda self: self.result["activations"])
    cam_image = property(lambda self: (self.result["explain"] or {}).get("map") or [0.0] * 784)

    # --- painting -------------------------------------------------------------------------------------------
    def _new_ink(self) -> None:
        if self.host_ink:
            self.ink = array.array("f", bytes(4 * INK * INK))
        else:
            self.ink = ops.zeros((INK, INK), device=self.device)

    def stroke_segments(self, segments, radius: float | None = None) -> None:
        """Add pen segments (flat x0, y0, x1, y1, ... in pad units) with a brush of ``radius`` pad units."""
        s = INK / PAD
        segs = [float(v) * s for v in segments]
        r = (self.values["brush"] if radius is None else float(radius)) * s
        if not segs:
            return
        if self.host_ink:
            stroke_host(self.ink, INK, segs, r)
        elif getattr(self.device, "is_gpu", False):
            kernel = self.device.kernel("render/web_stroke.wgsl", WG=64)
            for start in range(0, len(segs), 4 * 64):
                part = tensor(array.array("f", segs[start : start + 4 * 64]), device=self.device)
                kernel(
                    self.device.grid_1d(-(-INK * INK // 64)),
                    {"n_segs": part.size // 4, "height": INK, "width": INK, "radius": r},
                    segs=part,
                    ink=self.ink,
                )
        else:  # cpu / python backends with device ink: the same coverage on the host
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
        """Empty the pad and every panel (a prediction under way is dropped)."""
        self.generation += 1
        self._new_ink()
        self.result = {**EMPTY, "serial": next(_SERIAL)}
        self.ink_flat = [0.0] * (INK * INK)
        self.dirty = True

    def ink_values(self) -> list[float]:
        """The ink, flat (INK * INK floats in [0, 1]); one readback (a copy on the host)."""
        if self.host_ink:
            return self.ink.tolist()
        return array.array("f", self.ink.to_bytes()).tolist()

    # --- model ----------------------------------------------------------------------------------------------
    def image(self, pixels):
        """A flat 784 list -> the (1, 1, 28, 28) input tensor."""
        return tensor(array.array("f", pixels), device=self.device).reshape(1, 1, 28, 28)

    def classify(self, x) -> tuple[int, list[float]]:
        """(label, probabilities) of one image tensor (:meth:`image`): forward pass + one readback of the logits."""
        v = verdict(self.net.forward(x).tolist()[0], self.floor, self.weak_line)
        return v["label"], v["probs"]

    def layer_entry(self) -> dict:
        return next(e for e in self.layers if e["name"] == self.values["layer"])

    def predict(self, host_maps: bool = True) -> None:
        """Preprocess the ink, classify it (verdict with the unsure rule), explain the predicted or chosen class
        and keep every layer's output (timed in ``timings``: ink readback, preprocess, predict, explain ms).
        ``host_maps``: also read the chosen layer's activation maps back (``activations``); renderers that draw
        the device tensors skip that."""
        gen, net = self.generation, self.net
        t0 = time.perf_counter()
        flat = self.ink_values()
        t1 = time.perf_counter()
        pixels = ink_to_mnist(flat, INK)
        t2 = time.perf_counter()
        res = {**EMPTY, "serial": next(_SERIAL)}
        t3 = t2
        if pixels is not None:
            x = self.image(pixels)
            outputs = _forward(net, x)
            cue = self.novelty
            feats = outputs[cue["layer"]].tolist()[0] if cue else None
            v = verdict(outputs[-1].tolist()[0], self.floor, self.weak_line, feats, cue)
            t3 = time.perf_counter()
            target = v["label"] if self.values["target"] == "predicted" else int(self.values["target"])
            ex = explain(net, x, self.values["explain"], target)
            res.update(pixels=pixels, x=x, outputs=outputs, verdict=v, label=v["label"], probs=v["probs"])
            res.update(target=target, cam=ex.pop("cam", None), explain=ex)
            ex.pop("outputs", None)
            if host_maps:
                res["activations"] = self.maps(outputs, self.layer_entry())
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
        if gen == self.generation:  # a Clear meanwhile: this prediction is of ink no longer there
            self.ink_flat = flat
            self.result = res
            self.dirty = False

    @staticmethod
    def maps(outputs, entry: dict) -> list[tuple[int, int, list[float]]]:
        """The maps of layer ``entry`` (:func:`map_layers`) as (h, w, flat values) per channel; one readback."""
        c, h, w = entry["shape"]
        vals = outputs[entry["index"]].reshape(-1).tolist()
        return [(h, w, vals[i * h * w : (i + 1) * h * w]) for i in range(c)]

    def map_layers(self) -> list[int]:
        """Indices of the layers whose outputs are activation maps (ReLU/Tanh of a convolution)."""
        if self.outputs is None:
            return []
        acts = ("ReLU", "Tanh")
        return [i for i, m in enumerate(self.net.layers) if self.outputs[i].ndim == 4 and type(m).__name__ in acts]

    def conv_filters(self) -> list[dict]:
        if self.filters is None:
            self.filters = conv_filters(self.net)
        return self.filters

    def step(self) -> None:
        if self.dirty or self.updates == 0:
            self.predict()

    def _pressed(self, name) -> None:
        if name == "clear":
            self.clear()
        elif name == "predict":
            self.dirty = True

    def _changed(self, name, value) -> None:
        if name in ("explain", "target", "layer"):
            self.dirty = True

    # --- output ---------------------------------------------------------------------------------------------
    def view(self) -> dict:
        """What to draw: ``pixels`` (the 28 x 28 model input, flat), ``probs``, ``label`` and ``verdict``
        (digits_explain.verdict: the text to show, ``unsure`` and why), ``explain`` (map, peak, units, what) and
        ``gradcam`` (overlay on or off), ``activations`` of ``layer`` and the ``layers`` to choose from, device
        tensors ``x``, ``cam``, ``outputs`` for zero-copy renderers, and text."""
        r = self.result
        acc = f", test accuracy {self.accuracy * 100:.2f}%" if self.accuracy is not None else ""
        lat = self.latencies[-1] * 1e3 if self.latencies else 0.0
        return {
            "title": "draw a digit",
            "subtitle": f"model: {self.model_name}{acc}",
            "ink_flat": self.ink_flat,
            "ink_size": INK,
            "serial": r["serial"],
            "pixels": r["pixels"] or [0.0] * 784,
            "probs": list(r["probs"]),
            "label": r["label"],
            "verdict": r["verdict"],
            "target": r["target"],
            "gradcam": self.values["gradcam"],
            "explain": r["explain"],
            "method": self.values["explain"],
            "cam_image": (r["explain"] or {}).get("map") or [0.0] * 784,
            "activations": r["activations"],
            "layer": self.values["layer"],
            "layers": self.layers,
            "brush": self.values["brush"],
            "floor": self.floor,
            "weak_line": self.weak_line,
            "novelty_line": (self.novelty or {}).get("line"),
            "latency": f"update: {lat:.1f} ms (forward + explanation + maps)" if r["verdict"] else "update: -",
            "x": r["x"],
            "cam": r["cam"],
            "outputs": r["outputs"],
        }

    def state(self) -> dict:
        lat = sorted(self.latencies[1:] or self.latencies)
        ink = self.ink_values()
        v = self.result["verdict"] or {}
        return {
            "ink": sum(ink) / len(ink),
            "strokes": self.strokes,
            "updates": self.updates,
            "prediction": self.label,
            "probability": max(self.probs),
            "unsure": v.get("unsure"),
            "verdict": v.get("text"),
            "explain": self.values["explain"],
            "target": self.result["target"],
            "layer": self.values["layer"],
            "brush": self.values["brush"],
            "show_cam": self.values["gradcam"],
            "latency_ms_p50": lat[len(lat) // 2] * 1e3 if lat else None,
            "model": self.model_name,
        }
