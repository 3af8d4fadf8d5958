"""The web page's Python side: runs in Pyodide inside the page's Web Worker, on gpuml's browser device.

A thin front end over the demo models of :mod:`gpuml.playground` (the native demo windows drive the same models):
the digit pad (DigitsModel), k-means (KMeansModel), the augmentation gallery (AugmentModel) and live training
(TrainModel). No numpy (Pyodide core). Every public function is called from worker.js with ``callPromising`` (so
gpuml's synchronous reads may block on WebGPU promises through JSPI) and returns a JSON string. Canvases are
drawn by the worker's WebGPU renderer (render.js) straight from the storage buffers of gpuml tensors
(``Tensor.gpu_buffer()``), after ``device.flush()`` has submitted the compute work that fills them (queue order
does the rest); without WebGPU by the Canvas 2D renderer (render2d.js) from the tensors' bytes.
"""

import array
import json
import sys
import time

import js
from pyodide.ffi import to_js

import gpuml
from gpuml import ops
from gpuml.nn import from_spec
from gpuml.playground.augment import AugmentModel, color_card
from gpuml.playground.digits import INK, DigitsModel
from gpuml.playground.kmeans import KMeansModel
from gpuml.playground.training import TrainModel, device_batches

# k-means colours of the page (the native window has its own palette)
PALETTE = [
    (0.12, 0.47, 0.71),
    (1.0, 0.5, 0.05),
    (0.17, 0.63, 0.17),
    (0.84, 0.15, 0.16),
    (0.58, 0.4, 0.74),
    (0.55, 0.34, 0.29),
    (0.89, 0.47, 0.76),
    (0.5, 0.5, 0.5),
    (0.74, 0.74, 0.13),
    (0.09, 0.75, 0.81),
    (0.3, 0.3, 0.9),
    (0.6, 0.6, 0.65),
]


