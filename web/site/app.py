"""The web page's Python side: runs in Pyodide inside the page's Web Worker, on gpuml's browser device.

No numpy (Pyodide core). Every public function is called from worker.js with ``callPromising`` (so gpuml's
synchronous reads may block on WebGPU promises through JSPI) and returns a JSON string. Canvases are drawn by
the worker's WebGPU renderer (``R``, render.js) straight from the storage buffers of gpuml tensors, after
``device.flush()`` has submitted the compute work that fills them (queue order does the rest).
"""

import array
import json
import math
import sys
import time

import js
from pyodide.ffi import to_js

import gpuml
from gpuml import ops
from gpuml.explain import grad_cam_device
from gpuml.nn import from_spec
from gpuml.nn.functional import softmax_cross_entropy
from gpuml.optim import Adam

R = None  # the renderer (render.js), set by setup()
DEV = None
INK = 112  # pad ink resolution (the pad canvas is 280 CSS px: 2.5 CSS px per ink pixel)
PAD_CSS = 280
MODELS = {}
STATE = {}


def _ms(t0):
    return (time.perf_counter() - t0) * 1e3


def _buf(t):
    """(GPUBuffer, element offset) of a float32/uint32 tensor, for the renderer; on the CPU path (Canvas 2D
    renderer, render2d.js) the tensor's bytes instead."""
    if not DEV.is_gpu:
        return _bytes_js(t.to_bytes()), 0
    return t._storage.buffer.handle, t.byte_offset // 4


def _binding(t):
    """(GPUBuffer, byte offset) of a tensor, for a renderer bind group."""
    return t._storage.buffer.handle, t.byte_offset


def _bytes_js(arr):
    return to_js(memoryview(arr).cast("B"))


def _draw_image(
    canvas, t, norm, *, n, c, h, w, cols=1, mode=0, sampling=0, box=None, gap=2.0, scale=1.0, clear=True, present=True
):
    if R is None:  # CPU path (no WebGPU): nothing to draw with
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
    R.image(canvas, buf, nbuf, json.dumps(opts))


def setup(renderer, info_json):
    """Create the device (gpuml's own selection picks the browser backend) and remember the renderer."""
    global R, DEV
    R = renderer
    DEV = gpuml.get_device()
    STATE["ones"] = ops.full((64,), 1.0, device=DEV)
    summary = DEV.summary()
    return json.dumps(
        {
            "device": summary,
            "numpy": "numpy" in sys.modules,
            "python": sys.version.split()[0],
            "gpuml": gpuml.__version__,
        }
    )


def set_renderer(renderer):
    global R
    R = renderer


# --- model loading (numpy-free: JSON + raw float32) ------------------------------------------------------------
def load_model(name, meta_json, blob):
    """Build the model from its spec and fill parameters and buffers from the raw float32 ``blob``."""
    meta = json.loads(meta_json)
    t0 = time.perf_counter()
    values = array.array("f")
    values.frombytes(blob.to_bytes() if hasattr(blob, "to_bytes") else bytes(blob))
    if sys.byteorder != "little":
        values.byteswap()
    model = from_spec(meta["spec"], tuple(meta["input_shape"]), DEV, meta.get("seed", 0))
    store = model.parameters()
    params = {p.name: p for p in store}
    buffers = {f"{i}.{k}": t for i, layer in enumerate(model.layers) for k, t in layer.buffers().items()}
    for entry in meta["tensors"]:
        chunk = values[entry["offset"] : entry["offset"] + entry["size"]]
        target = params[entry["name"]].data if entry["name"] in params else buffers[entry["name"]]
        target.assign(chunk)
    model.eval()
    MODELS[name] = model
    return json.dumps({"ms": _ms(t0), "parameters": store.size, "describe": model.describe()})


# --- digit pad ---------------------------------------------------------------------------------------------------
def pad_clear():
    STATE["ink"] = ops.zeros((INK, INK), device=DEV)
    _draw_pad()
    return "{}"


