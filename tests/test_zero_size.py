"""Zero-size and edge shapes (issue #19): empty tensors upload, read back and compute as numpy does, on every
backend (native, cpu, python)."""

from __future__ import annotations

import numpy as np
import pytest

import gpuml
from gpuml import ops


def _t(shape, device, fill=1.0):
    return gpuml.tensor(np.full(shape, fill, np.float32), device=device)


def _dirty_pool(device):
    """Leave pooled buffers full of 7s, so a result that is never written (a sum over nothing) shows up."""
    for n in (4, 12, 72, 1024):
        gpuml.tensor(np.full(n, 7.0, np.float32), device=device).free()


def _same(got, want):
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 4)])
def test_upload_and_read_back(any_device, shape):
    t = gpuml.tensor(np.zeros(shape, np.float32), device=any_device)
    assert t.shape == shape and t.size == 0
    assert t.numpy().shape == shape
    assert t.tolist() == np.zeros(shape).tolist()
    assert t.to_bytes() == b""
    for dtype in ("int32", "uint32"):
        assert gpuml.tensor(np.zeros(shape), dtype=dtype, device=any_device).numpy().dtype == dtype
    assert gpuml.tensor([], device=any_device).shape == (0,)
    e = gpuml.Tensor.empty(shape, device=any_device)
    assert e.numpy().shape == shape
    assert e.assign(np.zeros(shape)) is e


def test_elementwise(any_device):
    a, b = _t((0, 3), any_device, 2.0), _t((0, 3), any_device, 3.0)
    want = np.zeros((0, 3), np.float32)
    for got in (ops.add(a, b), ops.sub(a, b), ops.mul(a, b), ops.div(a, b), ops.maximum(a, b), ops.mul(a, 2.0)):
        _same(got.numpy(), want)
    for fn in (ops.relu, ops.neg, ops.exp, ops.abs, ops.sqrt, ops.sigmoid, ops.tanh):
        _same(fn(a).numpy(), want)
    _same(ops.add(a, _t((3,), any_device)).numpy(), want)  # broadcast of an empty operand
    _same(ops.add(_t((2, 0), any_device), _t((2, 1), any_device)).numpy(), np.zeros((2, 0)))


def test_reductions(any_device):
    x = _t((0,), any_device)
    _dirty_pool(any_device)
    assert float(ops.sum(x).numpy()) == 0.0  # numpy: sum of empty is 0
    _same(ops.sum(_t((0, 3), any_device), axis=0).numpy(), np.zeros(3))
    _same(ops.sum(_t((3, 0), any_device), axis=1).numpy(), np.zeros(3))
    _same(ops.sum(_t((0, 3), any_device), axis=1).numpy(), np.zeros(0))
    _same(ops.max(_t((0, 3), any_device), axis=1).numpy(), np.zeros(0))  # nothing to reduce per row: empty
    for fn in (ops.max, ops.min, ops.argmax):  # numpy raises on an empty reduction without identity
        with pytest.raises(ValueError, match="empty"):
            fn(x).numpy()
    with pytest.raises(ValueError, match="empty"):
        ops.max(_t((0, 3), any_device), axis=0)


@pytest.mark.parametrize(("m", "k", "n"), [(3, 0, 4), (0, 5, 4), (3, 5, 0), (0, 0, 0)])
def test_matmul(any_device, m, k, n):
    a = np.arange(m * k, dtype=np.float32).reshape(m, k)
    b = np.arange(k * n, dtype=np.float32).reshape(k, n)
    _dirty_pool(any_device)
    _same(ops.matmul(gpuml.tensor(a, device=any_device), gpuml.tensor(b, device=any_device)).numpy(), a @ b)


def test_transpose_and_copies(any_device):
    x = _t((0, 3), any_device)
    _same(ops.transpose(x).numpy(), np.zeros((3, 0)))
    _same(ops.copy(x).numpy(), np.zeros((0, 3)))
    _same(x.reshape(3, 0).numpy(), np.zeros((3, 0)))
    _same(gpuml.tensor(x, device=any_device).numpy(), np.zeros((0, 3)))
    _same(ops.zeros((0, 2), device=any_device).numpy(), np.zeros((0, 2)))


