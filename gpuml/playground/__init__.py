"""Demo models: each demo's state, ``step()``, controls (name, kind, range, default; a bad value raises a one-line
ValueError) and what to draw as plain data, with no drawing or windowing code. The native windows
(``gpuml.demos``) and the web page (web/site/py/gpuml_web) are thin front ends over these models.

    digits          DigitsModel: a pad of ink, MNIST preprocessing, LeNet-5 probabilities, Grad-CAM, activations
    kmeans          KMeansModel: k-means++ then Lloyd iterations step by step, elbow and silhouette panels
    augment         AugmentModel: a batch through a gpuml.augment pipeline built from switches and strengths
    train           TrainModel: LeNet-5 training live
    regularization  RegularizationModel: none vs L1 vs L2 vs decoupled weight decay
    optimizers      OptimizersModel: SGD, momentum, Nesterov, Adam, AdamW, RMSprop on 2-D surfaces
"""

from __future__ import annotations

import importlib

from .controls import Control, DemoModel

MODELS = {
    "digits": "gpuml.playground.digits:DigitsModel",
    "kmeans": "gpuml.playground.kmeans:KMeansModel",
    "augment": "gpuml.playground.augment:AugmentModel",
    "train": "gpuml.playground.training:TrainModel",
    "regularization": "gpuml.playground.regularization:RegularizationModel",
    "optimizers": "gpuml.playground.optimizers:OptimizersModel",
}

__all__ = ["MODELS", "Control", "DemoModel", "model_class"]


def model_class(name: str):
    """The model class of demo ``name`` (imported on demand: some need numpy or scikit-learn)."""
    if name not in MODELS:
        raise ValueError(f"unknown demo {name!r}: {', '.join(MODELS)}")
    module, _, cls = MODELS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
