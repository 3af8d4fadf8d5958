"""Host dtypes gpuml does not compute in are converted by one rule (gpuml.tensor's docstring): exact conversions
silently, lossy ones (float64, int64, uint64) with one DtypeWarning per process per source dtype."""

from __future__ import annotations

import array
import importlib
import warnings

import numpy as np
import pytest

import gpuml
from gpuml.tensor import DtypeWarning

tensor_module = importlib.import_module("gpuml.tensor")  # the module (gpuml.tensor is also the function)


@pytest.fixture
def fresh_warnings(monkeypatch):
    """A process that has warned about nothing yet; every warning recorded."""
    monkeypatch.setattr(tensor_module, "_WARNED", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def dtype_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DtypeWarning)]


EXACT = [
    (np.float16, [0.5, -2.0, 1024.0], "float32"),
    (np.int8, [-128, 0, 127], "int32"),
    (np.int16, [-32768, 5, 32767], "int32"),
    (np.uint8, [0, 7, 255], "uint32"),
    (np.uint16, [0, 9, 65535], "uint32"),
    (np.bool_, [True, False, True], "uint32"),
    (np.float32, [0.1, 2.5, -3.0], "float32"),
    (np.int32, [-(2**31), 0, 2**31 - 1], "int32"),
    (np.uint32, [0, 1, 2**32 - 1], "uint32"),
]


@pytest.mark.parametrize("dtype, values, device_dtype", EXACT, ids=[np.dtype(d[0]).name for d in EXACT])
def test_exact_conversions_are_silent(any_device, fresh_warnings, dtype, values, device_dtype):
    host = np.array(values, dtype)
    t = gpuml.tensor(host, device=any_device)
    assert t.dtype_name == device_dtype
    np.testing.assert_array_equal(t.numpy(), host.astype(device_dtype))
    assert dtype_warnings(fresh_warnings) == []


def test_float64_warns_once_per_process(any_device, fresh_warnings):
    x = np.array([0.1, 1 / 3, 2.0])
    t = gpuml.tensor(x, device=any_device)
    assert t.dtype_name == "float32"
    np.testing.assert_array_equal(t.numpy(), x.astype(np.float32))
    for _ in range(5):  # ops given float64 arrays convert them too: no further warning
        gpuml.ops.relu(x)
        gpuml.tensor(np.float64(2.5), device=any_device)
    messages = dtype_warnings(fresh_warnings)
    assert len(messages) == 1
    assert "float64 data to float32" in messages[0] and "once per process" in messages[0]
    # attributed to the caller, not to gpuml's internals
    assert [w.filename for w in fresh_warnings if issubclass(w.category, DtypeWarning)] == [__file__]


def test_int64_warns_once_and_raises_out_of_range(any_device, fresh_warnings):
    labels = np.array([0, 3, 9])  # int64 on Linux
    t = gpuml.tensor(labels, device=any_device)
    assert t.dtype_name == "int32" and t.numpy().tolist() == [0, 3, 9]
    gpuml.tensor(labels, device=any_device)
    with pytest.raises(ValueError, match=r"values in \[0, 1099511627776\] do not fit int32"):
        gpuml.tensor(np.array([0, 2**40]), device=any_device)
    u = gpuml.tensor(np.array([1, 2**32 - 1], np.uint64), device=any_device)
    assert u.dtype_name == "uint32" and u.numpy().tolist() == [1, 2**32 - 1]
    with pytest.raises(ValueError, match="do not fit uint32"):
        gpuml.tensor(np.array([2**33], np.uint64), device=any_device)
    gpuml.tensor(np.ones(3), device=any_device)
    messages = dtype_warnings(fresh_warnings)
    assert len(messages) == 3  # int64, uint64, float64: one each
    assert "int64 data to int32 (values checked to fit)" in messages[0]
    assert "uint64 data to uint32" in messages[1] and "float64 data to float32" in messages[2]


