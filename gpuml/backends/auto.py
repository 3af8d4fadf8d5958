"""Which backend ``auto`` runs each workload (op family) on when the only adapter is a software one.

A real GPU runs every family, unmeasured; with no adapter everything runs on numpy (``get_device()``'s fallback).
A software adapter (lavapipe, SwiftShader, WARP: ``device.caps.software``) runs compute shaders on the same CPU
cores numpy uses, often slower than numpy's twins (a LeNet-5 training epoch: 13.3 s on lavapipe, 5.3 s on numpy).
There, the first time a family is used, its small representative workload (:func:`register_workload`; gpuml's
are in gpuml/workloads.py) runs on the adapter and on numpy, alternating, for a fraction of a second after one
untimed run each (shader compiles); the faster is kept in the adapter's :class:`~gpuml.backends.variants.TuneCache`
(the kernel variant table's cache, on disk natively), so later processes reuse the choice. The adapter keeps a
family unless numpy takes under ``MARGIN`` of its time. Other processes on the cores skew the two sides unequally
(numpy's BLAS threads stall when descheduled), so a measurement taken while the load average exceeded the core count
is used but measured again by the first later process that finds the machine calm.

This module decides; :func:`gpuml.backends.device_for` applies the settings (``GPUML_BACKEND``, ``set_device``)
that win over it, and keeps the adapter in a web page (no cache survives a page load: every first use would pay
the measurement). It needs neither numpy nor wgpu.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .base import Device

# family -> what it covers (gpuml info lists them in this order)
FAMILIES: dict[str, str] = {
    "train": "training: forward + backward + optimizer step (Trainer, gpuml train)",
    "predict": "inference: a model's forward pass (gpuml predict)",
    "kmeans": "k-means fit and predict (gpuml.cluster)",
    "augment": "augmentation of host images (gpuml.augment)",
    "explain": "explanations: Grad-CAM and saliency (gpuml explain, gpuml report)",
}
MARGIN = 0.9  # numpy replaces the adapter only when it takes under 90% of the adapter's time
BUDGET_S = 0.3  # most seconds of timed runs per family (the untimed first runs and compiles are extra)
ROUNDS = 5  # at most; at least MIN_ROUNDS even past the budget (one sample per side decides nothing)
MIN_ROUNDS = 3
KEY = "auto-backend"  # TuneCache key: (KEY, family) -> {"choice", "adapter_ms", "cpu_ms", "unit"}

# family -> (setup(device) -> run(): one unit of the workload, blocking until its result is read; unit's name)
_WORKLOADS: dict[str, tuple[Callable[[Device], Callable[[], Any]], str]] = {}
_measuring = threading.Lock()
_clock = time.perf_counter  # (tests substitute a clock the fake workloads advance)
_measured_here: set[tuple[str, str]] = set()  # (adapter scope, family): a process measures a family at most once


def register_workload(family: str, setup: Callable[[Device], Callable[[], Any]], unit: str) -> None:
    """``setup(device)`` prepares the representative workload of ``family`` on ``device`` and returns ``run()``,
    which does one ``unit`` of it (e.g. "LeNet-5 step, batch 64") and reads its result back."""
    if family not in FAMILIES:
        raise ValueError(f"unknown op family {family!r}; choose one of {', '.join(FAMILIES)}")
    _WORKLOADS[family] = (setup, unit)


def load() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def busy(level: float | None) -> bool:
    return level is not None and level > (os.cpu_count() or 1)


def stored(adapter: Device, family: str) -> dict | None:
    """The measurement stored for ``family`` on this adapter (this process's or an earlier one's), else None; also
    None for one taken on a busy machine when the machine is calm now (it is measured again)."""
    value = adapter.tune_cache.get((KEY, family))
    if not isinstance(value, dict) or value.get("choice") not in ("adapter", "cpu"):
        return None
    if busy(value.get("load")) and not busy(load()) and (adapter.tune_cache.scope, family) not in _measured_here:
        return None
    return value


def measure(family: str, adapter: Device, cpu: Device) -> dict:
    """Time ``family``'s workload on ``adapter`` and on ``cpu`` (alternating, best of a few, about BUDGET_S),
    store the choice in the adapter's TuneCache and return it."""
    if family not in _WORKLOADS:
        raise ValueError(f"no workload registered for op family {family!r} (import gpuml first)")
    setup, unit = _WORKLOADS[family]
    before = load()
    with _measuring:  # one measurement at a time: two would share the cores and time each other
        runs = {}
        for name, device in (("adapter", adapter), ("cpu", cpu)):
            run = setup(device)
            run()  # untimed: compiles the shaders, warms caches
            runs[name] = run
        best = dict.fromkeys(runs, float("inf"))
        deadline = _clock() + BUDGET_S
        for i in range(ROUNDS):
            for name, run in runs.items():
                t0 = _clock()
                run()
                best[name] = min(best[name], _clock() - t0)
            if i + 1 >= MIN_ROUNDS and _clock() > deadline:
                break
    choice = "cpu" if best["cpu"] < MARGIN * best["adapter"] else "adapter"
    result = {
        "choice": choice,
        "adapter_ms": round(best["adapter"] * 1e3, 3),
        "cpu_ms": round(best["cpu"] * 1e3, 3),
        "unit": unit,
        "load": max((x for x in (before, load()) if x is not None), default=None),
        "cores": os.cpu_count(),
    }
    adapter.tune_cache.put((KEY, family), result)
    _measured_here.add((adapter.tune_cache.scope, family))
    return result


def explain(result: dict) -> str:
    """Why a stored measurement chose what it chose, in one line."""
    a, c = result["adapter_ms"], result["cpu_ms"]
    winner = "numpy faster" if result["choice"] == "cpu" else "adapter kept (numpy not 10% faster)"
    why = f"measured: adapter {a:.2f} ms, numpy {c:.2f} ms per {result['unit']}: {winner}"
    if busy(result.get("load")):
        why += f" (on a busy machine, load {result['load']:.1f} on {result['cores']} cores: measured again when calm)"
    return why
