"""The augmentation demo: one image (an MNIST test digit or the colour card) and 9 variants through a pipeline
given as a text spec or built step by step; the set downloads as a zip (PNGs + labels.csv, built here without
numpy)."""

import array
import base64
import json
import time

import gpuml
from gpuml import ops
from gpuml.playground.augment import AugmentModel, color_card
from gpuml.playground.augment_steps import catalog

from .core import PAGE, _draw_image, _ms

__all__ = ["augment_catalog", "augment_edit", "augment_means", "augment_run", "augment_zip"]

VARIANTS = 9


def _model(source, index, digits_blob):
    key = (source, index)
    if key not in PAGE.augment:
        if source == "digits":
            raw = digits_blob.to_bytes()[index * 784 : (index + 1) * 784]
            vals, shape = array.array("f", [v / 255.0 for v in raw]), (1, 28, 28)
        else:
            vals, shape = array.array("f", color_card()), (3, 48, 48)
        batch = gpuml.tensor(vals * VARIANTS, device=PAGE.device).reshape(VARIANTS, *shape)
        model = AugmentModel(batch, source=source)
        model.original = gpuml.tensor(vals, device=PAGE.device).reshape(1, *shape)
        model.index = index
        PAGE.augment[key] = model
    return PAGE.augment[key]


def _show(model, t0):
    """Run the pipeline, draw the original (left) and the 9 variants (a 3 x 3 grid), describe the result."""
    model.step()
    PAGE.augment_last = model
    y, x = model.variants, model.original
    PAGE.device.flush()
    _, c, h, w = x.shape
    mode = 1 if c == 3 else 0
    _draw_image("gallery", x, PAGE.ones, n=1, c=c, h=h, w=w, mode=mode, box=[8, 110, 160, 160], present=False)
    _, c, h, w = y.shape
    _draw_image(
        "gallery",
        y,
        PAGE.ones,
        n=VARIANTS,
        c=c,
        h=h,
        w=w,
        cols=3,
        mode=mode,
        gap=6,
        box=[184, 4, 372, 372],
        clear=False,
    )
    return json.dumps(
        {
            "ms": _ms(t0),
            "shape": list(y.shape),
            "original": list(x.shape),
            "spec": model.spec(),
            "steps": model.steps,
            "seed": model.values["seed"],
            "params": model.params[:2],
        }
    )


def augment_catalog():
    """The builder's transforms, their parameters' ranges and units, for the "add transform" select."""
    return json.dumps(catalog())


def augment_run(spec, seed, source, digits_blob=None, index=0):
    """Run the text spec ``spec`` on image ``index`` of ``source`` (its builder steps follow the spec)."""
    t0 = time.perf_counter()
    model = _model(source, int(index), digits_blob)
    model.set("seed", int(seed))
    model.use_spec(spec)
    return _show(model, t0)


def augment_edit(op, index=0, arg=0, key=-1):
    """A builder edit on the gallery on show: add / remove / up / down / set (see augment_steps.edit)."""
    t0 = time.perf_counter()
    model = PAGE.augment_last
    model.edit_steps(op, int(index), arg, None if int(key) < 0 else int(key))
    return _show(model, t0)


def augment_zip():
    """The shown set as a zip (original + 9 variants as PNGs, labels.csv), base64 in JSON for the worker."""
    m = PAGE.augment_last
    stem = f"digit{m.index}" if m.source == "digits" else "card"
    label = "MNIST test digit" if m.source == "digits" else "RGB test card"
    data = m.export(label=label, stem=stem)
    name = f"gpuml-augment-{stem}-seed{m.values['seed']}.zip"
    return json.dumps({"name": name, "b64": base64.b64encode(data).decode("ascii"), "bytes": len(data)})


def augment_means():
    """Per-image means of the last gallery, read back (the tests compare them with native gpuml's)."""
    y = PAGE.augment_last.variants
    return json.dumps(ops.mean(y.reshape(y.shape[0], -1), axis=1).tolist())
