"""Interactive demos in native windows (rendercanvas + glfw), drawn with WebGPU render pipelines on the same
device that computes. ``gpuml demo NAME`` opens one; ``--offscreen --frames N --screenshot out.png`` renders
without a window and saves a PNG.

    digits          draw a digit: live class probabilities, first-layer activations, Grad-CAM
    kmeans          k-means step by step on 2-D datasets, Voronoi cells, elbow and silhouette panels
    augment         an image and 9 augmented variants; toggle transforms and their strengths
    train           LeNet-5 training live: loss/accuracy curves, first-layer filters
    regularization  none vs L1 vs L2 side by side: curves and weight histograms, lambda on a log scale
    optimizers      SGD, momentum, Nesterov, Adam, AdamW, RMSprop racing on 2-D loss surfaces
"""

from __future__ import annotations

from .registry import DEMOS, load_demo

__all__ = ["DEMOS", "load_demo", "run_demo"]


def run_demo(name: str, **kwargs) -> dict:
    """Open demo ``name`` in a window (or offscreen); see :func:`gpuml.demos.app.run_demo`."""
    from .app import run_demo as _run

    return _run(name, **kwargs)