def _draw_pad():
    DEV.flush()
    _draw_image("pad", STATE["ink"], STATE["ones"], n=1, c=1, h=INK, w=INK, sampling=1, gap=0)


def pad_stroke(segments, radius_css):
    """Add pen segments (flat list x0, y0, x1, y1, ... in CSS pixels of the pad) to the ink, on the device."""
    if "ink" not in STATE:
        pad_clear()
    segs = segments.to_py() if hasattr(segments, "to_py") else list(segments)
    s = INK / PAD_CSS
    if not DEV.is_gpu:  # CPU path (numpy or pure-Python backend)
        _stroke_host(STATE["ink"], [v * s for v in segs], float(radius_css) * s)
        _draw_pad()
        return "{}"
    kernel = DEV.kernel("render/web_stroke.wgsl", WG=64)
    for start in range(0, len(segs), 4 * 64):
        part = array.array("f", [v * s for v in segs[start : start + 4 * 64]])
        seg_t = gpuml.tensor(part, device=DEV)
        n = len(part) // 4
        kernel(
            DEV.grid_1d(-(-INK * INK // 64)),
            {"n_segs": n, "height": INK, "width": INK, "radius": float(radius_css) * s},
            segs=seg_t,
            ink=STATE["ink"],
        )
    _draw_pad()
    return "{}"


def _stroke_host(ink, segs, radius):
    """web_stroke.wgsl on the host: ink = max(ink, coverage of each capsule segment), only inside its bounds."""
    vals = array.array("f", ink.to_bytes())
    reach = radius + 1.0
    for k in range(0, len(segs) - 3, 4):
        ax, ay, bx, by = segs[k : k + 4]
        dx, dy = bx - ax, by - ay
        len2 = dx * dx + dy * dy
        y0, y1 = max(0, int(min(ay, by) - reach)), min(INK, int(max(ay, by) + reach) + 1)
        x0, x1 = max(0, int(min(ax, bx) - reach)), min(INK, int(max(ax, bx) + reach) + 1)
        for y in range(y0, y1):
            py = y + 0.5
            for x in range(x0, x1):
                px = x + 0.5
                t = min(max(((px - ax) * dx + (py - ay) * dy) / len2, 0.0), 1.0) if len2 > 0 else 0.0
                cover = min(max(radius + 0.5 - math.hypot(px - (ax + t * dx), py - (ay + t * dy)), 0.0), 1.0)
                if cover > vals[y * INK + x]:
                    vals[y * INK + x] = cover
    ink.assign(vals)


def mnist_from_ink(ink, size=INK):
    """The ink as MNIST digits are made: bounding box scaled to 20 px (aspect kept, box-filtered), placed in
    28 x 28 with its centre of mass at the centre. ``ink`` is a flat list; returns a flat 784 list or None."""
    peak = max(ink)
    if peak <= 0.05:
        return None
    thr = 0.2 * peak
    ys = [y for y in range(size) if max(ink[y * size : (y + 1) * size]) > thr]
    xs = [x for x in range(size) if any(ink[y * size + x] > thr for y in ys)]
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    side = max(y1 - y0, x1 - x0)
    s = 20.0 / side
    oh, ow = max(1, round((y1 - y0) * s)), max(1, round((x1 - x0) * s))
    step = 1.0 / s
    sub = (0.125, 0.375, 0.625, 0.875)
    small = []
    for i in range(oh):
        for j in range(ow):
            acc = 0.0
            for fy in sub:
                yy = min(size - 1, int(y0 + (i + fy) * step))
                row = yy * size
                for fx in sub:
                    acc += ink[row + min(size - 1, int(x0 + (j + fx) * step))]
            small.append(acc / 16.0)
    total = sum(small) or 1.0
    cy = sum(small[i * ow + j] * i for i in range(oh) for j in range(ow)) / total
    cx = sum(small[i * ow + j] * j for i in range(oh) for j in range(ow)) / total
    top = min(max(round(14 - cy), 0), 28 - oh)
    left = min(max(round(14 - cx), 0), 28 - ow)
    out = [0.0] * 784
    for i in range(oh):
        out[(top + i) * 28 + left : (top + i) * 28 + left + ow] = small[i * ow : (i + 1) * ow]
    return out


def _softmax(logits):
    m = max(logits)
    e = [math.exp(v - m) for v in logits]
    s = sum(e)
    return [v / s for v in e]


def pad_predict(model_name="default"):
    """Classify the pad: preprocess (host), forward + Grad-CAM (device), draw input/Grad-CAM/activations."""
    model = MODELS[model_name]
    t0 = time.perf_counter()
    flat = array.array("f")
    if "ink" in STATE:
        flat.frombytes(STATE["ink"].to_bytes())
    read_ms = _ms(t0)
    t1 = time.perf_counter()
    pixels = mnist_from_ink(flat.tolist()) if len(flat) else None
    prep_ms = _ms(t1)
    if pixels is None:
        return json.dumps({"empty": True})
    x = gpuml.tensor(array.array("f", pixels), device=DEV).reshape(1, 1, 28, 28)
    # the prediction alone (what a classifier call costs): forward + one readback of 10 logits
    t2 = time.perf_counter()
    logits = model.forward(x).tolist()[0]
    predict_ms = _ms(t2)
    probs = _softmax(logits)
    label = max(range(10), key=lambda i: probs[i])
    t3 = time.perf_counter()
    cam = grad_cam_device(model, x, target_class=label)
    outs = cam["outputs"]
    n_layers = len(model.layers)
    maps = [i for i in range(n_layers) if outs[i].ndim == 4 and type(model.layers[i]).__name__ in ("ReLU", "Tanh")]
    norms = {i: ops.max(outs[i].reshape(outs[i].shape[1], -1), axis=1) for i in maps}
    cam_t = cam["cam"]
    cam_norm = ops.max(cam_t.reshape(1, -1), axis=1)
    DEV.flush()
    STATE["x"], STATE["cam"], STATE["cam_norm"] = x, cam_t, cam_norm
    _draw_image("input", x, STATE["ones"], n=1, c=1, h=28, w=28, gap=0, present=False)
    _, _, ch, cw = outs[cam["layer"]].shape
    _draw_image("input", cam_t, cam_norm, n=1, c=1, h=ch, w=cw, mode=2, sampling=1, gap=0, clear=False)
    if R is None:
        return json.dumps({"label": label, "probs": probs, "predict_ms": predict_ms, "pixels": pixels})
    layout = R.actsLayout(json.dumps([list(outs[i].shape[1:]) for i in maps]))
    boxes = json.loads(layout)
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
    STATE["keep"] = [outs[i] for i in maps] + list(norms.values())
    gradcam_ms = _ms(t3)
    return json.dumps(
        {
            "label": label,
            "probs": probs,
            "predict_ms": predict_ms,
            "readback_ms": read_ms,
            "preprocess_ms": prep_ms,
            "gradcam_and_draw_ms": gradcam_ms,
            "layers": [f"{i}: {model.layers[i].describe()}" for i in maps],
            "pixels": pixels,
        }
    )


def predict_pixels(pixels_list, model_name="default"):
    """Classify flat 28x28 lists (the benchmark: ms per image, forward + readback)."""
    model = MODELS[model_name]
    images = pixels_list.to_py() if hasattr(pixels_list, "to_py") else list(pixels_list)
    times, labels = [], []
    for px in images:
        x = gpuml.tensor(array.array("f", px), device=DEV).reshape(1, 1, 28, 28)
        t0 = time.perf_counter()
        logits = model.forward(x).tolist()[0]
        times.append(_ms(t0))
        labels.append(max(range(10), key=lambda i: logits[i]))
    return json.dumps({"labels": labels, "ms": times})


# --- k-means animation ---------------------------------------------------------------------------------------------
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


def kmeans_start(rows_json, k, seed):
    """A k-means run on the page's dataset, driven one Lloyd iteration per animation frame (kmeans_step) the way
    ``KMeans(k, random_state=seed, max_iter=100).fit`` runs it (k-means++ init, one run, the same convergence
    test and empty-cluster fix), so the final labels are native gpuml's. The canvas is drawn straight from the
    engine's device buffers (points, labels, centers): no labels or centers are read back per frame."""
    from gpuml.cluster import KMeans
    from gpuml.cluster._data import as_host
    from gpuml.cluster._engine import make_engine
    from gpuml.cluster.kmeans import _rng

    rows = json.loads(rows_json)
    km = KMeans(int(k), random_state=int(seed), max_iter=100)
    km._check_params()
    data = as_host(rows, min_samples=1)
    if data.d != 2:
        raise ValueError(f"the k-means canvas draws 2-D points, got {data.d} features")
    engine = make_engine(km._device(), data, km.n_clusters)
    engine.set_centers(km._init_centers(engine, data, _rng(km.random_state)))
    STATE["km"] = {"est": km, "data": data, "engine": engine, "tol": data.variance_mean * km.tol, "n_iter": 0}
    STATE["km"]["pending"] = None  # the last iteration's stats, being read back while the frame waits
    STATE["km_result"] = None
    if R is None:
        return json.dumps({"n": len(rows), "k": int(k)})
    xs, ys = [r[0] for r in rows], [r[1] for r in rows]
    if DEV.is_gpu:
        pts = _binding(engine.chunks[0][2])
    else:  # Canvas 2D renderer: the centered points as rows of 4 floats, once
        pts = (_bytes_js(array.array("f", [v for i in range(data.n) for v in (*data.row(i), 0.0, 0.0)])), 0)
    R.pointsData(
        "kmeans",
        *pts,
        len(rows),
        json.dumps([min(xs), min(ys), max(xs), max(ys)]),
        json.dumps(list(data.mean)),
        json.dumps(PALETTE),
    )
    _draw_kmeans(engine)
    return json.dumps({"n": len(rows), "k": int(k)})


def _draw_kmeans(engine):
    if DEV.is_gpu:
        DEV.flush()  # the engine's recorded work fills the buffers the frame reads (queue order does the rest)
        R.pointsState("kmeans", *_binding(engine.chunks[0][3]), *_binding(engine.centers[engine.cur]), engine.k)
    else:  # Canvas 2D renderer: labels (u32, -1 = none yet) and centers (rows of 4 floats) as bytes
        labels = _bytes_js(array.array("I", [int(v) & 0xFFFFFFFF for v in engine.labels()]))
        centers = array.array("f", [v for row in engine.get_centers() for v in (*row, 0.0, 0.0)])
        R.pointsState("kmeans", labels, 0, _bytes_js(centers), 0, engine.k)
    R.drawPoints("kmeans")


def _km_stats(st):
    """(shift, inertia, changed, empty) of the iteration recorded by the previous kmeans_step: its 16-byte
    readback was started then and has normally completed while the frame waited (else this blocks on it)."""
    from pyodide.ffi import run_sync

    fut = st["pending"]
    st["pending"] = None
    raw = fut.result() if fut.done() else run_sync(fut)
    shift, inertia, changed, empty = array.array("f", raw).tolist()
    return shift, inertia, int(changed), int(empty)


def _km_finish(st):
    engine = st["engine"]
    inertia, _ = engine.assign()
    labels = [int(v) for v in engine.labels()]
    STATE["km_result"] = {"done": True, "labels": labels, "inertia": inertia, "n_iter": st["n_iter"]}
    if R is not None:
        _draw_kmeans(engine)
    return json.dumps(STATE["km_result"])


def kmeans_step():
    """One frame of the animation: the convergence test on the previous iteration's stats (as KMeans.fit decides
    after each iteration), then either the next Lloyd iteration (recorded, submitted and drawn without waiting for
    the device; its stats are copied and their readback started) or the end of the fit (final assignment, labels).

    Pipelining the stats readback keeps the device's work (the iteration, the previous frame's drawing) off the
    call: the call records and submits, the device runs while the worker waits for the next animation frame."""
    import asyncio

    from gpuml.cluster.kmeans import _relocate_empty

    if STATE.get("km_result") is not None:
        return json.dumps(STATE["km_result"])
    st = STATE["km"]
    engine, km = st["engine"], st["est"]
    t0 = time.perf_counter()
    stats = None
    if st["pending"] is not None:
        shift, inertia, changed, empty = stats = _km_stats(st)
        if empty:
            shift = _relocate_empty(engine, st["data"])
            stats = (shift, inertia, changed, empty)
        if changed == 0 or shift <= st["tol"] or st["n_iter"] >= km.max_iter:
            return _km_finish(st)
    record = getattr(engine, "_record_update", None)
    if record is None:  # the numpy engine (CPU path): synchronous
        stats = engine.iterate()
        st["n_iter"] += 1
        shift, _, changed, empty = stats
        if empty:
            stats = (_relocate_empty(engine, st["data"]), *stats[1:])
        if changed == 0 or stats[0] <= st["tol"] or st["n_iter"] >= km.max_iter:
            return _km_finish(st)
    else:
        engine._record_assign(True)  # what engine.iterate() records, without its blocking read of the stats
        engine._record_update(0)
        st["n_iter"] += 1
        snap = ops.copy(engine.stats)  # queue-ordered copy: the next iteration may overwrite engine.stats
        st["pending"] = asyncio.ensure_future(snap.to_bytes_async())
    step_ms = _ms(t0)
    t1 = time.perf_counter()
    if R is not None:
        _draw_kmeans(engine)
    shift, inertia = (stats[0], stats[1]) if stats else (None, None)
    return json.dumps(
        {
            "done": False,
            "iteration": st["n_iter"],  # drawn: this iteration's labels and centers
            "inertia": inertia,  # the stats of the previous iteration (null on the first frame)
            "shift": shift,
            "step_ms": step_ms,
            "draw_ms": _ms(t1),
        }
    )


# --- augmentation gallery ----------------------------------------------------------------------------------------
def _color_card(size=48):
    """A small RGB test card (gradients, a disc, stripes) as C x H x W floats, built in Python."""
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


def augment_run(spec, seed, source, digits_blob=None, count=16):
    import gpuml.augment as A

    t0 = time.perf_counter()
    count = int(count)
    if source == "digits":
        raw = digits_blob.to_bytes()
        vals = array.array("f", [v / 255.0 for v in raw[: count * 784]])
        x = gpuml.tensor(vals, device=DEV).reshape(count, 1, 28, 28)
    else:
        card = array.array("f", _color_card()) * count
        x = gpuml.tensor(card, device=DEV).reshape(count, 3, 48, 48)
    pipe = A.parse_pipeline(spec)
    y = pipe.apply_batch(x, seed=int(seed), step=0)
    DEV.flush()
    _, c, h, w = y.shape
    STATE["aug"] = y
    _draw_image("gallery", y, STATE["ones"], n=count, c=c, h=h, w=w, cols=4, mode=1 if c == 3 else 0, gap=6)
    total = _ms(t0)
    return json.dumps({"ms": total, "shape": list(y.shape), "params": pipe.params_[:2]})


# --- live training -------------------------------------------------------------------------------------------------
def train_setup(train_images, train_labels, test_images, test_labels, batch=64, lr=2e-3, seed=0):
    t0 = time.perf_counter()

    def floats(blob):
        return array.array("f", array.array("B", blob.to_bytes()))  # uint8 values as floats, scaled on the device

    n, nt = train_labels.length, test_labels.length
    x = ops.mul(gpuml.tensor(floats(train_images), device=DEV), 1.0 / 255).reshape(n, 1, 28, 28)
    xt = ops.mul(gpuml.tensor(floats(test_images), device=DEV), 1.0 / 255).reshape(nt, 1, 28, 28)
    y = gpuml.tensor(array.array("i", array.array("B", train_labels.to_bytes())), device=DEV)
    yt = gpuml.tensor(array.array("i", array.array("B", test_labels.to_bytes())), device=DEV)
    model = from_spec("lenet5", (1, 28, 28), DEV, int(seed))
    STATE["train"] = {
        "x": x,
        "y": y,
        "xt": xt,
        "yt": yt,
        "n": n,
        "nt": nt,
        "batch": int(batch),
        "model": model,
        "opt": Adam(model.parameters(), lr=float(lr)),
        "step": 0,
        "loss": [],
        "acc": [],
        "test": [],
    }
    MODELS["trained"] = model
    _draw_curves()
    return json.dumps(
        {"ms": _ms(t0), "n_train": n, "n_test": nt, "batch": int(batch), "parameters": model.parameters().size}
    )


def train_steps(count=1):
    """``count`` optimisation steps (each: batch view, forward, fused softmax CE, backward, Adam), one readback
    of their losses; a test evaluation at each epoch end; then the curves are drawn."""
    st = STATE["train"]
    model, b, n = st["model"], st["batch"], st["n"]
    per_epoch = n // b
    t0 = time.perf_counter()
    sums = []
    model.train()
    for _ in range(int(count)):
        i = st["step"] % per_epoch
        xb = st["x"].view(i * b * 784, (b, 1, 28, 28))
        yb = st["y"].view(i * b, (b,))
        row_loss, row_correct, grad = softmax_cross_entropy(model.forward(xb), yb)
        model.backward(grad)
        st["opt"].step()
        sums.append(ops.sum(row_loss))
        sums.append(ops.sum(row_correct))
        st["step"] += 1
    vals = [s.item() for s in sums]
    for k in range(0, len(vals), 2):
        st["loss"].append(vals[k] / b)
        st["acc"].append(vals[k + 1] / b)
    test = None
    if st["step"] % per_epoch == 0:
        test = evaluate()
    _draw_curves()
    return json.dumps(
        {
            "step": st["step"],
            "epoch": st["step"] / per_epoch,
            "loss": st["loss"][-1],
            "batch_acc": st["acc"][-1],
            "test_acc": test,
            "ms_per_step": _ms(t0) / int(count),
        }
    )


def evaluate():
    st = STATE["train"]
    model = st["model"].eval()
    _, correct, _ = softmax_cross_entropy(model.forward(st["xt"]), st["yt"])
    acc = ops.sum(correct).item() / st["nt"]
    model.train()
    st["test"].append([st["step"], acc])
    return acc


def _draw_curves():
    st = STATE["train"]
    if R is None:
        return
    loss = array.array("f", [v for i, y in enumerate(st["loss"]) for v in (i + 1, y)])
    acc_pts = array.array("f", [v for s, a in st["test"] for v in (s, a)])
    R.curves(
        "curves",
        _bytes_js(loss),
        len(st["loss"]),
        _bytes_js(acc_pts),
        len(st["test"]),
        max(st["n"] // st["batch"] * 3, st["step"]),
    )


# --- timings: GPU time per kernel (timestamp queries) ------------------------------------------------------------
def profile_kernels():
    """GPU time per kernel of the page's workloads (gpuml.webbuild.workload), with timestamp queries."""
    from gpuml.webbuild.workload import profile_workload

    return json.dumps(profile_workload(DEV, MODELS["default"]))


js.console.log("gpuml web app module loaded")