class Page:
    """The page's state: the device, the renderer (None until set), the loaded networks and the demo models."""

    def __init__(self):
        self.device = None
        self.renderer = None
        self.nets = {}  # name -> nn model ("default": shipped, "trained": the live-trained one)
        self.digits = None
        self.kmeans = None
        self.km_pending = None  # the last k-means iteration's statistics, being read back while the frame waits
        self.km_result = None
        self.augment = {}  # source -> AugmentModel
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
    """Create the device (gpuml's own selection picks the browser backend) and remember the renderer."""
    PAGE.renderer = renderer
    PAGE.device = gpuml.get_device()
    PAGE.ones = ops.full((64,), 1.0, device=PAGE.device)
    return json.dumps(
        {
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
    values = array.array("f")
    values.frombytes(blob.to_bytes() if hasattr(blob, "to_bytes") else bytes(blob))
    if sys.byteorder != "little":
        values.byteswap()
    model = from_spec(meta["spec"], tuple(meta["input_shape"]), PAGE.device, meta.get("seed", 0))
    store = model.parameters()
    params = {p.name: p for p in store}
    buffers = {f"{i}.{k}": t for i, layer in enumerate(model.layers) for k, t in layer.buffers().items()}
    for entry in meta["tensors"]:
        chunk = values[entry["offset"] : entry["offset"] + entry["size"]]
        target = params[entry["name"]].data if entry["name"] in params else buffers[entry["name"]]
        target.assign(chunk)
    model.eval()
    PAGE.nets[name] = model
    return json.dumps({"ms": _ms(t0), "parameters": store.size, "describe": model.describe()})


# --- digit pad ---------------------------------------------------------------------------------------------------
def _digits(net_name="default"):
    net = PAGE.nets[net_name]
    if PAGE.digits is None:
        PAGE.digits = DigitsModel(net, name=net_name)
    elif PAGE.digits.net is not net:
        PAGE.digits.set_net(net, net_name)
    return PAGE.digits


def _draw_pad():
    d = PAGE.digits
    PAGE.device.flush()
    _draw_image("pad", d.ink, PAGE.ones, n=1, c=1, h=INK, w=INK, sampling=1, gap=0)


def pad_clear():
    _digits().press("clear")
    _draw_pad()
    return "{}"


def pad_stroke(segments, radius_css):
    """Add pen segments (flat list x0, y0, x1, y1, ... in CSS pixels of the 280 px pad) to the ink."""
    segs = segments.to_py() if hasattr(segments, "to_py") else list(segments)
    _digits().stroke_segments(segs, float(radius_css))
    _draw_pad()
    return "{}"


def pad_predict(model_name="default"):
    """Classify the pad: preprocess (host), forward + Grad-CAM (device), draw input/Grad-CAM/activations."""
    d = _digits(model_name)
    d.predict(host_maps=False)  # the canvases draw the maps from the device tensors
    t = d.timings
    if d.pixels is None:
        return json.dumps({"empty": True})
    t3 = time.perf_counter()
    outs = d.outputs
    maps = d.map_layers()
    norms = {i: ops.max(outs[i].reshape(outs[i].shape[1], -1), axis=1) for i in maps}
    cam_norm = ops.max(d.cam.reshape(1, -1), axis=1)
    PAGE.device.flush()
    _draw_image("input", d.x, PAGE.ones, n=1, c=1, h=28, w=28, gap=0, present=False)
    _, ch, cw = d.cam.shape
    _draw_image("input", d.cam, cam_norm, n=1, c=1, h=ch, w=cw, mode=2, sampling=1, gap=0, clear=False)
    out = {"label": d.label, "probs": d.probs, "predict_ms": t["predict_ms"], "pixels": d.pixels}
    if PAGE.renderer is None:
        return json.dumps(out)
    boxes = json.loads(PAGE.renderer.actsLayout(json.dumps([list(outs[i].shape[1:]) for i in maps])))
    for k, i in enumerate(maps):
        _, c, h, w = outs[i].shape
        _draw_image(
            "acts",
            outs[i],
            norms[i],
            n=c,
            c=1,
            h=h,
            w=w,
            cols=boxes[k]["cols"],
            box=boxes[k]["box"],
            clear=k == 0,
            present=k == len(maps) - 1,
        )
    PAGE.keep = [d.x, d.cam, cam_norm] + [outs[i] for i in maps] + list(norms.values())
    out.update(
        readback_ms=t["readback_ms"],
        preprocess_ms=t["preprocess_ms"],
        gradcam_and_draw_ms=t["gradcam_ms"] + _ms(t3),
        layers=[f"{i}: {d.net.layers[i].describe()}" for i in maps],
    )
    return json.dumps(out)


def predict_pixels(pixels_list, model_name="default"):
    """Classify flat 28x28 lists (the benchmark: ms per image, forward + readback)."""
    d = _digits(model_name)
    images = pixels_list.to_py() if hasattr(pixels_list, "to_py") else list(pixels_list)
    times, labels = [], []
    for px in images:
        x = d.image(px)
        t0 = time.perf_counter()
        label, _ = d.classify(x)
        times.append(_ms(t0))
        labels.append(label)
    return json.dumps({"labels": labels, "ms": times})


# --- k-means animation ---------------------------------------------------------------------------------------------
def kmeans_start(rows_json, k, seed):
    """A k-means run on the page's dataset, driven one Lloyd iteration per animation frame (kmeans_step) the way
    ``KMeans(k, random_state=seed, max_iter=100).fit`` runs it, so the final labels are native gpuml's. The canvas
    is drawn straight from the run's device buffers (points, labels, centers): nothing is read back per frame
    but the 16-byte statistics."""
    rows = json.loads(rows_json)
    if rows and len(rows[0]) != 2:
        raise ValueError(f"the k-means canvas draws 2-D points, got {len(rows[0])} features")
    PAGE.kmeans = km = KMeansModel(
        X=rows, k=int(k), seed=int(seed), dataset="page", reveal=False, panels=False, max_iter=100,
        playing=False, device=PAGE.device,
    )  # fmt: skip
    PAGE.km_pending = None
    PAGE.km_result = None
    R = PAGE.renderer
    if R is None:
        return json.dumps({"n": len(rows), "k": km.k})
    buffers = km.run.buffers()
    if buffers is not None:
        pts = _binding(buffers[0])
    else:  # Canvas 2D renderer: the centered points as rows of 4 floats, once
        flat = km.run.points()
        flat = flat.reshape(-1).tolist() if hasattr(flat, "reshape") else flat
        pts = (_bytes_js(array.array("f", [v for i in range(km.n) for v in (*flat[2 * i : 2 * i + 2], 0.0, 0.0)])), 0)
    R.pointsData("kmeans", *pts, km.n, json.dumps(list(km.bounds)), json.dumps(km.run.mean), json.dumps(PALETTE))
    _draw_kmeans()
    return json.dumps({"n": len(rows), "k": km.k})


def _draw_kmeans():
    km, R = PAGE.kmeans, PAGE.renderer
    buffers = km.run.buffers()
    if buffers is not None:
        PAGE.device.flush()  # the run's recorded work fills the buffers the frame reads (queue order does the rest)
        R.pointsState("kmeans", *_binding(buffers[1]), *_binding(buffers[2]), km.k)
    else:  # Canvas 2D renderer: labels (u32, -1 = none yet) and centers (rows of 4 floats) as bytes
        labels = _bytes_js(array.array("I", [int(v) & 0xFFFFFFFF for v in km.labels()]))
        centers = array.array("f", [v for row in km.centers() for v in (*row, 0.0, 0.0)])
        R.pointsState("kmeans", labels, 0, _bytes_js(centers), 0, km.k)
    R.drawPoints("kmeans")


def _km_finish():
    run = PAGE.kmeans.run
    inertia = run.assign()
    labels = [int(v) for v in run.labels()]
    PAGE.km_result = {"done": True, "labels": labels, "inertia": inertia, "n_iter": run.n_iter}
    if PAGE.renderer is not None:
        _draw_kmeans()
    return json.dumps(PAGE.km_result)


def kmeans_step():
    """One frame of the animation: the convergence test on the previous iteration's statistics (as KMeans.fit
    decides after each iteration), then either the next Lloyd iteration (recorded, submitted and drawn without
    waiting for the device; its statistics' readback started) or the end of the fit (final assignment, labels).

    Pipelining the statistics' readback keeps the device's work (the iteration, the previous frame's drawing) off
    the call: the call records and submits, the device runs while the worker waits for the next animation frame."""
    import asyncio

    from pyodide.ffi import run_sync

    if PAGE.km_result is not None:
        return json.dumps(PAGE.km_result)
    run = PAGE.kmeans.run
    t0 = time.perf_counter()
    stats = None
    if PAGE.km_pending is not None:
        fut, PAGE.km_pending = PAGE.km_pending, None
        raw = fut.result() if fut.done() else run_sync(fut)
        stats = run.finish_step(array.array("f", raw).tolist())
        if run.converged:
            return _km_finish()
    snap = run.record_step()
    if snap is None:  # a synchronous engine (cpu, python backends): the iteration is done and decided
        stats = (run.shift, run.inertia)
        if run.converged:
            return _km_finish()
    else:
        PAGE.km_pending = asyncio.ensure_future(snap.to_bytes_async())
    step_ms = _ms(t0)
    t1 = time.perf_counter()
    if PAGE.renderer is not None:
        _draw_kmeans()
    return json.dumps(
        {
            "done": False,
            "iteration": run.n_iter + (PAGE.km_pending is not None),  # drawn: this iteration's labels and centers
            "inertia": stats[1] if stats else None,  # the statistics of the previous iteration (null at first)
            "shift": stats[0] if stats else None,
            "step_ms": step_ms,
            "draw_ms": _ms(t1),
        }
    )


# --- augmentation gallery ----------------------------------------------------------------------------------------
def augment_run(spec, seed, source, digits_blob=None, count=16):
    """The gallery: ``count`` images (MNIST test digits or the colour card) through the text spec ``spec``."""
    t0 = time.perf_counter()
    count = int(count)
    model = PAGE.augment.get((source, count))
    if model is None:
        if source == "digits":
            raw = digits_blob.to_bytes()
            vals = array.array("f", [v / 255.0 for v in raw[: count * 784]])
            x = gpuml.tensor(vals, device=PAGE.device).reshape(count, 1, 28, 28)
        else:
            x = gpuml.tensor(array.array("f", color_card()) * count, device=PAGE.device).reshape(count, 3, 48, 48)
        model = PAGE.augment[(source, count)] = AugmentModel(x, source=source)
    model.set("seed", int(seed))
    model.use_spec(spec)
    model.step()
    PAGE.augment_last = model
    y = model.variants
    PAGE.device.flush()
    _, c, h, w = y.shape
    _draw_image("gallery", y, PAGE.ones, n=count, c=c, h=h, w=w, cols=4, mode=1 if c == 3 else 0, gap=6)
    return json.dumps({"ms": _ms(t0), "shape": list(y.shape), "params": model.params[:2]})


def augment_means():
    """Per-image means of the last gallery, read back (the tests compare them with native gpuml's)."""
    y = PAGE.augment_last.variants
    return json.dumps(ops.mean(y.reshape(y.shape[0], -1), axis=1).tolist())


# --- live training -------------------------------------------------------------------------------------------------
def train_setup(train_images, train_labels, test_images, test_labels, batch=64, lr=2e-3, seed=0):
    t0 = time.perf_counter()
    dev = PAGE.device

    def floats(blob):
        return array.array("f", array.array("B", blob.to_bytes()))  # uint8 values as floats, scaled on the device

    n, nt = train_labels.length, test_labels.length
    x = ops.mul(gpuml.tensor(floats(train_images), device=dev), 1.0 / 255).reshape(n, 1, 28, 28)
    xt = ops.mul(gpuml.tensor(floats(test_images), device=dev), 1.0 / 255).reshape(nt, 1, 28, 28)
    y = gpuml.tensor(array.array("i", array.array("B", train_labels.to_bytes())), device=dev)
    yt = gpuml.tensor(array.array("i", array.array("B", test_labels.to_bytes())), device=dev)
    batches, per_epoch = device_batches(x, y, int(batch))
    PAGE.train = model = TrainModel(
        batches, per_epoch, (xt, yt), batch=int(batch), lr=float(lr), seed=int(seed), eval_every=None,
        steps_per_frame=1, n_train=n, device=dev,
    )  # fmt: skip
    PAGE.nets["trained"] = model.net
    _draw_curves()
    return json.dumps(
        {"ms": _ms(t0), "n_train": n, "n_test": nt, "batch": int(batch), "parameters": model.net.parameters().size}
    )


def train_steps(count=1):
    """``count`` optimisation steps (each: batch view, forward, fused softmax CE, backward, Adam), one readback
    of their losses; a test evaluation at each epoch end; then the curves are drawn."""
    model = PAGE.train
    tests = len(model.test_accs)
    model.train_steps(int(count))
    _draw_curves()
    return json.dumps(
        {
            "step": model.steps,
            "epoch": model.steps / model.per_epoch,
            "loss": model.losses[-1],
            "batch_acc": model.accs[-1],
            "test_acc": model.test_accs[-1] if len(model.test_accs) > tests else None,
            "ms_per_step": model.ms_per_step,
        }
    )


def evaluate():
    return PAGE.train.evaluate()


def _draw_curves():
    model = PAGE.train
    if PAGE.renderer is None:
        return
    loss = array.array("f", [v for s, y in zip(model.loss_steps, model.losses, strict=True) for v in (s, y)])
    acc = array.array("f", [v for s, a in zip(model.test_steps, model.test_accs, strict=True) for v in (s, a)])
    PAGE.renderer.curves(
        "curves",
        _bytes_js(loss),
        len(model.losses),
        _bytes_js(acc),
        len(model.test_accs),
        max(model.per_epoch * 3, model.steps),
    )


# --- timings: GPU time per kernel (timestamp queries) ------------------------------------------------------------
def profile_kernels():
    """GPU time per kernel of the page's workloads (gpuml.webbuild.workload), with timestamp queries."""
    from gpuml.webbuild.workload import profile_workload

    return json.dumps(profile_workload(PAGE.device, PAGE.nets["default"]))


js.console.log("gpuml web app module loaded")
