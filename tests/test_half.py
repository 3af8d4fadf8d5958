"""float16 inference (Sequential.half()): each f16 op against float64, the shipped model's MNIST accuracy,
and the error on an adapter without shader-f16."""

from __future__ import annotations

import numpy as np
import pytest

import gpuml
from gpuml import ops
from gpuml.nn import lenet5
from gpuml.testing import assert_close


@pytest.fixture
def f16_device(native_device):
    if "shader-f16" not in native_device.features:
        pytest.skip(f"{native_device.adapter} lacks shader-f16")
    return native_device


def h(arr, device):
    """Upload as float16; the float64 reference sees the same rounded values."""
    a16 = np.asarray(arr, np.float32).astype(np.float16)
    return gpuml.tensor(a16, dtype="float16", device=device), a16.astype(np.float64)


def test_float16_tensor_roundtrip(f16_device):
    x = np.random.default_rng(0).standard_normal(37).astype(np.float16)
    t = gpuml.tensor(x, dtype="float16", device=f16_device)
    assert t.dtype_name == "float16" and t.nbytes == 74
    out = t.numpy()
    assert out.dtype == np.float16 and np.array_equal(out, x)


def test_half_unary_and_bias_add(f16_device):
    rng = np.random.default_rng(1)
    x, x64 = h(rng.standard_normal((5, 37)) * 3, f16_device)
    b, b64 = h(rng.standard_normal(37), f16_device)
    assert_close(ops.relu(x).numpy(), np.maximum(x64, 0), "half", "relu")
    assert_close(ops.tanh(x).numpy(), np.tanh(x64), "half", "tanh")
    y = ops.add(x, b)
    assert y.dtype_name == "float16"
    assert_close(y.numpy(), x64 + b64, "half", "add")


@pytest.mark.parametrize("kernel", ["subgroup", "register", "tiled"])
def test_half_matmul(f16_device, kernel):
    if kernel == "subgroup" and "subgroup" not in f16_device.features:
        pytest.skip("no subgroups")
    rng = np.random.default_rng(2)
    a, a64 = h(rng.standard_normal((33, 401)), f16_device)
    b, b64 = h(rng.standard_normal((401, 83)), f16_device)
    c = ops.matmul(a, b, kernel=kernel)
    assert c.dtype_name == "float16"
    assert_close(c.numpy(), a64 @ b64, "half", f"matmul {kernel}")


def test_half_conv2d(f16_device):
    from gpuml.ops.conv import conv_geometry, last_conv_algo

    rng = np.random.default_rng(3)
    x, x64 = h(rng.random((3, 6, 14, 14)), f16_device)
    w, w64 = h(rng.standard_normal((16, 6, 5, 5)) * 0.2, f16_device)
    b, b64 = h(rng.standard_normal(16), f16_device)
    y = ops.conv2d(x, w, b)
    assert y.dtype_name == "float16" and last_conv_algo(f16_device) == "implicit"
    g = conv_geometry(x.shape, w.shape)
    ref = np.einsum("nchwij,ocij->nohw", np.lib.stride_tricks.sliding_window_view(x64, (5, 5), axis=(2, 3)), w64)
    assert g.out_shape == ref.shape
    assert_close(y.numpy(), ref + b64[None, :, None, None], "half", "conv2d")
    # padding, as LeNet's first layer
    x1, x164 = h(rng.random((2, 1, 28, 28)), f16_device)
    w1, w164 = h(rng.standard_normal((6, 1, 5, 5)) * 0.2, f16_device)
    y1 = ops.conv2d(x1, w1, None, padding=2)
    xp = np.pad(x164, ((0, 0), (0, 0), (2, 2), (2, 2)))
    ref1 = np.einsum("nchwij,ocij->nohw", np.lib.stride_tricks.sliding_window_view(xp, (5, 5), axis=(2, 3)), w164)
    assert_close(y1.numpy(), ref1, "half", "conv2d pad")


def test_half_pools(f16_device):
    rng = np.random.default_rng(4)
    x, x64 = h(rng.standard_normal((2, 3, 10, 10)), f16_device)
    win = x64.reshape(2, 3, 5, 2, 5, 2)
    y = ops.max_pool2d(x, 2)
    assert y.dtype_name == "float16"
    assert_close(y.numpy(), win.max(axis=(3, 5)), "half", "max_pool2d")
    assert_close(ops.avg_pool2d(x, 2).numpy(), win.mean(axis=(3, 5)), "half", "avg_pool2d")
    # not tiling (stride 1): the generic max-pool kernel
    y3 = ops.max_pool2d(x, 3, 1)
    ref3 = np.lib.stride_tricks.sliding_window_view(x64, (3, 3), axis=(2, 3)).max(axis=(4, 5))
    assert_close(y3.numpy(), ref3, "half", "max_pool2d stride 1")


def test_half_classic_lenet_matches_f32(f16_device):
    model = lenet5("classic", device=f16_device).eval()
    x = np.random.default_rng(5).random((7, 1, 28, 28)).astype(np.float32)
    ref = model(x).numpy().astype(np.float64)
    out = model.half()(x).numpy()
    assert out.dtype == np.float16
    assert_close(out, ref, "half", "classic LeNet-5 logits")


def test_half_shipped_model_mnist_accuracy(f16_device):
    from gpuml import datasets, models
    from gpuml.train import load_model

    model, _ = load_model(models.path(), f16_device)
    model.eval()
    half = model.half()
    test = datasets.mnist("test")
    n = len(test.labels)
    pred32 = np.concatenate([np.argmax(model(test.images[i : i + 1000]).numpy(), 1) for i in range(0, n, 1000)])
    pred16 = np.concatenate([half.predict(test.images[i : i + 1000]) for i in range(0, n, 1000)])
    acc32, acc16 = float(np.mean(pred32 == test.labels)), float(np.mean(pred16 == test.labels))
    assert n == 10_000
    assert abs(acc16 - acc32) <= 0.001, (acc32, acc16)


def test_half_without_shader_f16_raises(native_device, monkeypatch):
    model = lenet5(device=native_device)
    monkeypatch.setattr(native_device, "features", native_device.features - {"shader-f16"})
    with pytest.raises(RuntimeError, match="shader-f16"):
        model.half()
    with pytest.raises(RuntimeError, match="shader-f16"):
        gpuml.tensor([1.0, 2.0], dtype="float16", device=native_device)
    # the float32 path keeps working
    assert model(np.zeros((2, 1, 28, 28), np.float32)).numpy().shape == (2, 10)
