"""Every op against a float64 numpy reference, on the native (lavapipe) and cpu backends."""

from __future__ import annotations

import numpy as np
import pytest
from cases import make_cases

import gpuml
from gpuml.testing import assert_close

CASES = make_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_float64_reference(any_device, case):
    device = any_device
    inputs = [gpuml.tensor(a, device=device) if isinstance(a, np.ndarray) else a for a in case.args]
    out = case.function()(*inputs, **case.kwargs)
    assert isinstance(out, gpuml.Tensor)
    assert out.device is device  # results stay on the device
    expected = case.expected()
    got = out.numpy()
    if case.tol == "exact" and expected.dtype.kind in "iu":
        assert got.dtype == np.int32
    else:
        assert got.dtype == np.float32
    assert_close(got, expected, case.tol, case.id)


def test_numpy_inputs_are_uploaded(any_device):
    device = any_device
    x = np.arange(10, dtype=np.float64) - 5  # float64 in, computed in float32
    out = gpuml.ops.relu(x)
    assert out.device is device and out.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(out), np.maximum(x, 0).astype(np.float32))


def test_operators(any_device):
    a = gpuml.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    b = np.ones(3, np.float32)
    np.testing.assert_allclose(((a + b) * 2 - 1).numpy(), (np.arange(6).reshape(2, 3) + 1) * 2 - 1)
    np.testing.assert_allclose((1 / (a + 1)).numpy(), 1 / (np.arange(6).reshape(2, 3) + 1), rtol=1e-6)
    np.testing.assert_allclose((-a).numpy(), -np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(a.T.numpy(), np.arange(6).reshape(2, 3).T)


def test_fill_and_views(any_device):
    z = gpuml.ops.full((3, 5), 2.5)
    assert z.numpy().tolist() == [[2.5] * 5] * 3
    assert gpuml.ops.zeros((7,), "int32").numpy().tolist() == [0] * 7
    r = z.reshape(5, -1)
    assert r.shape == (5, 3) and r.numpy().sum() == 37.5
    assert gpuml.ops.ones(4).tolist() == [1.0] * 4


def test_nan_and_inf_follow_numpy(any_device):
    """The examples of issue 19 on every backend: relu(NaN) is NaN, max/min are NaN wherever the NaN sits, argmax
    and argmin give the first NaN, Inf - Inf is NaN, log(0) = -Inf, log(-1) = sqrt(-1) = NaN."""
    nan, inf = np.nan, np.inf
    for values in ([1, nan, 3], [nan, 1, 3], [1, 3, nan]):
        x = np.array(values, np.float32)
        assert np.isnan(gpuml.ops.max(x).item()) and np.isnan(gpuml.ops.min(x).item())
        assert gpuml.ops.argmax(x).item() == gpuml.ops.argmin(x).item() == int(np.argmax(np.isnan(x)))
    two = np.array([2, nan, 5, nan], np.float32)
    assert gpuml.ops.argmax(two).item() == 1 and gpuml.ops.argmin(two).item() == 1
    got = gpuml.ops.relu(np.array([nan, -1, 2, -inf, inf], np.float32)).numpy()
    np.testing.assert_array_equal(got, [nan, 0, 2, 0, inf])
    got = gpuml.ops.maximum(np.array([nan, 0, 1], np.float32), np.array([0, nan, -inf], np.float32)).numpy()
    np.testing.assert_array_equal(got, [nan, nan, 1])
    np.testing.assert_array_equal(gpuml.ops.clip(np.array([nan, 5], np.float32), 0, 1).numpy(), [nan, 1])
    assert np.isnan(gpuml.ops.sum(np.array([inf, 1, -inf], np.float32)).item())
    assert gpuml.ops.mean(np.array([inf, 1, 2], np.float32)).item() == inf
    np.testing.assert_array_equal(gpuml.ops.log(np.array([0, -1, inf, 1], np.float32)).numpy(), [-inf, nan, inf, 0])
    np.testing.assert_array_equal(gpuml.ops.sqrt(np.array([-1, inf, 4], np.float32)).numpy(), [nan, inf, 2])
    np.testing.assert_array_equal(gpuml.ops.exp(np.array([nan, -inf, inf], np.float32)).numpy(), [nan, 0, inf])
    np.testing.assert_array_equal(gpuml.ops.tanh(np.array([nan, -inf, inf], np.float32)).numpy(), [nan, -1, 1])
    np.testing.assert_array_equal(gpuml.ops.sigmoid(np.array([nan, -inf, inf], np.float32)).numpy(), [nan, 0, 1])
