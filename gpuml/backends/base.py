"""The backend interface: :class:`Device` (what every backend offers), the registry of op implementations
(``device.impl``), timers and notices. The WebGPU devices' shared logic is in :mod:`gpuml.backends.gpu`.

This module must not import numpy or wgpu: it also runs inside Pyodide.
"""

from __future__ import annotations

import sys
import threading
import time
from functools import cached_property
from typing import Any

from ..config import flag
from .variants import DeviceCaps, TuneCache

# Op implementations per backend family ("webgpu", "cpu", "python"), registered by gpuml.impl when it is imported.
# The runtime never imports the implementations: they sit above it (they make tensors), it only looks them up.
_IMPLEMENTATIONS: dict[str, Any] = {}
# cached_property has no lock since Python 3.12: two threads' first accesses must still share one object.
_FIRST_USE = threading.Lock()


def register_implementation(family: str, namespace: Any) -> None:
    """Make ``namespace`` (an object with one attribute per op) the implementation of every ``family`` device."""
    _IMPLEMENTATIONS[family] = namespace


class Device:
    """One place where tensors live and ops run. See :mod:`gpuml.backends` for how one is chosen.

    ``device.impl`` is this backend's implementation of every op (gpuml.impl.webgpu, .cpu or .python): public ops
    validate their arguments, then call ``x.device.impl.<op>(...)``; nothing above the runtime branches on the
    backend."""

    name: str = "?"
    impl_family: str = "?"  # which gpuml.impl package implements the ops on this device
    is_gpu: bool = False
    pure: bool = False  # the pure-Python backend (no numpy): tensors in bytearrays, ops by their pure twins
    adapter_info: dict[str, Any]
    features: frozenset[str] = frozenset()
    limits: dict[str, int]

    @property
    def adapter(self) -> str:
        """Human-readable adapter string, e.g. ``llvmpipe (LLVM 15.0.6, 256 bits) [Vulkan, CPU]``."""
        info = self.adapter_info
        kind = ", ".join(str(v) for v in (info.get("backend_type"), info.get("adapter_type")) if v)
        return f"{info.get('device') or info.get('description') or info.get('vendor') or self.name} [{kind}]"

    @cached_property
    def caps(self) -> DeviceCaps:
        """What this device can do (software adapter, subgroup size, f16, limits), probed once."""
        kind = str(self.adapter_info.get("adapter_type", ""))
        return DeviceCaps(
            backend=self.name,
            software=not self.is_gpu or kind not in ("DiscreteGPU", "IntegratedGPU", "GPU"),
            subgroup_size=self.subgroup_size(),
            f16="shader-f16" in self.features,
            timestamps="timestamp-query" in self.features,
            max_workgroup_size=int(self.limits.get("max_compute_invocations_per_workgroup", 256)),
            max_workgroup_storage=int(self.limits.get("max_compute_workgroup_storage_size", 16384)),
        )

    @cached_property
    def tune_cache(self) -> TuneCache:
        """Variant choices measured on this adapter (gpuml.backends.variants)."""
        with _FIRST_USE:  # stored here, so a second thread's first access finds it (cached_property stores it again)
            if "tune_cache" not in self.__dict__:
                self.__dict__["tune_cache"] = TuneCache(self.adapter)
            return self.__dict__["tune_cache"]

    @cached_property
    def op_state(self) -> dict[str, Any]:
        """State the op implementations keep per device (placeholder bindings, tuned choices, last algorithm)."""
        with _FIRST_USE:
            return self.__dict__.setdefault("op_state", {})

    @property
    def impl(self) -> Any:
        """This backend's op implementations (see :func:`register_implementation`)."""
        try:
            return _IMPLEMENTATIONS[self.impl_family]
        except KeyError:
            raise RuntimeError(
                f"no op implementations registered for the {self.name} backend; import gpuml (or gpuml.impl) first"
            ) from None

    @property
    def numpy_host(self) -> bool:
        """True where tensors hold numpy arrays (the cpu backend); False where they hold device buffers."""
        return not (self.is_gpu or self.pure)

    @property
    def max_binding_bytes(self) -> int:
        return int(self.limits.get("max_storage_buffer_binding_size", 1 << 62))

    def summary(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "adapter": self.adapter,
            "adapter_info": dict(self.adapter_info),
            "features": sorted(self.features),
            "limits": dict(sorted(self.limits.items())),
        }

    def can_block(self) -> bool:
        """Whether ``sync()`` and reads may wait here (False in a browser page without JSPI)."""
        return True

    def flush(self) -> None:  # pragma: no cover - overridden by GPU devices
        pass

    def sync(self) -> None:  # pragma: no cover
        pass

    def memory_stats(self) -> dict[str, int]:
        return {}

    def subgroup_size(self) -> int:
        """The subgroup size of a workgroup of 8 invocations (0: no subgroups)."""
        return 0

    def timer(self) -> Timer:
        """``with dev.timer() as t: ...`` measures wall time and, where the adapter has timestamp queries,
        GPU time of the work recorded inside the block (``t.gpu_seconds``, else None)."""
        return Timer(self)

    def __repr__(self) -> str:
        return f"<gpuml {self.name} device: {self.adapter}>"


class Timer:
    def __init__(self, device: Device):
        self.device = device
        self.wall_seconds: float = 0.0
        self.gpu_seconds: float | None = None

    def __enter__(self) -> Timer:
        self.device.sync()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            return
        dev = self.device
        use_ts = dev.is_gpu and "timestamp-query" in dev.features and bool(dev._commands)
        if use_ts:
            dev.flush(timestamps=True)
        dev.sync()
        self.wall_seconds = time.perf_counter() - self._t0
        self.gpu_seconds = dev._read_timestamps() if use_ts else None


def notice(message: str) -> None:
    """One clear line on stderr (used for backend fallback)."""
    if not flag("GPUML_QUIET"):
        print(f"gpuml: {message}", file=sys.stderr)
