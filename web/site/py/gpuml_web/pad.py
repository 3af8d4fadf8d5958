"""The digit pad (CNN explorer): ink from pen segments, prediction, Grad-CAM and activation maps."""

import json
import time

from gpuml import ops
from gpuml.playground.digits import INK, DigitsModel

from .core import PAGE, _draw_image, _ms

__all__ = ["pad_clear", "pad_predict", "pad_stroke", "predict_pixels"]


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
