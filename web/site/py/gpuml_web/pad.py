"""The digit pad (CNN explorer): ink from pen segments, the prediction with its "unsure" verdict, an explanation
(Grad-CAM, HiResCAM, saliency or occlusion) of the predicted or a chosen class, the activation maps of a chosen layer
and the filters of every convolution — all on gpuml.playground.digits.DigitsModel, the native window's model."""

import array
import json
import time

from gpuml import ops
from gpuml.playground.digits import DigitsModel
from gpuml.playground.digits_explain import FLOOR_PERCENTILE, NOVELTY_PERCENTILE, SURE_PROB, WEAK_PERCENTILE

from .core import PAGE, _draw_image, _ms

__all__ = [
    "pad_clear",
    "pad_predict",
    "pad_prepare",
    "pad_stroke",
    "pad_warm_occlusion_step",
    "pad_warm_step",
    "predict_pixels",
]

GAP = 2.0  # px between tiles (the layouts below and _draw_image agree on it)


def _net(name):
    """The network the pad classifies with: the CPU copy of a shipped model until the pad's WebGPU kernels are
    warm (core.Page.cpu), else the WebGPU one (a model trained in the page lives there only)."""
    if not PAGE.pad_gpu and name in PAGE.cpu_nets:
        return PAGE.cpu_nets[name]
    net = PAGE.nets.get(name)
    if net is None:
        if name == "trained":
            raise ValueError("no model has been trained on this page yet: start Live training below, then pick it")
        raise ValueError(f"no model {name!r} is loaded")
    return net


def _digits(net_name="default"):
    """The pad's DigitsModel for ``net_name``: one per device; moving to the other device carries the ink and the
    selections over."""
    net = _net(net_name)
    pads = PAGE.__dict__.setdefault("pads", {})
    d = pads.get(net.device.name)
    if d is None:
        d = pads[net.device.name] = DigitsModel(net, name=net_name, host_ink=False)  # the renderer draws the ink
    old = PAGE.digits
    if old is None:
        PAGE.pad_prepared = {}
    elif old is not d:
        d.ink.assign(array.array("f", old.ink.to_bytes()))
        d.values.update({k: v for k, v in old.values.items() if k != "layer"})
        d.set_net(net, net_name)
        if old.values.get("layer") in (e["name"] for e in d.layers):
            d.values["layer"] = old.values["layer"]
    PAGE.digits = d
    if d.net is not net:
        d.set_net(net, net_name)
    return d


def _layout(canvas, n, h, w, cols=0, region=None):
    """{cols, box} of the largest tiles of aspect w / h for n maps in ``region`` of ``canvas`` (the renderer's)."""
    return json.loads(PAGE.renderer.tileLayout(canvas, n, h, w, cols, GAP, json.dumps(region)))


def _blank(canvas):
    """Clear a canvas to the background (no tiles)."""
    _draw_image(canvas, PAGE.ones, PAGE.ones, n=0, c=1, h=1, w=1, gap=0)


def pad_clear():
    """Empty the pad and the activation maps (the filters stay: they belong to the model, not the drawing). The
    pad and the input panel are drawn by the page's main thread (demos/pad.js)."""
    _digits(PAGE.digits.model_name if PAGE.digits else "default").press("clear")
    if PAGE.renderer is not None:
        _blank("acts")
    return "{}"


def pad_stroke(segments, radius_css):
    """Add pen segments (flat list x0, y0, x1, y1, ... in CSS pixels of the 280 px pad) to the ink (the page
    shows the same segments itself, at once: demos/pad.js)."""
    segs = segments.to_py() if hasattr(segments, "to_py") else list(segments)
    _digits(PAGE.digits.model_name if PAGE.digits else "default").stroke_segments(segs, float(radius_css))
    PAGE.device.flush()
    return "{}"


