"""Backend selection.

``GPUML_BACKEND=native|browser|cpu|python`` forces a backend. Otherwise: inside Pyodide the ``browser`` backend,
natively the ``native`` backend (wgpu-py) when an adapter exists, else the ``cpu`` (numpy) backend with one notice
on stderr, and where numpy is missing too (Pyodide core offline) the ``python`` backend (pure Python, for small
work). ``GPUML_EXPECT_GPU=1`` (set by CI) turns that fallback into an error so GPU tests cannot skip silently.
"""

from __future__ import annotations

import sys
import threading

from ..config import flag, setting
from .base import Device, notice
from .gpu import GPUDevice

__all__ = ["BACKENDS", "Device", "GPUDevice", "available", "get_device", "init_async", "set_device"]

BACKENDS = ("native", "browser", "cpu", "python")
_devices: dict[str, Device] = {}
_current: Device | None = None
_failures: dict[str, str] = {}
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
    global _current
    device = open_device(device) if isinstance(device, str) else device
    with _lock:
        _current = device
    return device


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
