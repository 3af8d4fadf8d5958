"""Hostile checks of the two-halves batches on the numpy backend (gpuml/nn/data_parallel.py): ways of using models
that the feature's own tests do not, each compared with the same model run here (helper vs here: the same bits) or
with whole batches (GPUML_CPU_HALVES=0: float32 rounding)."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest

import gpuml
from gpuml import nn
from gpuml.impl.cpu import threads
from gpuml.nn import data_parallel as dp

pytestmark = pytest.mark.skipif(os.name != "posix", reason="no helper processes on this platform")


@pytest.fixture
def halves(monkeypatch):
    """Two threads, halves on; returns a function that picks where the second halves run."""
    monkeypatch.setenv("GPUML_CPU_THREADS", "2")
    monkeypatch.setenv("GPUML_CPU_HALVES", "1")

    def where(mode):
        monkeypatch.setenv("GPUML_CPU_HALVES", "0" if mode == "whole" else "1")
        monkeypatch.setattr(threads, "cpu_to_spare", lambda: mode == "helper")
        if mode == "helper":
            _helper_up()

    return where


def _helper_up(timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        h = dp._helper()
        if h is not None:
            return h
        time.sleep(0.05)
    raise AssertionError("the helper process did not come up")


def _where(model):
    split = model.__dict__.get("_split")
    return None if split is None else split.pending.where


def _mlp(device, seed):
    """A Linear first layer on (N, features) inputs: Linear keeps its input for the backward."""
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5)).build((20,), device=device, seed=seed)


@pytest.mark.xfail(
    strict=True,
    reason="the helper's forward wraps its input as a view of the shared file and Linear keeps it for backward; "
    "another model's forward in the helper overwrites it before the first model's backward",
)
def test_two_models_interleaved(cpu_device, halves):
    """forward A, forward B, backward A, backward B (a GAN, a teacher and a student): A's weight gradients in the
    helper equal those computed here."""
    rng = np.random.default_rng(0)
    xa, xb = (gpuml.tensor(rng.standard_normal((64, 20)).astype(np.float32), device=cpu_device) for _ in "ab")
    g = gpuml.tensor(rng.standard_normal((64, 5)).astype(np.float32), device=cpu_device)
    out = {}
    for mode in ("helper", "here"):
        halves(mode)
        a, b = _mlp(cpu_device, 1), _mlp(cpu_device, 2)
        a(xa), b(xb)
        assert _where(a) == _where(b) == mode
        a.backward(g)
        grad_a = a.store.grad.host().copy()
        b.backward(g)
        out[mode] = grad_a, b.store.grad.host().copy()
    assert np.array_equal(out["helper"][1], out["here"][1])  # B (the last forward) is right
    assert np.array_equal(out["helper"][0], out["here"][0])  # A: 3.0 off (of 12) on 2026-12-07


@pytest.mark.xfail(
    strict=True,
    reason="a KeyboardInterrupt while this process waits for the helper's answer (_Job.result) leaves that answer "
    "in the pipe: every later command reads the one before's answer (wrong gradients)",
)
def test_ctrl_c_while_waiting_for_the_helper(cpu_device, halves, monkeypatch):
    halves("helper")
    monkeypatch.setattr(dp, "_HELPERS", [])  # this test's own helper (it may be left one answer behind)
    _helper_up()
    model = nn.lenet5(device=cpu_device, seed=0)
    rng = np.random.default_rng(0)
    x, x2 = (gpuml.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32), device=cpu_device) for _ in "ab")
    g = gpuml.tensor(rng.standard_normal((64, 10)).astype(np.float32), device=cpu_device)
    spin = dp.spin

    def ctrl_c(ready, seconds):  # Ctrl-C lands while the helper's half still runs
        monkeypatch.setattr(dp, "spin", spin)
        raise KeyboardInterrupt

    monkeypatch.setattr(dp, "spin", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        model(x)
    y = model(x2).numpy()
    model.backward(g)
    grad = model.store.grad.host().copy()
    halves("here")
    assert np.array_equal(y, model(x2).numpy())
    model.backward(g)
    assert np.array_equal(grad, model.store.grad.host())  # 8.6 off on 2026-12-07


@pytest.mark.xfail(
    strict=True,
    reason="Halves is keyed on the layers' ids only: after model.build() again (new store, new weights) the "
    "replica that runs the second half here keeps the old store's parameters",
)
def test_rebuilt_model(cpu_device, halves):
    """model.build() on a model already used (re-initialising it, Trainer's move_model): the halves run here use the
    new weights, as the helper's and the whole batch's do."""
    rng = np.random.default_rng(0)
    x = gpuml.tensor(rng.standard_normal((64, 20)).astype(np.float32), device=cpu_device)
    g = gpuml.tensor(rng.standard_normal((64, 5)).astype(np.float32), device=cpu_device)
    out = {}
    for mode in ("helper", "here"):
        halves(mode)
        model = _mlp(cpu_device, 1)
        model(x), model.backward(g)
        model.build((20,), device=cpu_device, seed=7)
        y = model(x).numpy()
        model.backward(g)
        assert _where(model) == mode
        out[mode] = y, model.store.grad.host().copy()
    assert np.array_equal(out["helper"][1], out["here"][1])
    assert np.array_equal(out["helper"][0], out["here"][0])  # 1.16 off on 2026-12-07


@pytest.mark.xfail(
    strict=True,
    reason="the replica (copy.copy at first use) and the helper's copy (rebuilt only when algo/input_grad/training/"
    "guided change) keep a layer's constructor settings from the first use",
)
def test_layer_setting_changed_after_use(cpu_device, halves):
    model = nn.Sequential(nn.Linear(20, 16), nn.LeakyReLU(0.1), nn.Linear(16, 5)).build((20,), device=cpu_device)
    x = gpuml.tensor(np.random.default_rng(1).standard_normal((64, 20)).astype(np.float32), device=cpu_device)
    halves("here")
    model(x)
    model.layers[1].negative_slope = 0.9
    halves("whole")
    want = model(x).numpy()
    for mode in ("here", "helper"):
        halves(mode)
        got = model(x).numpy()
        assert _where(model) == mode
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # 0.6 off (relative) on 2026-12-07


@pytest.mark.xfail(
    strict=True,
    reason="Halves.__deepcopy__/__reduce__ give None: a copy taken between forward and backward has layers that "
    "kept only the first half and no Halves to run the second",
)
def test_deepcopy_between_forward_and_backward(cpu_device, halves):
    import copy

    halves("here")
    model = _mlp(cpu_device, 1)
    rng = np.random.default_rng(2)
    model(rng.standard_normal((64, 20)).astype(np.float32))
    twin = copy.deepcopy(model)  # the whole batch's way: works
    twin.backward(gpuml.tensor(rng.standard_normal((64, 5)).astype(np.float32), device=twin.device))


@pytest.mark.xfail(
    strict=True,
    reason="a forked child keeps the parent's end of the helper's command pipe (_after_fork forgets the helper "
    "without closing it): the helper outlives the parent's close while the child lives (exit waits 2 s, then kill)",
)
def test_a_forked_child_does_not_keep_the_parents_helper(cpu_device, halves, monkeypatch):
    import subprocess

    monkeypatch.setattr(dp, "_HELPERS", [])  # this test's own helper
    helper = _helper_up()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: lives until the parent closes w
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    try:
        helper.send.close()  # what the parent's exit does
        try:
            helper.proc.wait(timeout=1.5)
        except subprocess.TimeoutExpired:
            helper.proc.kill()
            helper.proc.wait()
            raise AssertionError("the helper did not exit with its parent's pipe closed") from None
    finally:
        os.close(w)
        os.waitpid(pid, 0)


@pytest.mark.xfail(
    strict=True,
    reason="the helper ignores numpy's warnings: an Inf in the second half warns only when that half runs here",
)
def test_numpy_warnings_of_the_second_half(cpu_device, halves):
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).build(
        (1, 4, 4), device=cpu_device
    )
    x = np.random.default_rng(3).standard_normal((64, 1, 4, 4)).astype(np.float32)
    x[40, 0, 1, 1], x[41, 0, 1, 1] = np.inf, -np.inf  # the second half
    seen = {}
    for mode in ("whole", "here", "helper"):
        halves(mode)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model(gpuml.tensor(x, device=cpu_device))
        seen[mode] = sorted({str(c.message) for c in caught if issubclass(c.category, RuntimeWarning)})
    assert seen["whole"] and seen["here"] == seen["whole"]
    assert seen["helper"] == seen["whole"]  # [] on 2026-12-07


@pytest.mark.xfail(
    strict=True,
    reason="the helper runs `python -c` in the caller's folder, whose files come first on its sys.path: a user's "
    "mmap.py (random.py, queue.py, ...) there breaks it, with a traceback on the user's terminal",
)
def test_a_users_folder_does_not_break_the_helper(cpu_device, halves, monkeypatch, tmp_path, capfd):
    (tmp_path / "mmap.py").write_text("raise ImportError('the user folder shadows mmap')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(dp, "_HELPERS", [])  # this test's own helper
    dp._helper()
    helper = dp._HELPERS[0]
    t0 = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the helper's failure warns; the assertions say what went wrong
        while not helper.up() and not helper.failed and time.monotonic() - t0 < 60:
            time.sleep(0.05)
    assert helper.up()
    assert "Traceback" not in capfd.readouterr().err
