"""Images for digit models: any image file or PIL image brought to MNIST's form, resized to a model's input, and
softmax over logits — shared by ``gpuml predict``/``explain``, the reports and the examples."""

from __future__ import annotations

import os

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def image_to_mnist(image) -> np.ndarray:
    """Any image (path or PIL) -> a (1, 28, 28) float32 array the way MNIST digits look: grayscale, light digit
    on black (inverted when the background is light), then the digit pad's preprocessing
    (:func:`gpuml.playground.mnist.ink_to_mnist`: the digit's box scaled to 20x20 and centred by mass), so files and
    drawn digits reach the model alike. Large images are first reduced to at most 112 px a side (the pad's size)."""
    from PIL import Image

    from .playground.mnist import ink_to_mnist

    img = Image.open(image) if isinstance(image, str | os.PathLike) else image
    img = img.convert("L")
    if max(img.size) > 112:
        scale = 112 / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BOX)
    a = np.asarray(img, np.float32) / 255.0
    if np.median(a) > 0.5:  # dark ink on light paper
        a = 1.0 - a
    side = max(a.shape)
    square = np.zeros((side, side), np.float32)  # ink_to_mnist takes a square pad
    square[: a.shape[0], : a.shape[1]] = a
    flat = ink_to_mnist(square.ravel().tolist(), side)
    return np.zeros((1, 28, 28), np.float32) if flat is None else np.asarray(flat, np.float32).reshape(1, 28, 28)


def image_for_model(image, input_shape) -> np.ndarray:
    """An image file (or PIL image) as a (C, H, W) input for a model trained on MNIST-like digits:
    :func:`image_to_mnist`, then resized to the model's input size when that is not 28x28."""
    from PIL import Image

    x = image_to_mnist(image)
    shape = tuple(input_shape)
    if x.shape != shape:
        small = Image.fromarray((x[0] * 255).astype(np.uint8)).resize((shape[2], shape[1]), Image.BILINEAR)
        x = (np.asarray(small, np.float32) / 255.0)[None]
    return x
