"""Two halves of a batch at once on the numpy backend (gpuml/nn/data_parallel.py): the helper process and this
process give the same bits, close to the whole batch at once; what is split and what is not; a helper that dies
costs nothing but time."""

from __future__ import annotations

import copy
import os
import signal

import numpy as np
import pytest
from halves_support import helper_up

import gpuml
from gpuml import nn
from gpuml.impl.cpu import threads
from gpuml.nn import data_parallel as dp
from gpuml.nn import data_parallel_process as process
from gpuml.optim import Adam
from gpuml.testing import assert_close

pytestmark = pytest.mark.skipif(os.name != "posix", reason="no helper processes on this platform")


def _train(device, model, steps, batch=64, seed=3):
    rng = np.random.default_rng(seed)
    shape = (batch, *model.input_shape)
    xs = [rng.standard_normal(shape).astype(np.float32)] * steps  # one batch again and again: it learns it
    ys = [rng.integers(0, 10, batch).astype(np.int32)] * steps
    opt, lossf, losses, where = Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(), [], []
    for x, y in zip(xs, ys, strict=True):
        loss = lossf(model(gpuml.tensor(x, device=device)), gpuml.tensor(y, device=device))
        model.backward(lossf.backward())
        opt.step()
        losses.append(float(loss.numpy()))
        split = model.__dict__.get("_split")
        where.append(None if split is None else split.pending.where)
    return losses, model.store.data.host().copy(), where


def _mixed(device):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.LeakyReLU(0.1),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(None, 24),
        nn.GELU(),
        nn.Dropout(0.0),
        nn.Linear(24, 16),
        nn.Sigmoid(),
        nn.Linear(16, 10),
    ).build((1, 12, 12), device=device, seed=1)


@pytest.mark.parametrize("build", [lambda d: nn.lenet5(device=d, seed=0), _mixed], ids=["lenet5", "mixed"])
def test_helper_and_here_give_the_same_bits(cpu_device, halves, monkeypatch, build):
    helper_up()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    l_helper, w_helper, where = _train(cpu_device, build(cpu_device), 3)
    assert where == ["helper"] * 3
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: False)  # a busy machine: both halves here
    l_here, w_here, where = _train(cpu_device, build(cpu_device), 3)
    assert where == ["here"] * 3
    assert l_helper == l_here and np.array_equal(w_helper, w_here)
    assert l_here[2] < l_here[0]  # it learns the batch
    # the whole batch at once: the same within float32 rounding (sums over 32 + 32 samples, not 64)
    monkeypatch.setenv("GPUML_CPU_HALVES", "0")
    l_whole, w_whole, where = _train(cpu_device, build(cpu_device), 3)
    assert where == [None] * 3
    np.testing.assert_allclose(l_here, l_whole, rtol=1e-5)
    assert_close(w_here, w_whole, "matmul")