def pad_prepare(model_name, digits_u8, batch=1, force=False):
    """Switch to ``model_name``; the first time for this network (or with ``force``): calibrate the unsure rule's
    evidence floor on the real test digits ``digits_u8`` (uint8 bytes, 784 per digit; ``batch`` at a time) and
    draw its filters. Returns the layers to choose from, the filters' shapes and scales, and the floor."""
    d = _digits(model_name)
    net = d.net
    prepared = PAGE.pad_prepared.get(model_name)
    changed = force or prepared is None or prepared["net"] is not net
    if changed:
        t0 = time.perf_counter()
        floor = getattr(net, "evidence_floor", None)
        if floor is not None:  # the shipped model's floor comes with it (gpuml.webbuild computes it at build time)
            d.set_levels(floor, getattr(net, "evidence_weak", None))
            d.set_novelty(getattr(net, "novelty", None))  # its feature cue too (none for a model trained here)
            n = net.evidence_floor_digits
        else:  # a model trained in the page: calibrate on the real test digits here
            raw = digits_u8.to_bytes() if hasattr(digits_u8, "to_bytes") else bytes(digits_u8)
            n = len(raw) // 784
            d.calibrate([[v / 255.0 for v in raw[i * 784 : (i + 1) * 784]] for i in range(n)], batch=int(batch))
        filters = [{k: f[k] for k in ("name", "shape", "limit")} for f in d.conv_filters()]
        info = {"layers": d.layers, "filters": filters, "floor": d.floor, "calibration_digits": n,
                "floor_share": round(100 - FLOOR_PERCENTILE), "weak_line": d.weak_line,
                "weak_share": round(100 - WEAK_PERCENTILE), "sure_prob": round(SURE_PROB * 100),
                "novelty_line": (d.novelty or {}).get("line"), "novelty_share": round(NOVELTY_PERCENTILE),
                "device": d.device.name}  # fmt: skip
        info["calibrate_ms"] = _ms(t0)
        PAGE.pad_prepared[model_name] = prepared = {"net": net, "info": info}
        _draw_filters(d)
    return json.dumps({**prepared["info"], "changed": changed})


def _draw_filters(d):
    """Every convolution's weights in one band each, on a diverging scale of ±max|w| per layer; a layer with
    several input channels shows one column per filter and one row per input channel."""
    if PAGE.renderer is None:
        return
    filters = d.conv_filters()
    H = json.loads(PAGE.renderer.canvasSize("filters"))[1]
    band = H / len(filters)
    keep = []
    for k, f in enumerate(filters):
        oc, ic, kh, kw = f["shape"]
        w = f["weight"]
        if ic > 1:  # (ic, oc, kh, kw): row = input channel, column = output filter
            w = ops.transpose(w, (1, 0, 2, 3))
        norm = ops.full((oc * ic,), f["limit"], device=d.device)
        lay = _layout("filters", oc * ic, kh, kw, cols=oc, region=[0, k * band + 4, None, band - 8])
        keep += [w, norm]
        PAGE.device.flush()
        _draw_image("filters", w, norm, n=oc * ic, c=1, h=kh, w=kw, cols=lay["cols"], box=lay["box"], mode=3,
                    gap=GAP, clear=k == 0, present=k == len(filters) - 1)  # fmt: skip
    PAGE.keep_filters = keep