def test_python_data_and_explicit_dtypes_are_silent(any_device, fresh_warnings):
    # Python floats / ints carry no dtype of their own: float32 / int32, as torch.tensor's default dtype
    assert gpuml.tensor([0.5, 1.5], device=any_device).dtype_name == "float32"
    assert gpuml.tensor([[1, 2], [3, 4]], device=any_device).dtype_name == "int32"
    assert gpuml.tensor(2.5, device=any_device).dtype_name == "float32"
    with pytest.raises(ValueError, match="do not fit int32"):
        gpuml.tensor([1, 2**40], device=any_device)
    # dtype= asks for the conversion
    t = gpuml.tensor(np.array([0.1, 0.2]), dtype="float32", device=any_device)
    np.testing.assert_array_equal(t.numpy(), np.array([0.1, 0.2], np.float32))
    assert gpuml.tensor(np.arange(4), dtype=np.int32, device=any_device).numpy().tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="do not fit int32"):
        gpuml.tensor(np.array([2**40]), dtype="int32", device=any_device)
    # array.array without numpy's help: 'f'/'i' exact
    assert gpuml.tensor(array.array("f", [1.0, 2.0]), device=any_device).dtype_name == "float32"
    assert dtype_warnings(fresh_warnings) == []


def test_array_array_double_warns(any_device, fresh_warnings):
    t = gpuml.tensor(array.array("d", [0.1, 0.2]), device=any_device)
    assert t.dtype_name == "float32"
    gpuml.tensor(array.array("d", [0.3]), device=any_device)
    assert len(dtype_warnings(fresh_warnings)) == 1


def test_the_rule_without_numpy(python_device, fresh_warnings, monkeypatch):
    """Pyodide core has no numpy: array.array and lists follow the same rule."""
    monkeypatch.setattr(tensor_module, "np", None)
    assert gpuml.tensor(array.array("d", [0.1, 0.5]), device=python_device).to_array().tolist()[1] == 0.5
    gpuml.tensor(array.array("d", [0.1]), device=python_device)
    t = gpuml.tensor(array.array("q", [3, -4]), device=python_device)
    assert t.dtype_name == "int32" and t.tolist() == [3, -4]
    with pytest.raises(ValueError, match="do not fit int32"):
        gpuml.tensor(array.array("q", [2**40]), device=python_device)
    assert gpuml.tensor(array.array("B", [1, 255]), device=python_device).dtype_name == "uint32"
    assert gpuml.tensor([[1, 2]], device=python_device).dtype_name == "int32"
    with pytest.raises(ValueError, match="do not fit int32"):
        gpuml.tensor([2**40], device=python_device)
    messages = dtype_warnings(fresh_warnings)
    assert len(messages) == 2 and "float64" in messages[0] and "int64" in messages[1]


def test_unsupported_dtypes_raise(any_device):
    with pytest.raises(TypeError, match="complex128"):
        gpuml.tensor(np.zeros(3, np.complex128), device=any_device)
    with pytest.raises(TypeError, match="<U1"):
        gpuml.tensor(np.array(["a"]), device=any_device)


def test_no_warning_storm_in_a_training_loop(cpu_device, fresh_warnings):
    """A loop that feeds float64 data and int64 labels every step warns twice in all (one per dtype)."""
    from gpuml.nn import Linear, Sequential
    from gpuml.nn.functional import softmax_cross_entropy
    from gpuml.optim import SGD

    rng = np.random.default_rng(0)
    model = Sequential(Linear(4, 3)).build((4,), device=cpu_device)
    opt = SGD(model.parameters(), lr=0.1)
    for _ in range(10):
        x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
        logits = model(x)
        _, _, grad = softmax_cross_entropy(logits, y)
        model.backward(grad)
        opt.step()
    messages = dtype_warnings(fresh_warnings)
    assert len(messages) == 2 and "float64" in messages[0] and "int64" in messages[1]
