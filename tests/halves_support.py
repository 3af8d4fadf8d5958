"""Shared by the tests of the numpy backend's two halves at once (gpuml/nn/data_parallel.py): waiting for the helper
process, where a model's last second half ran, a small MLP, and the ``halves`` fixture's body (tests/conftest.py)."""

from __future__ import annotations

import time

from gpuml import nn
from gpuml.impl.cpu import threads
from gpuml.nn import data_parallel, data_parallel_process


def helper_up(timeout: float = 60.0):
    """The process's helper once it is up (started by the first call)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        h = data_parallel_process.helper()
        if h is not None:
            return h
        time.sleep(0.05)
    raise AssertionError("the helper process did not come up")


def where(model):
    """Where the last forward's second half ran ("helper", "here", "redo"), None for a whole batch."""
    split = model.__dict__.get("_split")
    return None if split is None else split.pending.where


def mlp(device, seed):
    """A Linear first layer on (N, features) inputs: Linear keeps its input for the backward."""
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5)).build((20,), device=device, seed=seed)


def halves(monkeypatch):
    """Two threads, halves on, small models split too; returns a function that picks where the second halves run
    ("helper", "here", or "whole": GPUML_CPU_HALVES=0)."""
    monkeypatch.setenv("GPUML_CPU_THREADS", "2")
    monkeypatch.setenv("GPUML_CPU_HALVES", "1")
    monkeypatch.setattr(data_parallel, "SPLIT_MACS", 0)

    def choose(mode):
        monkeypatch.setenv("GPUML_CPU_HALVES", "0" if mode == "whole" else "1")
        monkeypatch.setattr(threads, "cpu_to_spare", lambda: mode == "helper")
        if mode == "helper":
            helper_up()

    return choose