def test_conv2d_and_pooling(any_device):
    rng = np.random.default_rng(0)
    w = gpuml.tensor(rng.standard_normal((4, 2, 3, 3), dtype=np.float32), device=any_device)
    x0 = gpuml.tensor(np.zeros((0, 2, 6, 6), np.float32), device=any_device)
    _same(ops.conv2d(x0, w, padding=1).numpy(), np.zeros((0, 4, 6, 6)))  # N = 0
    x = gpuml.tensor(rng.standard_normal((2, 2, 6, 6), dtype=np.float32), device=any_device)
    w0 = gpuml.tensor(np.zeros((0, 2, 3, 3), np.float32), device=any_device)
    _same(ops.conv2d(x, w0).numpy(), np.zeros((2, 0, 4, 4)))  # OC = 0
    _same(ops.max_pool2d(x0, 2).numpy(), np.zeros((0, 2, 3, 3)))
    _same(ops.avg_pool2d(x0, 2).numpy(), np.zeros((0, 2, 3, 3)))


def test_nn_forward_with_batch_zero(any_device):
    nn = gpuml.nn
    model = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2)).build((5,), any_device, seed=0)
    out = model(gpuml.tensor(np.zeros((0, 5), np.float32), device=any_device))
    _same(out.numpy(), np.zeros((0, 2)))


def test_kmeans_predict_on_zero_rows(any_device):
    """KMeans follows scikit-learn (its conformance tests check the wording): no rows is a clear ValueError naming
    the shape, on every backend, never a crash inside a kernel."""
    rng = np.random.default_rng(1)
    data = rng.standard_normal((40, 3)).astype(np.float32)
    km = gpuml.cluster.KMeans(3, random_state=0, device=any_device).fit(data)
    with pytest.raises(ValueError, match=r"0 sample\(s\) \(shape=\(0, 3\)\)"):
        km.predict(np.zeros((0, 3), np.float32))
    assert km.predict(data[:1]).shape == (1,)  # one row works


def test_cnn_forward_and_conv_backward_with_batch_zero(any_device):
    nn = gpuml.nn
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(None, 4))
    model.build((2, 6, 6), any_device, seed=0)
    x0 = gpuml.tensor(np.zeros((0, 2, 6, 6), np.float32), device=any_device)
    _same(model(x0).numpy(), np.zeros((0, 4)))
    w = gpuml.tensor(np.ones((4, 2, 3, 3), np.float32), device=any_device)
    _dirty_pool(any_device)
    gx, gw, gb = ops.conv2d_backward(x0, w, gpuml.tensor(np.zeros((0, 4, 6, 6), np.float32), device=any_device), 1, 1)
    _same(gx.numpy(), np.zeros((0, 2, 6, 6)))
    _same(gw.numpy(), np.zeros((4, 2, 3, 3)))  # a sum over no images: zero, as numpy
    _same(gb.numpy(), np.zeros(4))


@pytest.mark.parametrize("algo", ["direct", "im2col", "winograd2", "winograd4"])
def test_conv2d_every_algo_with_batch_zero(any_device, algo):
    x0 = gpuml.tensor(np.zeros((0, 2, 6, 6), np.float32), device=any_device)
    w = gpuml.tensor(np.ones((4, 2, 3, 3), np.float32), device=any_device)
    _same(ops.conv2d(x0, w, padding=1, algo=algo).numpy(), np.zeros((0, 4, 6, 6)))


def test_mean_of_empty_is_nan_with_a_warning(any_device):
    """numpy: the mean of nothing is NaN with a RuntimeWarning ("Mean of empty slice"); the sum is 0."""
    x = gpuml.tensor(np.zeros((3, 0), np.float32), device=any_device)
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        got = gpuml.ops.mean(x, axis=1).numpy()
    assert got.shape == (3,) and np.isnan(got).all()
    with pytest.warns(RuntimeWarning):
        assert np.isnan(gpuml.ops.mean(x).numpy())
    assert gpuml.ops.sum(x, axis=1).numpy().tolist() == [0.0, 0.0, 0.0]
