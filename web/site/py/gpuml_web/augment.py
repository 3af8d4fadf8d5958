"""The augmentation gallery: a text-spec pipeline applied to MNIST digits or the colour card."""

import array
import json
import time

import gpuml
from gpuml import ops
from gpuml.playground.augment import AugmentModel, color_card

from .core import PAGE, _draw_image, _ms

__all__ = ["augment_means", "augment_run"]


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
