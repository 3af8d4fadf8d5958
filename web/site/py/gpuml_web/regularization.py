"""Regularization side by side: none vs L1 vs L2 vs decoupled weight decay on a small MNIST subset with a quarter
of its labels wrong (gpuml.playground.regularization), trained in slices from the worker's loop; the main thread
draws the curves and histograms (Canvas 2D) from the view returned here."""

import json
import time

from gpuml.playground.regularization import RegularizationModel

from .core import PAGE, _ms

__all__ = ["reg_restart", "reg_set", "reg_setup", "reg_steps", "reg_view"]


def reg_setup(train_images, train_labels, test_images, test_labels, values_json="{}"):
    """The model on the site's MNIST subsets (raw uint8 images and labels); ``values_json``: control values."""
    t0 = time.perf_counter()
    values = json.loads(values_json)
    train = (train_images.to_bytes(), list(train_labels.to_bytes()))
    test = (test_images.to_bytes(), list(test_labels.to_bytes()))
    PAGE.regularization = RegularizationModel(train, test, data_name="MNIST", device=PAGE.device, **values)
    out = PAGE.regularization.view()
    out["ms"] = _ms(t0)
    return json.dumps(out)


def reg_steps(count=1):
    """Up to ``count`` batches (each: one for every run); the view (curves, histograms) after them."""
    model = PAGE.regularization
    t0 = time.perf_counter()
    for _ in range(int(count)):
        if model.done:
            break
        model.train_batch()
    out = model.view()
    out["ms"] = _ms(t0)
    out["batch"] = model.batch_index
    return json.dumps(out)


def reg_set(name, value):
    """Set a control (a strength applies from the next step); ValueError in words for a bad value."""
    model = getattr(PAGE, "regularization", None)
    if model is None:  # not set up yet: validate only (Start takes the sliders' values)
        for c in RegularizationModel.controls:
            if c.name == name:
                return json.dumps({"name": name, "value": c.validate(value)})
        raise ValueError(f"regularization has no control {name!r}")
    model.set(str(name), value)
    return json.dumps(model.view())


def reg_restart():
    PAGE.regularization.press("restart")
    return json.dumps(PAGE.regularization.view())


def reg_view():
    return json.dumps(PAGE.regularization.view())
