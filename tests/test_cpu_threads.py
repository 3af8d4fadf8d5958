"""The numpy backend on several threads (gpuml/impl/cpu/threads.py): split convolutions, 2x2 max pooling and Adam
give bit-identical results at every thread count (against one thread with OpenBLAS at one thread too: OpenBLAS's
own threading may round a long GEMM differently), OpenBLAS runs one thread inside the parts and gets the caller's
setting back, errors in a part reach the caller. Small shapes that still split into several parts."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest

import gpuml
from gpuml import ops
from gpuml.impl.cpu import im2col, optim, pool, threads
from gpuml.ops.conv.geometry import conv_geometry
from gpuml.testing import assert_close


@pytest.fixture
def one_blas_thread():
    """OpenBLAS at one thread (as inside the parts) for the whole test; put back after. None: no OpenBLAS found."""
    blas = threads.openblas()
    before = None if blas is None else blas.get()
    if blas is not None:
        blas.set(1)
    yield blas
    if blas is not None:
        blas.set(before)


def _same(blas, a, r, kind="matmul"):
    """Bit-identical where OpenBLAS's threads are known to be one, else within the float32 tolerance of ``kind``."""
    assert a.dtype == r.dtype
    if blas is not None or kind == "exact":
        assert np.array_equal(a, r, equal_nan=True)
    else:
        assert_close(a, r, kind)


# (x shape, w shape, padding, layout): both im2col layouts with 2-3 chunks of images
CONVS = [
    ((8, 1, 20, 20), (6, 1, 5, 5), 2, "rows"),
    ((16, 6, 30, 30), (16, 6, 5, 5), 0, "rows"),
    ((9, 2, 30, 30), (12, 2, 3, 3), 1, "taps"),
]


def _conv_step(x, w, b, gy, padding, device):
    y = ops.conv2d(gpuml.tensor(x, device=device), w, b, padding=padding, relu=True).numpy()
    gx, gw, gb = ops.conv2d_backward(x, w, gpuml.tensor(gy, device=device), padding=padding)
    _, gw0, _ = ops.conv2d_backward(x, w, gpuml.tensor(gy, device=device), padding=padding, input_grad=False)
    return [y, gx.numpy(), gw.numpy(), gb.numpy(), gw0.numpy()]  # gw0: the rows' grad_w over shifted views


@pytest.mark.parametrize("xs, ws, padding, layout", CONVS)
def test_convolutions_are_identical_at_every_thread_count(
    cpu_device, monkeypatch, one_blas_thread, xs, ws, padding, layout
):
    g = conv_geometry(xs, ws, 1, padding, 1, 1)
    p = im2col.plan(g)
    assert ("rows" if p.rows else "taps") == layout and p.nb >= 2  # several chunks: the work splits
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    gy = rng.standard_normal(g.out_shape).astype(np.float32)
    monkeypatch.setattr(im2col, "PIPELINE_MACS", 0)  # small convolutions through the two-thread pipeline too
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)  # whatever else runs on the machine
    handed, submit = [], threads.Offload.submit
    monkeypatch.setattr(threads.Offload, "submit", lambda self, fn: (handed.append(self.on), submit(self, fn))[1])
    results = {}
    for n in (1, 2, 3):
        monkeypatch.setenv("GPUML_CPU_THREADS", str(n))
        handed.clear()
        results[n] = _conv_step(x, w, b, gy, padding, cpu_device)
        assert bool(handed) == (n > 1) and all(handed)  # on several threads the GEMMs went to the worker
    for n in (2, 3):
        for a, r in zip(results[n], results[1], strict=True):
            _same(one_blas_thread, a, r)


def test_max_pool_is_identical_at_every_thread_count(monkeypatch):
    monkeypatch.setattr(pool, "POOL_PER_PART", 1 << 14)  # small parts: the split runs on small data
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (64, 4, 24, 24)).astype(np.float32)  # ties
    x.reshape(-1)[rng.integers(0, x.size, 40)] = np.nan
    g = {"N": 64, "C": 4, "H": 24, "W": 24, "OH": 12, "OW": 12, "KH": 2, "KW": 2, "sh": 2, "sw": 2, "ph": 0, "pw": 0}
    assert 64 // pool._per_part(g) >= 2
    gy = rng.standard_normal((64, 4, 12, 12)).astype(np.float32)
    relu = rng.standard_normal(gy.shape).astype(np.float32)
    results = {}
    for n in (1, 2, 3):
        monkeypatch.setenv("GPUML_CPU_THREADS", str(n))
        out, idx = pool._max_pool(x, g)
        results[n] = [out, idx, pool._max_pool_backward(gy, idx, g), pool._max_pool_backward(gy, idx, g, relu)]
    for n in (2, 3):
        for a, r in zip(results[n], results[1], strict=True):
            _same(None, a, r, "exact")  # no GEMM: exact whatever BLAS does
    gx = results[1][3].reshape(64 * 4, -1)
    assert np.count_nonzero(gx) == np.count_nonzero(np.where(relu > 0, gy, 0))  # one winner per window


