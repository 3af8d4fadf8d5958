"""The native demos by name (imported on demand: each pulls in its model and the renderer)."""

from __future__ import annotations

import importlib

DEMOS = {
    "digits": "gpuml.demos.digits:DigitsDemo",
    "kmeans": "gpuml.demos.kmeans:KMeansDemo",
    "augment": "gpuml.demos.augment:AugmentDemo",
    "train": "gpuml.demos.training:TrainDemo",
    "regularization": "gpuml.demos.regularization:RegularizationDemo",
    "optimizers": "gpuml.demos.optimizers:OptimizersDemo",
}


def load_demo(name: str):
    """The Demo class for ``name`` (imported on demand)."""
    if name not in DEMOS:
        raise ValueError(f"unknown demo {name!r}: {', '.join(DEMOS)}")
    module, _, cls = DEMOS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
