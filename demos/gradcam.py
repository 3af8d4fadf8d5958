"""Grad-CAM with the shipped LeNet-5 (trained on MNIST by ``gpuml train``): scikit-learn's 8x8 digits brought to
MNIST's form, classified, and explained by Grad-CAM heat maps (gradcam.png).

    python demos/gradcam.py [--out DIR]    (default: $DEMO_OUT or the temp folder)
"""

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

import gpuml
import gpuml.explain
import gpuml.models
from gpuml.plots import heatmap_overlays
from gpuml.train import image_to_mnist, load_model

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default=os.environ.get("DEMO_OUT", tempfile.gettempdir()), help="folder for the PNG")
out = Path(parser.parse_args().out)

model, meta = load_model(gpuml.models.path())  # eval mode, on the current device
print(f"device: {model.device}")
print(f"shipped model: {meta['spec']}\n  MNIST test accuracy {gpuml.models.info()['test_accuracy']:.4f}")

# MNIST's form: light digit on black, its box scaled to 20x20 and centred by mass in 28x28.
digits = load_digits()
n = 300
x = np.stack([image_to_mnist(Image.fromarray((im * 255 / 16).astype(np.uint8))) for im in digits.images[:n]])
logits = model(x)
probs = gpuml.ops.exp(logits - gpuml.ops.max(logits, axis=1, keepdims=True))
probs = (probs / gpuml.ops.sum(probs, axis=1, keepdims=True)).numpy()
pred, truth = probs.argmax(axis=1), digits.target[:n]
accuracy = float((pred == truth).mean())
print(f"accuracy on {n} of scikit-learn's digits (another dataset, never trained on): {accuracy:.4f}")

shown = list(range(10))  # the digits 0..9
cam = gpuml.explain.grad_cam(model, x[shown])  # (10, 28, 28) in [0, 1], for the predicted class
for i in shown:
    print(f"  digit {truth[i]}: predicted {pred[i]} (p={probs[i, pred[i]]:.3f})")
titles = [f"{pred[i]} (p={probs[i, pred[i]]:.2f})" + ("" if pred[i] == truth[i] else f", is {truth[i]}") for i in shown]
heatmap_overlays(x[shown, 0], cam, out / "gradcam.png", titles=titles, label="Grad-CAM")
print(f"wrote {out / 'gradcam.png'}")

# Grad-CAM should look at the strokes: compare its mean on ink pixels with its mean on the background.
ink = x[shown, 0] > 0.3
on_ink, off_ink = cam[ink].mean(), cam[~ink].mean()
print(f"mean Grad-CAM on ink {on_ink:.3f}, on background {off_ink:.3f}")

assert cam.shape == (10, 28, 28) and cam.min() >= 0 and np.allclose(cam.max(axis=(1, 2)), 1)
assert accuracy > 0.88, accuracy  # measured 0.923
assert on_ink > 1.25 * off_ink, (on_ink, off_ink)  # measured 1.44: LeNet's last conv is coarse (10x10)
print("ok")
