"""The logic shared by the two WebGPU backends (``native`` over wgpu-py, ``browser`` over ``navigator.gpu``).

:class:`GPUDevice` owns everything that is not an API call: the buffer pool, the uniform ring, the bind-group and
pipeline caches, and the list of recorded commands. A subclass only supplies the raw WebGPU calls
(``_create_buffer``, ``_submit``, ...).

Execution model: kernel calls are *recorded*, not submitted. ``flush()`` encodes every recorded dispatch into one
command encoder (one compute pass per run of dispatches) and submits once; a read flushes first. So a chain of
ops costs one submit and no host round trip. Per-dispatch parameters go to a slot of one uniform ring buffer
bound with a dynamic offset, written with a single ``writeBuffer`` at flush time.

Threads: one re-entrant lock per device serializes recording, flushing, readback and the buffer pool, so several
threads may run ops on one device (their commands interleave in one stream, each in its own program order). A
tensor finalizer never waits for it: ``release`` from a thread that cannot take the lock at once queues the buffer,
and the next pool operation takes it back.

This module must not import numpy or wgpu: it also runs inside Pyodide.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from ..wgsl import ComposedShader, compose
from .base import Device
from .warmup import Warmup

STORAGE, UNIFORM, READBACK, QUERY = "storage", "uniform", "readback", "query"

# Uniform ring: one slot per dispatch between two flushes; a full ring forces a flush.
RING_BYTES = 256 * 1024
# Bind groups are cached by (kernel, buffers); pooled buffers recur, so hits are the rule in loops.
BIND_GROUP_CACHE = 4096


def round_up(n: int, multiple: int) -> int:
    return (n + multiple - 1) // multiple * multiple


def pool_bucket(nbytes: int) -> int:
    """Size class for pooled buffers: four classes per power of two (at most 25% slack), 256-byte minimum."""
    n = max(256, nbytes)
    step = max(256, 1 << max(0, n.bit_length() - 3))
    return round_up(n, step)


class Buffer:
    """A device buffer owned by the pool. ``alive`` turns False when it is destroyed for good."""

    __slots__ = ("__weakref__", "alive", "handle", "serial", "size")
    _next_serial = 0

    def __init__(self, handle: Any, size: int):
        Buffer._next_serial += 1
        self.handle, self.size, self.serial, self.alive = handle, size, Buffer._next_serial, True


@dataclass
class Kernel:
    """A compiled shader variant. Call it to record one dispatch; bindings are passed by their WGSL names."""

    device: GPUDevice
    shader: ComposedShader
    pipeline: Any
    layout: Any
    id: int
    storage_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        self.storage_names = tuple(b.name for b in self.shader.bindings if b.kind != "uniform")
        self.storage = tuple((b.index, b.name) for b in self.shader.bindings if b.kind != "uniform")
        self.uniform_index = next((b.index for b in self.shader.bindings if b.kind == "uniform"), None)

    def __call__(self, grid: tuple[int, ...] | int, uniforms: dict | None = None, /, **buffers) -> None:
        self.device.record_dispatch(self, grid, uniforms or {}, buffers)

    def __repr__(self) -> str:
        return f"<Kernel shaders/{self.shader.path} {dict(self.shader.variant)}>"


class GPUDevice(Device):
    """Shared logic of the WebGPU backends (native and browser)."""

    is_gpu = True
    impl_family = "webgpu"

    def __init__(self):
        # Held by every method that touches the command list, the ring, the caches or the pool (see module doc).
        self._lock = threading.RLock()
        # Buffers released by finalizers on threads that could not take the lock at once (deque.append is atomic).
        self._deferred: deque[Buffer] = deque()
        self._free: dict[int, list[Buffer]] = {}
        # Every live Buffer, so its wgpu handle stays reachable: a tensor that dies inside a garbage cycle would
        # otherwise have its handle finalized (released) in the same collection that returns the Buffer to the
        # pool, and the pool would hand out a dead buffer.
        self._owned: dict[int, Buffer] = {}
        self._commands: list[tuple] = []
        self._pending_serials: set[int] = set()
        self._kernels: dict[tuple, Kernel] = {}
        self._compiling: dict[tuple, threading.Event] = {}
        self._kernel_ids = 0
        self.compile_seconds = 0.0  # WGSL composition + pipeline creation, all threads (cold-start accounting)
        self._bind_groups: OrderedDict[tuple, Any] = OrderedDict()
        self._staging: dict[int, Any] = {}
        self._uniform_align = max(16, int(self.limits.get("min_uniform_buffer_offset_alignment", 256)))
        self._ring = self._create_buffer(RING_BYTES, UNIFORM)
        self._ring_data = bytearray(RING_BYTES)
        self._ring_used = 0
        self._query_set = None
        self._profile: list | None = None
        self._subgroup_size: int | None = None
        self.stats = {
            "buffers_created": 0,
            "buffers_destroyed": 0,
            "bytes_live": 0,
            "bytes_pooled": 0,
            "pool_hits": 0,
            "dispatches": 0,
            "submits": 0,
            "readbacks": 0,
            "bind_groups_created": 0,
            "pipelines_created": 0,
        }

    # --- raw WebGPU calls, supplied by subclasses -------------------------------------------------
    def _create_buffer(self, size: int, kind: str) -> Any:
        raise NotImplementedError

    def _destroy_buffer(self, handle: Any) -> None:
        raise NotImplementedError

    def _write_buffer(self, handle: Any, offset: int, data) -> None:
        raise NotImplementedError

    def _create_pipeline(self, shader: ComposedShader) -> tuple[Any, Any]:
        """Compile ``shader``; return (pipeline, bind group layout). Raise ShaderCompileError on WGSL errors."""
        raise NotImplementedError

    def _create_bind_group(self, layout: Any, entries: list[tuple[int, Any, int, int]]) -> Any:
        raise NotImplementedError

    def _submit(self, commands: list[tuple], ring: tuple[Any, bytes] | None, timestamps: bool) -> None:
        raise NotImplementedError

    def _map_read(self, staging: Any, nbytes: int) -> bytes:
        raise NotImplementedError

    async def _map_read_async(self, staging: Any, nbytes: int) -> bytes:
        return self._map_read(staging, nbytes)

    # --- buffers ------------------------------------------------------------------------------------
    def alloc(self, nbytes: int) -> Buffer:
        """A storage buffer of at least ``nbytes`` from the pool (new only when the pool has none)."""
        if nbytes > self.max_binding_bytes:
            raise ValueError(
                f"a tensor of {nbytes:,} bytes exceeds this adapter's max_storage_buffer_binding_size "
                f"({self.max_binding_bytes:,} bytes, {self.adapter}); split it into smaller tensors"
            )
        size = pool_bucket(nbytes)  # never zero bytes: an empty tensor gets the 256-byte minimum
        with self._lock:
            if self._deferred:
                self._take_deferred()
            free = self._free.get(size)
            if free:
                self.stats["pool_hits"] += 1
                self.stats["bytes_pooled"] -= size
                buf = free.pop()
            else:
                buf = Buffer(self._create_buffer(size, STORAGE), size)
                self._owned[buf.serial] = buf
                self.stats["buffers_created"] += 1
            self.stats["bytes_live"] += size
            return buf

    def release(self, buf: Buffer) -> None:
        """Return ``buf`` to the pool for immediate reuse. Safe while recorded commands still use it: later
        dispatches run after them in stream order, and a host upload into it flushes first (see ``write``).
        Called from tensor finalizers on any thread: it never blocks (a busy lock queues the buffer instead)."""
        if not self._lock.acquire(blocking=False):
            self._deferred.append(buf)
            return
        try:
            self._pool(buf)
        finally:
            self._lock.release()

    def _pool(self, buf: Buffer) -> None:
        if not buf.alive:
            return
        self.stats["bytes_live"] -= buf.size
        self._free.setdefault(buf.size, []).append(buf)
        self.stats["bytes_pooled"] += buf.size

    def _take_deferred(self) -> None:
        """Pool the buffers finalizers queued (caller holds the lock)."""
        while self._deferred:
            self._pool(self._deferred.popleft())

    def empty_cache(self) -> None:
        """Destroy every pooled (unused) buffer, like ``torch.cuda.empty_cache``."""
        with self._lock:
            self.flush()
            self._take_deferred()
            self._destroy_pooled()

    def _destroy_pooled(self) -> None:
        dead = set()
        # swap the pool out first: a finalizer run by gc in this loop (same thread, so it takes the lock) pools into
        # the new dict instead of changing the one being iterated
        pooled, self._free = self._free, {}
        for bufs in pooled.values():
            for buf in bufs:
                buf.alive = False
                dead.add(buf.serial)
                self._owned.pop(buf.serial, None)
                self._destroy_buffer(buf.handle)
                self.stats["buffers_destroyed"] += 1
                self.stats["bytes_pooled"] -= buf.size
        # a bind group key is (kernel id, then serial, offset, size of each storage binding)
        for key in [k for k in self._bind_groups if any(s in dead for s in k[1::3])]:
            del self._bind_groups[key]

    def write(self, buf: Buffer, data, offset: int = 0) -> None:
        """Copy host bytes into ``buf`` (``data``: a bytes-like object, or a typed array in the browser)."""
        if not buf.alive:
            raise RuntimeError("write to a destroyed buffer")
        with self._lock:
            if buf.serial in self._pending_serials:
                self.flush()  # queue writes run before recorded commands: keep program order
            self._write_buffer(buf.handle, offset, data)

    def copy(self, src: Buffer, dst: Buffer, nbytes: int, src_offset: int = 0, dst_offset: int = 0) -> None:
        if nbytes <= 0:
            return  # an empty tensor: nothing to copy (WebGPU copies need a size > 0 to be useful)
        with self._lock:
            self._commands.append(("copy", src.handle, src_offset, dst.handle, dst_offset, round_up(nbytes, 4)))
            self._pending_serials.update((src.serial, dst.serial))

    def _readback_buffer(self, nbytes: int) -> Any:
        size = pool_bucket(nbytes)
        staging = self._staging.get(size)
        if staging is None:
            staging = self._staging[size] = self._create_buffer(size, READBACK)
        return staging

    def read(self, buf: Buffer, nbytes: int, offset: int = 0) -> bytes:
        """Flush recorded work and return ``nbytes`` of ``buf`` (blocking)."""
        if nbytes <= 0:  # an empty tensor: no zero-size copy or mapping (WebGPU rejects them)
            return self._read_nothing(buf)
        with self._lock:  # the staging buffer is shared: copy, map and unmap as one step
            staging = self._prepare_read(buf, nbytes, offset)
            data = self._map_read(staging, round_up(nbytes, 4))
        return data if len(data) == nbytes else data[:nbytes]

    async def read_async(self, buf: Buffer, nbytes: int, offset: int = 0) -> bytes:
        if nbytes <= 0:
            return self._read_nothing(buf)
        with self._lock:  # no lock across the await: the browser backend maps a staging buffer per read
            staging = self._prepare_read(buf, nbytes, offset)
        return (await self._map_read_async(staging, round_up(nbytes, 4)))[:nbytes]

    @staticmethod
    def _read_nothing(buf: Buffer) -> bytearray:
        if not buf.alive:
            raise RuntimeError("read from a destroyed buffer")
        return bytearray()

    def _prepare_read(self, buf: Buffer, nbytes: int, offset: int) -> Any:
        if not buf.alive:
            raise RuntimeError("read from a destroyed buffer")
        with self._lock:
            staging = self._readback_buffer(nbytes)
            self._commands.append(("copy", buf.handle, offset, staging, 0, round_up(nbytes, 4)))
            self.stats["readbacks"] += 1
            self.flush()
            return staging

    # --- kernels ------------------------------------------------------------------------------------
    def kernel(self, path: str, **variant) -> Kernel:
        """The compiled kernel ``shaders/<path>`` for template values ``variant`` (cached)."""
        key = (path, tuple(sorted(variant.items())))
        k = self._kernels.get(key)
        return k if k is not None else self._compile(key, path, variant)

    def _compile(self, key: tuple, path: str, variant: dict) -> Kernel:
        """Compile once per key, outside the device lock (the driver call releases the GIL too): a warm-up thread
        (:meth:`warm`) never holds up recording or reads; a thread needing a kernel being compiled waits for it."""
        while True:
            with self._lock:
                k = self._kernels.get(key)
                if k is not None:
                    return k
                pending = self._compiling.get(key)
                if pending is None:
                    pending = self._compiling[key] = threading.Event()
                    break
            pending.wait()  # compiled by another thread (or failed there: then this thread tries itself)
        try:
            t0 = time.perf_counter()
            shader = compose(path, **variant)
            pipeline, layout = self._create_pipeline(shader)
            with self._lock:  # kernel ids (bind-group keys) stay unique
                self.stats["pipelines_created"] += 1
                self.compile_seconds += time.perf_counter() - t0
                self._kernel_ids += 1
                k = self._kernels[key] = Kernel(self, shader, pipeline, layout, self._kernel_ids)
            return k
        finally:
            with self._lock:
                self._compiling.pop(key).set()

    def warm(self, *work) -> Warmup:
        """Run the callables ``work`` (e.g. a model's forward on a blank input) on a background thread, so the
        kernels a workload needs compile while the user reads; ``wait()`` on the returned Warmup re-raises errors."""
        return Warmup(work)

    def grid_1d(self, n_workgroups: int) -> tuple[int, int, int]:
        """Split ``n_workgroups`` into (x, y, 1) under the per-dimension limit; kernels linearise with
        ``wid.x + wid.y * nwg.x`` (see shaders/common/index.wgsl) and bounds-check the tail."""
        limit = int(self.limits.get("max_compute_workgroups_per_dimension", 65535))
        n = max(1, n_workgroups)
        if n <= limit:
            return (n, 1, 1)
        y = -(-n // limit)
        return (-(-n // y), y, 1)

    def record_dispatch(self, kernel: Kernel, grid, params: dict, buffers: dict) -> None:
        shader = kernel.shader
        grid = (grid, 1, 1) if isinstance(grid, int) else tuple(grid) + (1,) * (3 - len(grid))
        limit = int(self.limits.get("max_compute_workgroups_per_dimension", 65535))
        if grid[0] > limit or grid[1] > limit or grid[2] > limit:
            raise ValueError(f"{kernel}: grid {grid} exceeds max_compute_workgroups_per_dimension {limit}")
        if len(buffers) != len(kernel.storage_names) or not all(n in buffers for n in kernel.storage_names):
            missing = [n for n in kernel.storage_names if n not in buffers]
            extra = [n for n in buffers if n not in kernel.storage_names]
            raise TypeError(f"{kernel}: bindings are {list(kernel.storage_names)}; missing {missing}, unknown {extra}")
        with self._lock:
            entries, key = [], [kernel.id]
            align = int(self.limits.get("min_storage_buffer_offset_alignment", 256))
            pending = self._pending_serials
            for index, name in kernel.storage:
                buf, start, nbytes = _as_binding(buffers[name])
                if not buf.alive:
                    raise RuntimeError(f"{kernel}: binding '{name}' refers to a destroyed buffer")
                if start % align:
                    raise ValueError(
                        f"{kernel}: binding '{name}' starts at byte {start}, not a multiple of the adapter's "
                        f"min_storage_buffer_offset_alignment ({align})"
                    )
                # whole 64-byte blocks: kernels may read/write padded vec4 or mat4x4 elements past the tensor's end
                size = min(buf.size - start, round_up(max(nbytes, 4), 64))
                entries.append((index, buf.handle, start, size))
                key += (buf.serial, start, size)
                pending.add(buf.serial)
            offset = None
            if shader.uniform is not None:
                data = shader.uniform.pack(params)
                offset = round_up(self._ring_used, self._uniform_align)
                if offset + len(data) > RING_BYTES:
                    self.flush()
                    offset = 0
                self._ring_data[offset : offset + len(data)] = data
                self._ring_used = offset + len(data)
                entries.append((kernel.uniform_index, self._ring, 0, shader.uniform.size))
            elif params:
                raise TypeError(f"{kernel} takes no uniform parameters, got {sorted(params)}")
            key = tuple(key)
            group = self._bind_groups.get(key)
            if group is None:
                group = self._create_bind_group(kernel.layout, entries)
                self.stats["bind_groups_created"] += 1
                self._bind_groups[key] = group
                if len(self._bind_groups) > BIND_GROUP_CACHE:
                    self._bind_groups.popitem(last=False)
            else:
                self._bind_groups.move_to_end(key)
            self._commands.append(("dispatch", kernel.pipeline, group, offset, grid))
            self.stats["dispatches"] += 1
            if self._profile is not None:
                self._profile_dispatch(kernel, grid)

    # --- submission -----------------------------------------------------------------------------------
    def flush(self, timestamps: bool = False) -> None:
        """Encode and submit everything recorded since the last flush (one encoder, one submit)."""
        if not self._commands:
            return
        with self._lock:
            if not self._commands:
                return
            ring = (self._ring, bytes(self._ring_data[: self._ring_used])) if self._ring_used else None
            commands, self._commands = self._commands, []
            self._ring_used = 0
            self._pending_serials.clear()
            self._submit(commands, ring, timestamps)
            self.stats["submits"] += 1

    def sync(self) -> None:
        """Flush and wait until the device has finished all submitted work."""
        with self._lock:
            self.flush()
            self._map_read(self._readback_buffer(4), 4)  # a buffer map is the portable fence

    def memory_stats(self) -> dict[str, int]:
        with self._lock:
            self._take_deferred()
            return dict(self.stats, pooled_buffers=sum(len(v) for v in self._free.values()))

    def subgroup_size(self) -> int:
        """The subgroup size of a workgroup of 8 invocations, probed once by running common/subgroup_size.wgsl
        (0 without the subgroup feature or where the compiler lacks the builtins). Kernels written for 8- or 4-lane
        subgroups (linalg, conv, cluster) pick their variant from it."""
        if self._subgroup_size is None:
            with self._lock:
                self._subgroup_size = self._probe_subgroup_size()
        return self._subgroup_size

    def _probe_subgroup_size(self) -> int:
        if self._subgroup_size is not None:  # another thread probed it while this one waited for the lock
            return self._subgroup_size
        size = 0
        if "subgroup" in self.features:
            out = self.alloc(16)
            try:
                self.kernel("common/subgroup_size.wgsl", WG=8)(1, None, out=out)
                size = struct.unpack_from("<I", self.read(out, 4))[0]
            except Exception:  # a compiler without subgroup builtins: callers use their portable kernels
                size = 0
            finally:
                self.release(out)
        return size if size in (4, 8, 16, 32, 64, 128) else 0

    def _read_timestamps(self) -> float | None:
        raise NotImplementedError

    def profile(self) -> Profile:
        """``with dev.profile() as prof: ...`` runs every dispatch in the block on its own, timed with timestamp
        queries (slow: one submit and wait per dispatch), then ``prof.table()`` lists GPU time per kernel."""
        return Profile(self)

    def _profile_dispatch(self, kernel: Kernel, grid) -> None:
        earlier, last = self._commands[:-1], self._commands[-1:]
        self._commands = earlier  # run what was recorded before the profiled dispatch untimed, and wait for it
        self.flush()
        self.sync()
        self._commands = last
        t0 = time.perf_counter()
        self.flush(timestamps=True)
        self.sync()
        wall = time.perf_counter() - t0
        gpu = self._read_timestamps() if "timestamp-query" in self.features else None
        self._profile.append((kernel.shader.path, dict(kernel.shader.variant), tuple(grid), gpu, wall))


def _as_binding(obj) -> tuple[Buffer, int, int]:
    """(buffer, byte offset, bytes in use) for a Tensor or a raw Buffer passed as a kernel binding."""
    if isinstance(obj, Buffer):
        return obj, 0, obj.size
    storage = getattr(obj, "_storage", None)
    if storage is None or not isinstance(storage.buffer, Buffer):
        raise TypeError(f"kernel bindings take gpuml tensors or buffers, got {type(obj).__name__}")
    if storage.buffer is None or not storage.buffer.alive or storage.freed:
        raise RuntimeError("kernel binding refers to a freed tensor")
    return storage.buffer, obj.byte_offset, obj.nbytes


class Profile:
    """Per-dispatch records (shader path, template variant, grid, GPU seconds or None, wall seconds of its own
    submit and wait). Wall far above GPU time for a small kernel means work in the driver at dispatch time (on
    lavapipe: a shader re-specialised for inlined uniform loop bounds, docs/ENGINEERING.md)."""

    def __init__(self, device: GPUDevice):
        self.device = device
        self.records: list[tuple[str, dict, tuple, float | None, float]] = []

    def __enter__(self) -> Profile:
        self.device.flush()
        self.device._profile = self.records
        return self

    def __exit__(self, *exc) -> None:
        self.device._profile = None

    def by_kernel(self) -> list[tuple[str, int, float, float]]:
        """(shader, dispatches, total GPU seconds, total wall seconds), slowest GPU time first."""
        totals: dict[str, list] = {}
        for path, _, _, gpu, wall in self.records:
            entry = totals.setdefault(path, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += gpu or 0.0
            entry[2] += wall
        return sorted(((p, n, t, w) for p, (n, t, w) in totals.items()), key=lambda r: -r[2])

    def table(self) -> str:
        total = sum(r[2] for r in self.by_kernel()) or 1.0
        lines = [f"{'kernel':<40} {'dispatches':>10} {'GPU ms':>9} {'share':>6} {'wall ms':>9}"]
        for path, n, t, w in self.by_kernel():
            lines.append(f"{path:<40} {n:>10} {t * 1e3:>9.3f} {t / total:>6.1%} {w * 1e3:>9.3f}")
        wall = sum(r[3] for r in self.by_kernel())
        lines.append(f"{'total':<40} {len(self.records):>10} {total * 1e3:>9.3f} {'':>6} {wall * 1e3:>9.3f}")
        return "\n".join(lines)
