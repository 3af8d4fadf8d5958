"""The web page's Python side, shared core: runs in Pyodide inside the page's Web Worker, on gpuml's browser device.

The page is a thin front end over the demo models of :mod:`gpuml.playground` (the native demo windows drive the
same models). One module per demo (pad, kmeans, augment, train, ...) holds that demo's calls; this module holds
the page state, the device setup, model loading and the drawing helpers they share. No numpy (Pyodide core).

Every public function (each module's ``__all__``, re-exported by the package) is called from worker.js with
``callPromising`` (so gpuml's synchronous reads may block on WebGPU promises through JSPI) and returns a JSON
string. Canvases are drawn by the worker's WebGPU renderer (render.js) straight from the storage buffers of gpuml
tensors (``Tensor.gpu_buffer()``), after ``device.flush()`` has submitted the compute work that fills them (queue
order does the rest); without WebGPU by the Canvas 2D renderer (render2d.js) from the tensors' bytes.
"""

import array
import itertools
import json
import struct
import sys
import time

from pyodide.ffi import to_js

import gpuml
from gpuml import ops
from gpuml.nn import from_spec

__all__ = ["js_device", "load_model", "profile_kernels", "set_renderer", "setup", "warm_up"]


class Page:
    """The page's state: the device, the renderer (None until set), the loaded networks and the demo models."""

    def __init__(self):
        self.device = None
        self.renderer = None
        self.nets = {}  # name -> nn model ("default": shipped, "trained": the live-trained one)
        # The digit pad starts on the CPU on a software adapter (SwiftShader): ``cpu`` (gpuml's python backend)
        # with its own copy of the shipped models (``cpu_nets``) until ``pad_gpu``: the pad's WebGPU kernels have
        # been compiled in the background (pad.pad_warm_step); None on a real GPU (warmed before Ready).
        self.cpu = None
        self.cpu_nets = {}
        self.pad_gpu = False
        self.digits = None
        self.kmeans = None
        self.km_pending = None  # the last k-means iteration's statistics, being read back while the frame waits
        self.km_result = None
        self.augment = {}  # (source, count) -> AugmentModel
        self.augment_last = None  # the model of the gallery on show
        self.train = None
        self.ones = None
        self.keep = []  # tensors the renderer reads after the call returns


PAGE = Page()


def _ms(t0):
    return (time.perf_counter() - t0) * 1e3


def _bytes_js(arr):
    return to_js(memoryview(arr).cast("B"))


def _buf(t):
    """(GPUBuffer, element offset) of a float32/uint32 tensor, for the renderer; on the CPU path (Canvas 2D
    renderer) the tensor's bytes instead."""
    where = t.gpu_buffer()
    if where is None:
        return _bytes_js(t.to_bytes()), 0
    return where[0], where[1] // 4


def _binding(t):
    """(GPUBuffer, byte offset) of a tensor, for a renderer bind group."""
    handle, offset, _ = t.gpu_buffer()
    return handle, offset


def _draw_image(
    canvas, t, norm, *, n, c, h, w, cols=1, mode=0, sampling=0, box=None, gap=2.0, scale=1.0, clear=True, present=True
):
    if PAGE.renderer is None:  # no renderer: nothing to draw with
        return
    buf, off = _buf(t)
    nbuf, noff = _buf(norm)
    opts = {
        "n": n,
        "cols": cols,
        "c": c,
        "h": h,
        "w": w,
        "offset": off,
        "normOffset": noff,
        "mode": mode,
        "sampling": sampling,
        "gap": gap,
        "scale": scale,
        "box": box,
        "clear": clear,
        "present": present,
    }
    PAGE.renderer.image(canvas, buf, nbuf, json.dumps(opts))


def setup(renderer, info_json):
    """Create the device (gpuml's own selection picks the browser backend) and remember the renderer. On a
    software adapter (SwiftShader, ``adapter_type`` CPU) the pad also gets gpuml's python backend to start on, or
    ``opts`` ``{"pad": "cpu"}`` / ``{"pad": "gpu"}`` forces either."""
    opts = json.loads(info_json or "{}")
    PAGE.renderer = renderer
    PAGE.device = gpuml.get_device()
    PAGE.ones = ops.full((64,), 1.0, device=PAGE.device)
    software = PAGE.device.is_gpu and PAGE.device.adapter_info.get("adapter_type") == "CPU"
    if PAGE.device.is_gpu and opts.get("pad", "cpu" if software else "gpu") == "cpu":
        PAGE.cpu = gpuml.get_device("python")
    return json.dumps(
        {
            "pad_cpu_first": PAGE.cpu is not None,
            "device": PAGE.device.summary(),
            "numpy": "numpy" in sys.modules,
            "python": sys.version.split()[0],
            "gpuml": gpuml.__version__,
        }
    )


