"""Backend selection.

``GPUML_BACKEND=native|browser|cpu|python`` forces a backend. Otherwise: inside Pyodide the ``browser`` backend,
natively the ``native`` backend (wgpu-py) when an adapter exists, else the ``cpu`` (numpy) backend with one notice
on stderr, and where numpy is missing too (Pyodide core offline) the ``python`` backend (pure Python, for small
work). ``GPUML_EXPECT_GPU=1`` (set by CI) turns that fallback into an error so GPU tests cannot skip silently.

``get_device()`` is where tensors go by default. Workloads that start from host data (training, k-means, ...) ask
``device_for(family)`` instead: the same device, except on a software adapter under ``auto`` (no GPUML_BACKEND, no
``set_device``), where each family runs on whichever of the adapter and numpy measured faster (gpuml.backends.auto).
"""

from __future__ import annotations

import sys
import threading

from ..config import flag, setting
from . import auto
from .base import Device, notice
from .gpu import GPUDevice

__all__ = [
    "BACKENDS",
    "Device",
    "GPUDevice",
    "auto_choices",
    "available",
    "device_for",
    "get_device",
    "init_async",
    "set_device",
]

BACKENDS = ("native", "browser", "cpu", "python")
_devices: dict[str, Device] = {}
_current: Device | None = None
_failures: dict[str, str] = {}
_chosen = False  # set_device() was called: every family runs where the user said
# One device per backend per process, even when several threads ask first (re-entrant: _auto opens several).
_lock = threading.RLock()


def in_pyodide() -> bool:
    return sys.platform == "emscripten"