def pad_predict(model_name="default", method="gradcam", target="predicted", layer=""):
    """Classify the pad (preprocess on the host, forward on the device), the verdict, the explanation of the
    predicted or chosen class and the chosen layer's activation maps; draws the maps. The input and its
    explanation (``pixels``, ``explain.map``: 28 x 28 each, host values) are drawn by the page with the verdict."""
    d = _digits(model_name)
    d.set("explain", str(method))
    d.set("target", str(target))
    if layer:
        d.set("layer", str(layer))
    d.predict(host_maps=False)  # the canvases draw the maps from the device tensors
    t = d.timings
    if d.pixels is None:
        return json.dumps({"empty": True})
    t3 = time.perf_counter()
    r = d.result
    v = {k: r["verdict"][k] for k in ("text", "unsure", "weak", "reason", "prob", "evidence", "novelty")}
    ex = {k: r["explain"][k] for k in ("what", "note", "aside", "peak", "units", "method")}
    ex["map"] = [round(v, 4) for v in r["explain"].get("map") or [0.0] * 784]  # [0, 1]: the overlay's colour scale
    entry = d.layer_entry()
    out = {"label": d.label, "probs": d.probs, "predict_ms": t["predict_ms"], "pixels": d.pixels, "verdict": v,
           "floor": d.floor, "weak_line": d.weak_line, "explain": {**ex, "target": r["target"]}, "layer": entry,
           "device": d.device.name}  # fmt: skip
    if PAGE.renderer is None:
        return json.dumps(out)
    c, h, w = entry["shape"]
    maps = d.outputs[entry["index"]].reshape(c, h * w)
    norm = ops.max(ops.abs(maps) if entry["signed"] else maps, axis=1)
    PAGE.device.flush()
    lay = _layout("acts", c, h, w)
    _draw_image("acts", maps, norm, n=c, c=1, h=h, w=w, cols=lay["cols"], box=lay["box"], gap=GAP,
                mode=3 if entry["signed"] else 0)  # fmt: skip
    PAGE.keep = [maps, norm]
    out.update(
        readback_ms=t["readback_ms"],
        preprocess_ms=t["preprocess_ms"],
        gradcam_and_draw_ms=t["gradcam_ms"] + _ms(t3),
        tiles=lay,
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


# --- the pad's WebGPU warm-up, in the background (software adapters) --------------------------------------------
def pad_warm_step(hold=None):
    """Run the pad's WebGPU path (Clear, the sample stroke, predict with Grad-CAM and saliency, every layer's map
    scale, the filters) on a private DigitsModel until a kernel is not compiled yet: its pipeline is then compiled
    asynchronously (``hold(promise)`` gets the JS promise; worker.js awaits it outside the Python queue) and the
    step ends. The step that gets through switches the pad to WebGPU (``pad_gpu``). Draws nothing."""
    from gpuml.playground.digits import DigitsModel as Model

    t0 = time.perf_counter()
    dev = PAGE.device
    if PAGE.pad_gpu or PAGE.cpu is None:
        return json.dumps({"done": True, "ms": 0.0})
    w = PAGE.__dict__.get("pad_warm") or Model(PAGE.nets["default"], name="default", host_ink=False)
    PAGE.pad_warm = w
    pending = _deferred(dev, hold, t0, lambda: _warm_path(w))
    if pending:
        return pending
    PAGE.pad_gpu, PAGE.pad_warm = True, None
    return json.dumps({"done": True, "ms": _ms(t0), "device": dev.name})


def pad_warm_occlusion_step(hold=None):
    """Once the pad runs on WebGPU: compile and tune occlusion's batch of occluded copies in the background, the
    way :func:`pad_warm_step` warms the rest (a step ends at a kernel not compiled yet; ``hold(promise)``). That
    batch is a shape class of its own: on SwiftShader its first use compiled for ~1 s and its second was tuned
    for ~10 s while the user waited. Draws nothing; ``done`` at once where the pad is not on WebGPU."""
    from gpuml.playground.digits import DigitsModel as Model

    t0 = time.perf_counter()
    dev = PAGE.device
    on_gpu = dev is not None and dev.is_gpu and (PAGE.cpu is None or PAGE.pad_gpu)
    if not on_gpu or PAGE.__dict__.get("pad_occlusion_warm"):
        return json.dumps({"done": True, "ms": 0.0})
    w = PAGE.__dict__.get("pad_warm_occ") or Model(PAGE.nets["default"], name="default", host_ink=False)
    PAGE.pad_warm_occ = w

    def occlusions():
        w.press("clear")
        w.sample()
        w.set("explain", "occlusion")
        for _ in range(3):  # compile (first use), count (second), tune (third: gpuml.backends.variants)
            w.predict(host_maps=False)
            dev.sync()

    pending = _deferred(dev, hold, t0, occlusions)
    if pending:
        return pending
    PAGE.pad_occlusion_warm, PAGE.pad_warm_occ = True, None
    return json.dumps({"done": True, "ms": _ms(t0)})


def _deferred(dev, hold, t0, work) -> str | None:
    """Run ``work`` with the device's pipeline compiles deferred: None when it got through, else the step's JSON
    answer ("not done", the kernel it stopped at) after handing the compile's promise to ``hold``."""
    from gpuml.backends.browser import PipelinePending

    dev.defer_compiles = True
    try:
        work()
    except PipelinePending as p:
        dev.flush()
        if hold is not None:
            hold(p.promise)
        return json.dumps({"done": False, "kernel": p.path, "ms": _ms(t0)})
    finally:
        dev.defer_compiles = False
    return None


def _warm_path(w):
    """The stages of the warm-up; a stage that got through is not run again by later steps (each step reruns the
    current stage up to its next uncompiled kernel, so steps stay short)."""
    done = PAGE.__dict__.setdefault("pad_warm_done", set())
    for name, stage in _WARM_STAGES:
        if name not in done:
            stage(w)
            w.device.sync()
            done.add(name)


def _warm_ink(w):
    w.press("clear")
    w.sample()


def _warm_predict(method):
    def stage(w):
        w.set("target", "predicted")
        w.set("explain", method)
        w.predict(host_maps=False)

    return stage


def _warm_maps(w):
    for e in w.layers:  # every layer's map scale (pad_predict's norm)
        c, h, wd = e["shape"]
        maps = w.outputs[e["index"]].reshape(c, h * wd)
        ops.max(ops.abs(maps) if e["signed"] else maps, axis=1)


def _warm_filters(w):
    for f in w.conv_filters():  # _draw_filters
        if f["shape"][1] > 1:
            ops.transpose(f["weight"], (1, 0, 2, 3))
        ops.full((f["shape"][0] * f["shape"][1],), f["limit"], device=w.device)


_WARM_STAGES = (("ink", _warm_ink), ("gradcam", _warm_predict("gradcam")), ("saliency", _warm_predict("saliency")),
                ("maps", _warm_maps), ("filters", _warm_filters))  # fmt: skip
