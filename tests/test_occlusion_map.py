"""The digit explorer's occlusion map (gpuml.playground.digits_explain.occlusion_map) against a brute-force numpy
reference: every 4 x 4 zero patch at stride 2 applied to the input, each copy classified on its own, the class
score's drop averaged per pixel. On the CPU backends blank patches are not classified (their copy is the input):
the map must not change. Small model (pure Python is slow); the shipped LeNet-5 on the numpy backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import gpuml
from gpuml import nn
from gpuml.playground.digits_explain import OCCLUSION_PATCH, OCCLUSION_STRIDE, occlusion_map

SPEC = "conv 3 5 pad2 relu | maxpool 2 | conv 4 5 relu | maxpool 2 | flatten | fc 10"


def _digit() -> np.ndarray:
    """A 28 x 28 "7"-like image: ink on a zero background, like the pad's input (most patches blank)."""
    x = np.zeros((28, 28), np.float32)
    x[6:9, 6:22] = 1.0
    for i in range(14):
        x[9 + i, 19 - i // 2 : 22 - i // 2] = 0.8
    return x


def _reference(net, img: np.ndarray, cls: int) -> np.ndarray:
    def score(a):
        return float(net.forward(gpuml.tensor(a.reshape(1, 1, 28, 28), device=net.device)).numpy()[0, cls])

    s0 = score(img)
    heat, count = np.zeros((28, 28)), np.zeros((28, 28))
    for py in range(0, 28 - OCCLUSION_PATCH + 1, OCCLUSION_STRIDE):
        for px in range(0, 28 - OCCLUSION_PATCH + 1, OCCLUSION_STRIDE):
            occluded = img.copy()
            occluded[py : py + OCCLUSION_PATCH, px : px + OCCLUSION_PATCH] = 0.0
            heat[py : py + OCCLUSION_PATCH, px : px + OCCLUSION_PATCH] += s0 - score(occluded)
            count[py : py + OCCLUSION_PATCH, px : px + OCCLUSION_PATCH] += 1
    return (heat / np.maximum(count, 1)).reshape(-1)


def test_occlusion_map_equals_brute_force(any_device):
    net = nn.from_spec(SPEC, input_shape=(1, 28, 28), device=any_device, seed=3)
    net.eval()
    img = _digit()
    x = gpuml.tensor(img.reshape(1, 1, 28, 28), device=any_device)
    got = np.asarray(occlusion_map(net, x, 7))
    want = _reference(net, img, 7)
    assert np.abs(want).max() > 1e-3  # the patches over the ink do move the score
    np.testing.assert_allclose(got, want, atol=2e-5 * max(1.0, np.abs(want).max()))
    # where every patch covering a pixel was blank, the map is exactly 0 on the CPU backends
    if not any_device.is_gpu:
        far = np.zeros((28, 28), bool)
        far[22:, :4] = True  # bottom-left corner: no ink within a patch
        assert (got.reshape(28, 28)[far] == 0.0).all()


def test_shipped_model_occlusion_on_numpy():
    from gpuml.datasets import mnist
    from gpuml.serialize import load

    dev = gpuml.get_device("cpu")
    net = load(str(Path(gpuml.__file__).parent / "models" / "lenet5_mnist.npz"), device=dev)
    net.eval()
    test = mnist("test")
    img = test.images[int(np.flatnonzero(test.labels == 4)[0]), 0].astype(np.float32)
    got = np.asarray(occlusion_map(net, gpuml.tensor(img.reshape(1, 1, 28, 28), device=dev), 4))
    want = _reference(net, img, 4)
    assert want.max() > 1.0  # a 4's score drops by more than 1 where its strokes are covered
    np.testing.assert_allclose(got, want, atol=1e-4)