class _Host:
    def __init__(self, a):
        self.a = a

    def host(self):
        return self.a


def test_adam_is_identical_at_every_thread_count(monkeypatch):
    monkeypatch.setattr(optim, "ADAM_PER_PART", 1 << 12)  # small parts: the split runs on small data
    rng = np.random.default_rng(2)
    n = 3 * optim.ADAM_PER_PART + 5
    w0, g = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    m0, v0 = rng.standard_normal(n).astype(np.float32), rng.random(n).astype(np.float32)
    u = {"n_decay": optim.ADAM_PER_PART + 7, "decay": 0.99, "one_minus_beta1": 0.1, "beta2": 0.999}
    u |= {"one_minus_beta2": 0.001, "sqrt_bc2": 0.0447, "eps": 1e-8, "step_size": 3e-3, "clip": 0.0, "l1": 0, "l2": 0}
    results = {}
    for t in (1, 2, 3):
        monkeypatch.setenv("GPUML_CPU_THREADS", str(t))
        w, m, v = w0.copy(), m0.copy(), v0.copy()
        optim.optimizer_step("adam", _Host(w), _Host(g), {"exp_avg": _Host(m), "exp_avg_sq": _Host(v)}, None, u)
        results[t] = (w, m, v)
    assert not np.array_equal(results[1][0], w0)
    for t in (2, 3):
        for a, r in zip(results[t], results[1], strict=True):
            _same(None, a, r, "exact")


def test_parts_run_with_one_blas_thread_and_the_setting_comes_back(monkeypatch):
    blas = threads.openblas()
    if blas is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS this process can reach")
    monkeypatch.delenv("GPUML_CPU_THREADS", raising=False)
    before = blas.get()
    try:
        blas.set(3)
        assert threads.threads() == 3  # follows OpenBLAS's setting
        seen, names = [], set()

        def part(a, b):
            seen.append((a, b, blas.get(), threads.threads()))
            names.add(threading.current_thread().name)

        assert threads.run_parts(part, 7) == 3
        ranges = sorted(s[:2] for s in seen)  # claimed on demand: contiguous, each unit once
        assert ranges[0][0] == 0 and ranges[-1][1] == 7 and all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert {s[2] for s in seen} == {1} and {s[3] for s in seen} == {3}
        assert names <= {"MainThread", "gpuml-cpu-1", "gpuml-cpu-2"}
        assert blas.get() == 3
        with threads.blas_single(1000):
            assert blas.get() == 1
        assert blas.get() == 3
        with threads.blas_single(threads.SMALL_GEMM):  # a big GEMM keeps BLAS's threads
            assert blas.get() == 3
        blas.set(1)
        assert threads.run_parts(part, 7) == 1  # one thread: one part, inline
    finally:
        blas.set(before)


def test_part_errors_reach_the_caller_and_nested_runs_stay_inline(monkeypatch):
    monkeypatch.setenv("GPUML_CPU_THREADS", "2")
    inner = []

    def part(a, b):
        inner.append(threads.run_parts(lambda c, d: None, 10))
        if a > 0:
            raise RuntimeError("part failed")

    with pytest.raises(RuntimeError, match="part failed"):
        threads.run_parts(part, 4)
    assert len(inner) >= 2 and set(inner) == {1}
    assert threads.run_parts(lambda a, b: None, 4, min_per_part=3) == 1  # too little work for two parts


def test_thread_setting_is_checked(monkeypatch):
    monkeypatch.setenv("GPUML_CPU_THREADS", "two")
    with pytest.raises(ValueError, match="GPUML_CPU_THREADS='two'"):
        threads.threads()
    monkeypatch.setenv("GPUML_CPU_THREADS", "0")
    assert threads.threads() == 1
    assert threads.split(10, 3) == [(0, 3), (3, 6), (6, 10)]