def test_forward_and_input_gradient_of_an_odd_batch(cpu_device, halves, monkeypatch):
    """Eval-mode forward of 101 samples (50 here, 51 in the helper) and the input gradient (a Linear first layer)
    equal the whole batch's to rounding, and the helper's equal this process's bit for bit."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 5))
    model.build((1, 8, 8), device=cpu_device, seed=2).eval()  # Dropout inactive: split
    rng = np.random.default_rng(0)
    x = rng.standard_normal((101, 1, 8, 8)).astype(np.float32)
    g = rng.standard_normal((101, 5)).astype(np.float32)
    helper_up()
    out = {}
    for mode, spare in (("helper", True), ("here", False), ("whole", None)):
        monkeypatch.setattr(threads, "cpu_to_spare", lambda s=spare: bool(s))
        monkeypatch.setenv("GPUML_CPU_HALVES", "0" if spare is None else "1")
        y = model(gpuml.tensor(x, device=cpu_device)).numpy()
        gx = model.backward(gpuml.tensor(g, device=cpu_device)).numpy()
        out[mode] = (y, gx, model.store.grad.host().copy())
        split = model.__dict__.get("_split")
        assert (split.pending.where if split else "whole") == mode
        assert split is None or split.pending.first == 50
    for a, b in zip(out["helper"], out["here"], strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(out["here"], out["whole"], strict=True):
        assert a.shape == b.shape
        assert_close(a, b, "matmul")
    ref = x.reshape(101, 64).astype(np.float64)  # float64 reference for the forward
    p = {n: t.data.numpy().astype(np.float64) for n, t in model.named_parameters()}
    h = np.maximum(ref @ p["1.weight"].T + p["1.bias"], 0)
    np.testing.assert_allclose(out["helper"][0], h @ p["4.weight"].T + p["4.bias"], rtol=1e-4, atol=1e-5)


def test_what_is_not_split(cpu_device, halves, monkeypatch):
    x = gpuml.tensor(np.zeros((64, 1, 28, 28), np.float32), device=cpu_device)
    lenet = nn.lenet5(device=cpu_device, seed=0)
    assert dp.split_for(lenet, x) is not None
    assert dp.describe().startswith("2 threads; a batch of 32+ samples and 0M+ multiply-adds through a model runs as")
    small = gpuml.tensor(np.zeros((31, 1, 28, 28), np.float32), device=cpu_device)
    assert dp.split_for(lenet, small) is None  # under SPLIT_MIN samples
    monkeypatch.setenv("GPUML_CPU_THREADS", "1")
    assert dp.split_for(lenet, x) is None
    assert dp.describe() == "1 thread; whole batches (one thread)"  # gpuml info's line
    monkeypatch.setenv("GPUML_CPU_THREADS", "2")
    monkeypatch.setenv("GPUML_CPU_HALVES", "0")
    assert dp.split_for(lenet, x) is None
    monkeypatch.setenv("GPUML_CPU_HALVES", "1")
    monkeypatch.setattr(dp, "SPLIT_MACS", 64 * 417_000)  # LeNet-5: ~417k multiply-adds per sample
    assert dp.split_for(lenet, x) is None
    x65 = gpuml.tensor(np.zeros((65, 1, 28, 28), np.float32), device=cpu_device)
    assert dp.split_for(lenet, x65) is not None
    monkeypatch.setattr(dp, "SPLIT_MACS", 0)
    batchnorm = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(), nn.Flatten(), nn.Linear(None, 3))
    assert dp.split_for(batchnorm.build((1, 28, 28), device=cpu_device), x) is None  # batch statistics
    dropout = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(784, 3)).build((1, 28, 28), device=cpu_device)
    assert dp.split_for(dropout, x) is None  # one mask for the whole batch
    assert dp.split_for(dropout.eval(), x) is not None
    patched = nn.lenet5(device=cpu_device, seed=0)
    patched.layers[0].forward = lambda *a, **k: None
    assert dp.split_for(patched, x) is None
    twin = copy.deepcopy(lenet)  # a copy gets its own runner (its own token in the helper)
    assert twin._halves.model is twin and twin._halves.token != lenet._halves.token


def test_backward_checks_the_batch(cpu_device, halves):
    model = nn.lenet5(device=cpu_device, seed=0)
    model(gpuml.tensor(np.zeros((64, 1, 28, 28), np.float32), device=cpu_device))
    with pytest.raises(ValueError, match="gradient for 10 samples after a forward of 64"):
        model.backward(gpuml.tensor(np.zeros((10, 10), np.float32), device=cpu_device))


def test_a_helper_that_dies_costs_only_time(cpu_device, halves, monkeypatch):
    """Killed between a forward it ran and the backward: a warning, the half redone here, the same bits."""
    monkeypatch.setattr(process, "_HELPERS", [])  # this test's own helper
    helper = helper_up()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    model, ref = nn.lenet5(device=cpu_device, seed=0), nn.lenet5(device=cpu_device, seed=0)
    rng = np.random.default_rng(1)
    x = gpuml.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32), device=cpu_device)
    g = gpuml.tensor(rng.standard_normal((64, 10)).astype(np.float32), device=cpu_device)
    model(x)
    assert model._split.pending.where == "helper"
    os.kill(helper.proc.pid, signal.SIGKILL)
    helper.proc.wait()
    with pytest.warns(UserWarning, match="helper process stopped"):
        model.backward(g)
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: False)
    ref(x)
    ref.backward(g)
    assert np.array_equal(model.store.grad.host(), ref.store.grad.host())
    model(x)  # from now on, here
    assert model._split.pending.where == "here"


def test_an_error_in_this_half_leaves_the_helper_free(cpu_device, halves, monkeypatch):
    """This process's half raising (a bad input, Ctrl-C) while the helper runs the other: the error reaches the
    caller, the helper's answer is read and dropped, and the next batch uses the helper again with right results."""
    helper_up()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    model = nn.lenet5(device=cpu_device, seed=0)
    x = gpuml.tensor(np.random.default_rng(4).standard_normal((64, 1, 28, 28)).astype(np.float32), device=cpu_device)
    run = dp.run_forward

    def interrupted(layers, t):
        raise KeyboardInterrupt

    monkeypatch.setattr(dp, "run_forward", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model(x)
    monkeypatch.setattr(dp, "run_forward", run)
    y = model(x).numpy()
    assert model._split.pending.where == "helper"
    monkeypatch.setenv("GPUML_CPU_HALVES", "0")
    assert_close(y, model(x).numpy(), "matmul")
