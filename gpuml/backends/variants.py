"""Kernel variants as data, chosen by measurement (the way cuDNN's benchmark mode and TVM's tuning logs work).

An op family (GEMM, conv forward, pooling, k-means assignment, ...) has one :class:`VariantTable`: its variants in a
static default order, each naming its shader, its template values and the capabilities and geometry it applies to
(``applies(caps, geometry)``). To run, a family asks ``table.choose(device, geometry, run)``:

- a forced name (the family's ``GPUML_*`` override) wins;
- with ``GPUML_TUNE=0``, or one applicable variant, or no ``run``: the first applicable variant in table order;
- otherwise, the static default until a *shape class* (``table.shape_class(geometry)``) has been used
  ``GPUML_TUNE_AFTER`` times (default 2) in a process on an adapter without a stored choice; then every applicable
  variant runs once to compile and then is timed (best of a few runs, a small total budget); the fastest is
  remembered in the device's :class:`TuneCache`, keyed by adapter string + gpuml version, and on disk natively so
  the next process skips the timing. The static default keeps its place unless another variant beats it by
  ``MARGIN`` (timings on shared machines move by several percent between runs).

``gpuml info --kernels`` prints every table and the choices made so far. This module needs neither numpy nor wgpu.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import VERSION, flag, setting
from .warmup import warming

MARGIN = 0.9  # a variant replaces the static default only when it takes under 90% of its time
BUDGET_S = 2.0  # most seconds spent timing one shape class (compiles excluded)
REPEAT = 3  # timed batches per option
BATCH_S = 0.005  # aim for batches of at least this many seconds of work per wait
MAX_BATCH = 32


@dataclass(frozen=True)
class DeviceCaps:
    """What a device can do, probed once when it opens (``device.caps``)."""

    backend: str
    software: bool  # a CPU adapter (lavapipe, SwiftShader, WARP) or no GPU at all
    subgroup_size: int  # lanes per subgroup (0: no subgroups)
    f16: bool
    timestamps: bool
    max_workgroup_size: int = 256
    max_workgroup_storage: int = 16384


@dataclass(frozen=True)
class Variant:
    """One way to run an op: ``name`` (what ``last_*`` and ``gpuml info`` report), the main shader and template
    values, and ``applies(caps, geometry)``."""

    name: str
    shader: str
    template: dict = field(default_factory=dict)
    applies: Callable[[DeviceCaps, Any], bool] = lambda caps, g: True
    note: str = ""


TABLES: dict[str, VariantTable] = {}


class VariantTable:
    """The variants of one op family, in static default order. Registered in :data:`TABLES` by family name."""

    def __init__(
        self,
        family: str,
        variants: list[Variant],
        shape_class: Callable[[Any], tuple] = lambda g: (),
        force_setting: str | None = None,
        order: Callable[[DeviceCaps], list[str]] | None = None,
    ):
        self.family, self.variants = family, list(variants)
        self.shape_class, self.force_setting = shape_class, force_setting
        self.order = order  # the static default order per device kind (default: table order)
        self.by_name = {v.name: v for v in self.variants}
        TABLES[family] = self

    def __getitem__(self, name: str) -> Variant:
        try:
            return self.by_name[name]
        except KeyError:
            raise ValueError(
                f"{self.family}: unknown variant {name!r}; choose one of {', '.join(self.by_name)}"
            ) from None

    def applicable(self, caps: DeviceCaps, geometry: Any) -> list[Variant]:
        """The variants that can run ``geometry`` on a device with ``caps``, in static default order."""
        ranked = self.variants
        if self.order is not None:
            names = self.order(caps)
            ranked = sorted(ranked, key=lambda v: names.index(v.name) if v.name in names else len(names))
        return [v for v in ranked if v.applies(caps, geometry)]

    def forced(self) -> Variant | None:
        name = setting(self.force_setting) if self.force_setting else ""
        if not name:
            return None
        if name not in self.by_name:
            raise ValueError(f"{self.force_setting}={name!r}: choose one of {', '.join(self.by_name)}")
        return self.by_name[name]

    def choose(self, device, geometry: Any, run: Callable[[Variant], Any] | None = None) -> Variant:
        """The variant to run for ``geometry`` on ``device`` (see the module docstring). ``run(variant)`` records
        one run of the op with that variant; it is only called while tuning."""
        forced = self.forced()
        if forced is not None:
            return forced
        caps = device.caps
        options = self.applicable(caps, geometry)
        if not options:
            raise ValueError(f"{self.family}: no variant applies to {geometry} on {device.adapter}")
        if len(options) == 1 or run is None or not flag("GPUML_TUNE") or not device.can_block():
            return options[0]  # (timing needs to wait for the device: not in a page without JSPI)
        key = (self.family, *self.shape_class(geometry))
        cache = device.tune_cache
        name = cache.get(key)
        if name in self.by_name and self.by_name[name] in options:
            return self.by_name[name]
        if not cache.due(key):
            return options[0]
        best = measure(device, options, run)
        cache.put(key, best.name)
        return best


def measure(device, options: list[Variant], run: Callable[[Variant], Any]) -> Variant:
    """Time each option after one untimed run that compiles it. A small op is timed in batches of runs per wait
    (about BATCH_S each), so the submit-and-wait cost does not drown it, and the options take turns, so a machine
    whose speed drifts (shared VMs move 2x between minutes) slows them alike. The static default (options[0])
    keeps its place unless another is faster by MARGIN."""
    for variant in options:
        run(variant)
        device.sync()

    def per_run(variant: Variant, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            run(variant)
        device.sync()
        return (time.perf_counter() - t0) / n

    once = per_run(options[0], 1)
    batch = 1 if once >= BATCH_S else min(MAX_BATCH, -(-BATCH_S // max(once, 1e-6)))
    times = dict.fromkeys((v.name for v in options), float("inf"))
    deadline = time.perf_counter() + BUDGET_S
    for _ in range(REPEAT):
        for variant in options:
            times[variant.name] = min(times[variant.name], per_run(variant, int(batch)))
        if time.perf_counter() > deadline:
            break
    default = options[0]
    fastest = min(options, key=lambda v: times[v.name])
    return fastest if times[fastest.name] < MARGIN * times[default.name] else default


class TuneCache:
    """Measured choices for one adapter: (family, *shape class) -> variant name. Kept in memory, and natively in a
    JSON file (``GPUML_TUNE_CACHE``, default ~/.cache/gpuml/tune.json) under "<adapter> | gpuml <version>"."""

    def __init__(self, adapter: str):
        self.scope = f"{adapter} | gpuml {VERSION}"
        self.choices: dict[tuple, str] = {}
        self.uses: dict[tuple, int] = {}  # uses of shape classes not tuned yet, in this process
        self.path = _cache_path()
        self._loaded = False

    def load(self) -> None:
        """Read the choices stored for this adapter (done lazily on the first lookup; describe() calls it).
        Choices made in this process win over stored ones."""
        self._loaded = True
        if self.path is None or not self.path.exists():
            return
        try:
            stored = json.loads(self.path.read_text()).get(self.scope, {})
        except (OSError, ValueError):  # unreadable or half-written: re-measure
            return
        for k, v in stored.items():
            self.choices.setdefault(tuple(json.loads(k)), v)

    def due(self, key: tuple) -> bool:
        """Count a use of shape class ``key`` with no stored choice; True once it reaches its
        ``GPUML_TUNE_AFTER``-th use in this process. Timing compiles every applicable variant (seconds for a
        convolution on lavapipe), which a one-off call should not wait for; a shape that recurs (a training
        loop, a second fit) pays it once and the choice is kept on disk (benchmarks/RESULTS.md, "Cold start")."""
        text = setting("GPUML_TUNE_AFTER")
        try:
            after = int(text)
        except ValueError:
            raise ValueError(f"GPUML_TUNE_AFTER={text!r}: use a whole number of uses (1: tune on first use)") from None
        if warming():  # a warm-up compiles what the real call will run: the static default, and no timing
            return False
        n = self.uses[key] = self.uses.get(key, 0) + 1
        return n >= after

    def get(self, key: tuple) -> str | None:
        if not self._loaded:
            self.load()
        return self.choices.get(key)

    def put(self, key: tuple, name: str) -> None:
        self.choices[key] = name
        if self.path is None:
            return
        try:
            data = json.loads(self.path.read_text()) if self.path.exists() else {}
        except (OSError, ValueError):
            data = {}
        data.setdefault(self.scope, {})[json.dumps(list(key))] = name
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:  # read-only home: the choice stays in memory
            pass

    def clear(self) -> None:
        self.choices.clear()
        self.uses.clear()


def _cache_path() -> Path | None:
    where = setting("GPUML_TUNE_CACHE")
    if where == "off" or sys.platform == "emscripten":  # the page keeps its choices in memory
        return None
    if where:
        return Path(where).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "gpuml" / "tune.json"


def describe(device) -> str:
    """Every variant table with the variants that apply on ``device`` and the choices measured so far."""
    caps = device.caps
    device.tune_cache.load()
    lines = [f"kernel variants on {device.adapter} ({caps})"]
    for family, table in sorted(TABLES.items()):
        lines.append(f"\n{family}" + (f"  (force with {table.force_setting})" if table.force_setting else ""))
        for v in table.variants:
            tmpl = " ".join(f"{k}={val}" for k, val in v.template.items())
            lines.append(f"  {v.name:<14} shaders/{v.shader} {tmpl}".rstrip() + (f"  — {v.note}" if v.note else ""))
        chosen = {k[1:]: n for k, n in device.tune_cache.choices.items() if k[0] == family}
        for shape, name in sorted(chosen.items(), key=str):
            lines.append(f"  chosen for {shape}: {name}")
    return "\n".join(lines)
