"""Hostile checks of the two-halves batches on the numpy backend (gpuml/nn/data_parallel.py): ways of using models
that the feature's own tests do not, each compared with the same model run here (helper vs here: the same bits) or
with whole batches (GPUML_CPU_HALVES=0: float32 rounding)."""

from __future__ import annotations

import os
import time

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
