"""Training data for the live-training demos: MNIST when it is cached locally (or ``fetch=True``), else
scikit-learn's 8x8 digits upscaled to 28x28 so LeNet-5 still fits (no download needed)."""

from __future__ import annotations

import numpy as np

from ..datasets import Dataset, data_dir, mnist


def _upscaled_digits() -> tuple[Dataset, Dataset]:
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    out = np.zeros((len(d.images), 1, 28, 28), np.float32)
    for i, im in enumerate(d.images):
        small = Image.fromarray((im / 16.0 * 255).astype(np.uint8)).resize((20, 20), Image.BILINEAR)
        out[i, 0, 4:24, 4:24] = np.asarray(small, np.float32) / 255
    labels = d.target.astype(np.int32)
    cut = int(len(out) * 0.75)
    return Dataset(out[:cut], labels[:cut], "digits28-train"), Dataset(out[cut:], labels[cut:], "digits28-test")


def training_data(fetch: bool = False) -> tuple[Dataset, Dataset, str]:
    """(train, test, description)."""
    if fetch or (data_dir() / "mnist").exists():
        try:
            return mnist("train"), mnist("test"), "MNIST"
        except Exception:
            pass
    train, test = _upscaled_digits()
    return train, test, "scikit-learn digits upscaled to 28x28 (MNIST not cached)"