def _create(name: str) -> Device:
    if name == "native":
        from .native import NativeDevice

        return NativeDevice()
    if name == "browser":
        from .browser import BrowserDevice

        return BrowserDevice.create()
    if name == "cpu":
        from .cpu import CPUDevice

        return CPUDevice()
    if name == "python":
        from .python import PythonDevice

        return PythonDevice()
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def open_device(name: str) -> Device:
    """The (cached) device of backend ``name``; raises RuntimeError naming why it is unavailable."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    device = _devices.get(name)
    if device is not None:
        return device
    with _lock:
        return _open_locked(name)


def _open_locked(name: str) -> Device:
    if name not in _devices:
        if name in _failures:
            raise RuntimeError(f"gpuml backend '{name}' is unavailable: {_failures[name]}")
        try:
            _devices[name] = _create(name)
        except Exception as exc:
            _failures[name] = f"{type(exc).__name__}: {exc}"
            raise RuntimeError(f"gpuml backend '{name}' is unavailable: {_failures[name]}") from exc
    return _devices[name]


def available() -> dict[str, str]:
    """Backend name -> adapter string, or the reason it is unavailable."""
    result = {}
    for name in BACKENDS:
        if name == "browser" and not in_pyodide():
            result[name] = "unavailable: only inside Pyodide"
            continue
        if name == "native" and in_pyodide():
            result[name] = "unavailable: not inside Pyodide"
            continue
        try:
            result[name] = open_device(name).adapter
        except RuntimeError as exc:
            result[name] = f"unavailable: {exc}"
    return result


def _auto() -> Device:
    forced = setting("GPUML_BACKEND").lower()
    if forced:
        return open_device(forced)
    gpu = "browser" if in_pyodide() else "native"
    try:
        return open_device(gpu)
    except RuntimeError as exc:
        if flag("GPUML_EXPECT_GPU"):
            raise RuntimeError(f"GPUML_EXPECT_GPU=1 but no WebGPU adapter: {exc}") from exc
        why = _failures.get(gpu, exc)
        try:
            device = open_device("cpu")
        except RuntimeError:
            device = open_device("python")
            notice(f"no WebGPU adapter ({why}) and no numpy; running on the pure-Python backend (much slower).")
            return device
        notice(f"no WebGPU adapter ({why}); running on the numpy CPU backend (slower).")
        return device


def get_device(name: str | None = None) -> Device:
    """The current device, or the device of backend ``name``."""
    global _current
    if name is not None:
        return open_device(name)
    current = _current
    if current is None:
        with _lock:
            if _current is None:
                _current = _auto()
            current = _current
    return current


def set_device(device: str | Device) -> Device:
    """Make ``device`` (a backend name or a Device) the default for new tensors and ops."""
    global _current, _chosen
    device = open_device(device) if isinstance(device, str) else device
    with _lock:
        _current, _chosen = device, True
    return device


def _family_choice(family: str, measure: bool) -> tuple[Device | None, str, dict | None]:
    """(device or None when not measured yet and ``measure`` is False, why, the stored measurement)."""
    if family not in auto.FAMILIES:
        raise ValueError(f"unknown op family {family!r}; choose one of {', '.join(auto.FAMILIES)}")
    if _chosen:  # as for get_device(): set_device() wins over GPUML_BACKEND
        return get_device(), "chosen with set_device() or --backend", None
    forced = setting("GPUML_BACKEND").lower()
    if forced:
        return open_device(forced), f"GPUML_BACKEND={forced}", None
    current = get_device()
    if not current.is_gpu:
        return current, "no WebGPU adapter", None
    if not current.caps.software:
        return current, "a GPU: always preferred to numpy (not measured)", None
    if in_pyodide():  # a page keeps no cache across loads: measuring would delay every first use
        return current, "software adapter in a web page: kept (the page stores no measurements)", None
    try:
        cpu = open_device("cpu")
    except RuntimeError:
        return current, "software adapter, and numpy is unavailable", None
    result = auto.stored(current, family)
    if result is None:
        if not measure:
            earlier = current.tune_cache.get((auto.KEY, family))
            if isinstance(earlier, dict) and "choice" in earlier:  # taken on a busy machine, now calm
                return None, f"{auto.explain(earlier)}; calm now: measured again on next use", earlier
            return None, "software adapter: not measured yet (measured on first use, or gpuml info --measure)", None
        result = _measure(family, current, cpu)
    if "error" in result:
        return current, f"software adapter; numpy's run failed ({result['error']}): adapter kept", result
    return (cpu if result["choice"] == "cpu" else current), auto.explain(result), result


def _measure(family: str, adapter: Device, cpu: Device) -> dict:
    try:
        result = auto.measure(family, adapter, cpu)
    except Exception as exc:  # a twin or kernel that cannot run this workload: keep the adapter, say why once
        result = {"choice": "adapter", "error": f"{type(exc).__name__}: {exc}"[:200]}
        adapter.tune_cache.put((auto.KEY, family), result)
        return result
    if result["choice"] == "cpu":
        notice(
            f"{family} runs on numpy: {result['cpu_ms']:.1f} ms vs {result['adapter_ms']:.1f} ms per "
            f"{result['unit']} on the software adapter {adapter.adapter} (measured once; GPUML_BACKEND=native "
            "forces the adapter)."
        )
    return result


def device_for(family: str) -> Device:
    """The device ``auto`` runs op family ``family`` on (``gpuml.backends.auto.FAMILIES``: "train", "predict",
    "kmeans", "augment", "explain"): set_device()'s or else GPUML_BACKEND's device when one is set; else a GPU adapter;
    else, on a software adapter, the adapter or numpy, whichever measured faster for this family (measured once
    per adapter and gpuml version, the first time the family is used, and stored with the kernel tuning cache)."""
    with _lock:
        device, _, _ = _family_choice(family, measure=True)
    return device


def auto_choices(measure: bool = False, remeasure: bool = False) -> list[dict]:
    """Per family: {"family", "backend" (None: not measured yet), "why", "measured" (times or None)}.
    ``measure`` measures the families not measured yet; ``remeasure`` measures all again (gpuml info --measure)."""
    rows = []
    with _lock:
        for family in auto.FAMILIES:
            if remeasure and not _chosen and not setting("GPUML_BACKEND"):
                current = get_device()
                if current.is_gpu and current.caps.software:
                    current.tune_cache.get((auto.KEY, family))  # loads the stored choices first
                    current.tune_cache.choices.pop((auto.KEY, family), None)
            device, why, result = _family_choice(family, measure or remeasure)
            rows.append({"family": family, "backend": device.name if device else None, "why": why, "measured": result})
    return rows


async def init_async(power_preference: str = "high-performance") -> Device:
    """Create the browser device (once) and make it gpuml's current device. Await this in the page before
    using gpuml when synchronous calls (JSPI) are not available."""
    from .browser import BrowserDevice

    device = _devices.get("browser")
    if device is None:
        device = await BrowserDevice.create_async(power_preference)
        _devices["browser"] = device
        _failures.pop("browser", None)
    set_device(device)
    return device