def test_a_late_thread_leaves_its_share_to_the_others(monkeypatch):
    """Ranges are claimed on demand: a range that stalls (its thread descheduled; here the worker sleeps in every
    range it runs) holds back only itself, the caller runs the rest; every range at least ``min_per_part`` units
    (the last may be what is left), each unit once."""
    monkeypatch.setenv("GPUML_CPU_THREADS", "2")
    seen, lock = [], threading.Lock()

    def part(a, b):
        worker = threading.current_thread().name != "MainThread"
        if worker:
            time.sleep(0.2)
        with lock:
            seen.append((a, b, worker))

    for _ in range(3):
        seen.clear()
        assert threads.run_parts(part, 64, min_per_part=3) == 2
        ranges = sorted(s[:2] for s in seen)
        assert ranges[0][0] == 0 and ranges[-1][1] == 64 and all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(b - a >= 3 for a, b, _ in seen) and len(seen) >= 4
        assert sum(w for *_, w in seen) <= 1  # the sleeping worker ran one range at most


def test_lenet5_training_is_identical_at_every_thread_count(cpu_device, monkeypatch, one_blas_thread):
    """Whole LeNet-5 steps at batch 64 (convolutions pipelined or staged over a worker, cache-sized blocks on one
    thread): losses and weights after three Adam steps on one batch equal at 1, 2 and 3 threads. The whole batch
    on this process's threads (two halves at once: tests/test_data_parallel.py)."""
    from gpuml import nn
    from gpuml.optim import Adam

    monkeypatch.setenv("GPUML_CPU_HALVES", "0")
    monkeypatch.setattr(im2col, "PIPELINE_MACS", 0)  # LeNet-5's convolutions through the pipeline too
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)  # whatever else runs on the machine
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((64, 1, 28, 28)).astype(np.float32)] * 3
    ys = [rng.integers(0, 10, 64).astype(np.int32)] * 3
    results = {}
    for n in (1, 2, 3):
        monkeypatch.setenv("GPUML_CPU_THREADS", str(n))
        model = nn.lenet5(device=cpu_device, seed=0)
        opt, lossf, losses = Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(), []
        for x, y in zip(xs, ys, strict=True):
            loss = lossf(model(gpuml.tensor(x, device=cpu_device)), gpuml.tensor(y, device=cpu_device))
            model.backward(lossf.backward())
            opt.step()
            losses.append(float(loss.numpy()))
        results[n] = (losses, [p.data.numpy().copy() for p in model.parameters()])
    assert results[1][0][2] < results[1][0][0]  # it learns the batch
    for n in (2, 3):
        assert results[n][0] == results[1][0]
        for a, r in zip(results[n][1], results[1][1], strict=True):
            _same(one_blas_thread, a, r)


def test_convolution_gemms_run_on_one_blas_thread(cpu_device, monkeypatch):
    """On several threads the convolutions' GEMMs run with OpenBLAS at one thread, the pipeline on or off (its
    own threads spin and collapse on shared cores, and may round long sums differently); the setting comes back."""
    blas = threads.openblas()
    if blas is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS this process can reach")
    seen, matmul = [], np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **k: (seen.append(blas.get()), matmul(*a, **k))[1])
    monkeypatch.setenv("GPUML_CPU_THREADS", "2")
    before = blas.get()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 6, 30, 30)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    try:
        blas.set(2)
        monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
        for macs in (im2col.PIPELINE_MACS, 0):  # the backward staged only, then everything forced on
            monkeypatch.setattr(im2col, "PIPELINE_MACS", macs)
            seen.clear()
            _conv_step(x, w, None, rng.standard_normal((16, 16, 26, 26)).astype(np.float32), 0, cpu_device)
            assert seen and set(seen) == {1}
            assert blas.get() == 2
    finally:
        blas.set(before)


def test_a_busy_machine_keeps_the_gemms_on_the_caller(cpu_device, monkeypatch):
    """cpu_to_spare reads the running-thread count (Linux) and says whether a CPU is idle besides the caller's; while
    none is, a convolution big enough to hand its GEMMs over keeps them on the calling thread (same results)."""
    assert isinstance(threads.cpu_to_spare(), bool)
    monkeypatch.setenv("GPUML_CPU_THREADS", "2")
    monkeypatch.setattr(im2col, "PIPELINE_MACS", 0)
    workers, enter = [], threads.Offload.__enter__
    monkeypatch.setattr(threads.Offload, "__enter__", lambda self: (enter(self), workers.append(self.on))[0])
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 6, 30, 30)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    gy = rng.standard_normal((16, 16, 26, 26)).astype(np.float32)
    got = {}
    for spare in (False, True):
        monkeypatch.setattr(threads, "cpu_to_spare", lambda spare=spare: spare)
        workers.clear()
        got[spare] = _conv_step(x, w, None, gy, 0, cpu_device)
        assert workers and set(workers) == {spare}
    for a, r in zip(got[True], got[False], strict=True):
        assert np.array_equal(a, r)
