"""Threads (issue #19): one device per backend per process, and ops from several threads on one device give each
thread its own correct results (recording, flushing, readback and the buffer pool are serialized by a lock)."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading

import numpy as np
import pytest

import gpuml
from gpuml import ops

# chains per thread: lavapipe and numpy run the full 1,000; the pure-Python backend fewer and smaller
CHAINS = {"native": 1000, "cpu": 1000, "python": 60}


def _run_threads(target, n: int) -> list:
    """Start ``n`` threads on ``target(index)`` together; return the exceptions they raised."""
    errors: list = []
    barrier = threading.Barrier(n)

    def body(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # reported by the test
            errors.append((i, exc))

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return errors


def _chain_worker(device, index: int, chains: int, small: bool):
    """``chains`` op chains (add, mul, matmul, sum) on shapes of this thread's own, each checked against numpy."""
    rng = np.random.default_rng(100 + index)
    m, k, n = (2 + index, 3 + index, 4 + index) if small else (8 + 5 * index, 16 + 3 * index, 12 + 7 * index)

    def work(_):
        for step in range(chains):
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((m, k), dtype=np.float32)
            w = rng.standard_normal((k, n), dtype=np.float32)
            ta, tb, tw = (gpuml.tensor(v, device=device) for v in (a, b, w))
            h = ops.mul(ops.add(ta, tb), 0.5)
            y = ops.matmul(h, tw)
            total = ops.sum(y)
            want_y = ((a + b) * np.float32(0.5)) @ w
            got_y = y.numpy()
            np.testing.assert_allclose(got_y, want_y, rtol=1e-4, atol=1e-4, err_msg=f"thread {index} step {step}")
            np.testing.assert_allclose(float(total.numpy()), float(want_y.sum()), rtol=1e-3, atol=1e-3)
            if step % 97 == 0:
                gc.collect(0)  # finalizers of other threads' tensors run here, on this thread (young generation: cheap)

    return work


@pytest.mark.parametrize("backend", ["native", "cpu", "python"])
def test_four_threads_of_op_chains_match_numpy(backend, request):
    device = request.getfixturevalue({"native": "native_device", "cpu": "cpu_device"}.get(backend, "python_device"))
    chains, small = CHAINS[backend], backend == "python"
    workers = [_chain_worker(device, i, chains, small) for i in range(4)]
    errors = _run_threads(lambda i: workers[i](i), 4)
    assert not errors, errors[0][1]
    if device.is_gpu:
        stats = device.memory_stats()  # every tensor of the run was freed back to the pool, none lost
        assert stats["bytes_live"] >= 0


def test_first_get_device_from_eight_threads_makes_one_device():
    """A fresh process: 8 threads race on the first get_device() / open_device() and all get the same object."""
    code = """
import threading, gpuml
from gpuml.backends import open_device
barrier = threading.Barrier(8)
got, named = [None] * 8, [None] * 8
def body(i):
    barrier.wait()
    got[i] = gpuml.get_device()
    named[i] = open_device("cpu")
threads = [threading.Thread(target=body, args=(i,)) for i in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
assert all(d is got[0] for d in got), got
assert all(d is named[0] for d in named), named
print("one device", got[0].name, len({id(d) for d in got}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "one device" in out.stdout and out.stdout.strip().endswith(" 1")


def test_release_from_another_thread_while_the_lock_is_held_does_not_block(native_device):
    """A tensor finalizer on a thread that cannot take the device lock queues its buffer instead of waiting; the
    next allocation pools it again."""
    dev = native_device
    t = gpuml.tensor(np.arange(64, dtype=np.float32), device=dev)
    buf = t._storage.buffer
    finished = threading.Event()
    with dev._lock:

        def drop():
            t._storage.free()  # what Storage.__del__ does
            finished.set()

        th = threading.Thread(target=drop)
        th.start()
        th.join(timeout=30)
        assert finished.is_set(), "release blocked on the device lock"
        assert buf in dev._deferred
    again = dev.alloc(buf.size)  # drains the queue: the same bucket hands the buffer back
    assert not dev._deferred
    assert again is buf
    dev.release(again)


def test_ops_from_threads_with_frequent_gc_do_not_deadlock(native_device):
    """Garbage cycles holding tensors are collected on whichever thread runs gc, while others record."""
    dev = native_device

    class Cycle:
        def __init__(self, t):
            self.t, self.me = t, self

    def work(i):
        x = gpuml.tensor(np.full(256, i, np.float32), device=dev)
        for _ in range(200):
            Cycle(ops.add(x, 1.0))
            y = ops.mul(x, 2.0)
            gc.collect(0)  # the fresh cycle is young: a full collection in a big test session takes ~0.5 s each
            assert float(y.numpy()[0]) == 2.0 * i

    errors = _run_threads(work, 4)
    assert not errors, errors[0][1]


def test_first_use_of_per_device_state_from_threads_shares_one_object():
    from gpuml.backends.cpu import CPUDevice

    dev = CPUDevice()  # fresh: op_state and tune_cache not created yet
    states, caches = [None] * 8, [None] * 8

    def body(i):
        states[i], caches[i] = dev.op_state, dev.tune_cache

    assert not _run_threads(body, 8)
    assert all(s is states[0] for s in states) and all(c is caches[0] for c in caches)