def set_renderer(renderer):
    PAGE.renderer = renderer


def js_device():
    """The browser device's GPUDevice (the WebGPU renderer draws on it)."""
    return PAGE.device.js_device


# --- model loading (numpy-free: JSON + raw float32) ------------------------------------------------------------
def load_model(name, meta_json, blob):
    """Build the model from its spec and fill parameters and buffers from the raw float32 ``blob``."""
    meta = json.loads(meta_json)
    t0 = time.perf_counter()
    raw = blob.to_bytes() if hasattr(blob, "to_bytes") else bytes(blob)
    cue = meta.get("novelty")
    values = array.array("f")
    values.frombytes(raw[: cue["offset_bytes"]] if cue else raw)
    if sys.byteorder != "little":
        values.byteswap()
    novelty = _novelty(cue, raw) if cue else None
    model = _build(meta, values, PAGE.device)
    model.novelty = novelty
    PAGE.nets[name] = model
    if PAGE.cpu is not None:  # the same weights for the pad's CPU start (its verdicts match the GPU's)
        PAGE.cpu_nets[name] = _build(meta, values, PAGE.cpu)
        PAGE.cpu_nets[name].novelty = novelty
    return json.dumps({"ms": _ms(t0), "parameters": model.parameters().size, "describe": model.describe()})


def _novelty(cue, raw):
    """The digit pad's feature cue (gpuml.playground.novelty.of's form) from the float16 prototypes in ``raw``."""
    classes, per_class, dim = cue["shape"]
    flat = struct.unpack_from(f"<{classes * per_class * dim}e", raw, cue["offset_bytes"])
    rows = [list(flat[i * dim : (i + 1) * dim]) for i in range(classes * per_class)]
    return {"layer": cue["layer"], "line": cue["line"],
            "prototypes": [rows[c * per_class : (c + 1) * per_class] for c in range(classes)]}  # fmt: skip


def _build(meta, values, device):
    model = from_spec(meta["spec"], tuple(meta["input_shape"]), device, meta.get("seed", 0))
    params = {p.name: p for p in model.parameters()}
    buffers = {f"{i}.{k}": t for i, layer in enumerate(model.layers) for k, t in layer.buffers().items()}
    for entry in meta["tensors"]:
        chunk = values[entry["offset"] : entry["offset"] + entry["size"]]
        target = params[entry["name"]].data if entry["name"] in params else buffers[entry["name"]]
        target.assign(chunk)
    model.eval()
    # the pad's unsure rule, computed at build time (None: calibrate in the page)
    model.evidence_floor, model.evidence_floor_digits = meta.get("evidence_floor"), meta.get("evidence_floor_digits")
    model.evidence_weak = meta.get("evidence_weak")
    return model


# --- warm-up before "Ready" (on a software adapter the pad's WebGPU path warms after it: pad.pad_warm_step) -------
def warm_up():
    """Run the digit pad's whole prediction path once (stroke, preprocess, forward, Grad-CAM, the canvases' draws)
    on the built-in sample stroke of the default model, then clear the pad: worker.js calls it before posting
    "ready", so the first real prediction compiles no kernel (the pad on WebGPU) or imports no module (on the CPU)."""
    from gpuml.playground.digits import PAD, SAMPLE_STROKE

    from . import pad  # the pad's own public calls: exactly what a user's first digit runs

    t0 = time.perf_counter()
    pts = [(x * PAD, y * PAD) for x, y in SAMPLE_STROKE]
    pad.pad_stroke([v for a, b in itertools.pairwise(pts) for v in (*a, *b)], 11.0)
    pad.pad_predict("default")
    pad.pad_clear()
    return json.dumps({"ms": _ms(t0)})


# --- timings: GPU time per kernel (timestamp queries) ------------------------------------------------------------
def profile_kernels():
    """GPU time per kernel of the page's workloads (gpuml.webbuild.workload), with timestamp queries."""
    from gpuml.webbuild.workload import profile_workload

    return json.dumps(profile_workload(PAGE.device, PAGE.nets["default"]))
