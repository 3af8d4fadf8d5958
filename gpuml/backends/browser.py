"""The ``browser`` backend: WebGPU through ``navigator.gpu`` from Pyodide (no numpy needed).

Synchronous use (``t.numpy()``, ``t.tolist()``, ``BrowserDevice.create()``) blocks on JS promises with
``pyodide.ffi.run_sync`` (JSPI), which Pyodide allows in code started by ``pyodide.runPythonAsync``. Where it is
not allowed, create the device with ``await gpuml.backends.init_async()`` and read with
``await t.tolist_async()`` / ``to_bytes_async()`` / ``numpy_async()``.

Errors never pass silently: shader compile errors raise :class:`gpuml.ShaderCompileError` (file and line in
``shaders/``); every submit runs inside a validation error scope whose result is checked before a read returns
data (an invalid command buffer would otherwise leave the read with stale contents); uncaptured errors and a
lost device raise :class:`WebGPUError` on the next call.
"""

from __future__ import annotations

import struct
from typing import Any

from ..wgsl import ComposedShader, compile_error
from .browser_js import adapter_info, helpers, js_obj, snake, u32, unset
from .gpu import QUERY, READBACK, STORAGE, UNIFORM, GPUDevice, pool_bucket

try:  # only inside Pyodide; importing this module elsewhere is harmless
    import js
    from pyodide.ffi import JsProxy, can_run_sync, create_once_callable, create_proxy, jsnull, run_sync, to_js
except ImportError:  # pragma: no cover - native Python
    js = None

__all__ = ["BrowserDevice", "PipelinePending", "WebGPUError"]

# WebGPU feature name -> gpuml's canonical name (the native backend's names).
OPTIONAL_FEATURES = {"subgroups": "subgroup", "timestamp-query": "timestamp-query", "shader-f16": "shader-f16"}
# Limits raised to the adapter's maximum instead of WebGPU's conservative defaults (JS names).
RAISED_LIMITS = (
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
    "maxStorageBuffersPerShaderStage",
)
# Uploads at least this large go through a zero-copy view of the Python buffer; smaller ones through to_js.
_VIEW_UPLOAD_BYTES = 64 * 1024
# Submit error scopes are folded into one promise once this many are waiting to be checked.
_MAX_PENDING_SCOPES = 16

_ASYNC_HINT = (
    "use the async API instead: `await gpuml.backends.init_async()` to create the device and "
    "`await t.tolist_async()` / `await t.to_bytes_async()` / `await t.numpy_async()` to read, or run the code "
    "with pyodide.runPythonAsync so that blocking calls (JSPI run_sync) are allowed"
)


class PipelinePending(BaseException):
    """Raised by a kernel's first use while ``BrowserDevice.defer_compiles`` is set: its pipeline is being compiled
    asynchronously; ``promise`` (a JS Promise) settles when it is done, and the same work run again then finds it.
    A BaseException, so ``except Exception`` blocks (e.g. the subgroup probe) do not swallow it."""

    def __init__(self, path: str, promise):
        super().__init__(f"shaders/{path} is compiling")
        self.path, self.promise = path, promise


class WebGPUError(RuntimeError):
    """A WebGPU validation/out-of-memory/internal error, or a lost device, reported by the browser."""


def _require_pyodide() -> None:
    if js is None:
        raise RuntimeError("the browser backend runs only inside Pyodide (use the native backend elsewhere)")


class BrowserDevice(GPUDevice):
    name = "browser"

    def __init__(self, adapter, device):
        """Wrap a JS ``GPUAdapter`` and the ``GPUDevice`` requested from it; use :meth:`create` or
        :meth:`create_async` instead of calling this directly."""
        _require_pyodide()
        h = helpers()
        info = h.plain(adapter.info).to_py()
        self.adapter_info = adapter_info(info)
        self._device = device
        self._queue = device.queue
        self.features = frozenset(OPTIONAL_FEATURES.get(f, f) for f in device.features)
        self.limits = {snake(k): v for k, v in h.plain(device.limits).to_py().items()}
        usage, self._map_mode = js.GPUBufferUsage, js.GPUMapMode.READ
        self._usage = {
            STORAGE: usage.STORAGE | usage.COPY_SRC | usage.COPY_DST,
            UNIFORM: usage.UNIFORM | usage.COPY_DST,
            READBACK: usage.MAP_READ | usage.COPY_DST,
            QUERY: usage.QUERY_RESOLVE | usage.COPY_SRC,
        }
        # Error plumbing: lost device (permanent), uncaptured errors (raised once), submit error scopes (checked
        # before any read returns data), and pipelines whose compile result could not be awaited synchronously.
        self._lost: str | None = None
        self._errors: list[str] = []
        self._pending: list[Any] = []
        self._unchecked: list[tuple[ComposedShader, Any, Any]] = []
        device.lost.then(create_once_callable(self._on_lost))
        self._on_error_proxy = create_proxy(self._on_uncaptured)
        device.addEventListener("uncapturederror", self._on_error_proxy)
        # Readback staging buffers: several reads may be in flight (asyncio.gather), each needs its own buffer.
        self._staging_free: dict[int, list[Any]] = {}
        self._staging_size: dict[int, int] = {}
        # Asynchronous compiles (see PipelinePending): source -> (JS record of compileAsync, bind group layout).
        self.defer_compiles = False
        self._async_compiles: dict[str, tuple[Any, Any]] = {}
        super().__init__()
        if "timestamp-query" in self.features:
            self._query_set = device.createQuerySet(js_obj({"type": "timestamp", "count": 2}))
            self._query_buf = self._create_buffer(256, QUERY)
            self._query_read = self._create_buffer(256, READBACK)

    # --- creation -------------------------------------------------------------------------------------
    @classmethod
    async def create_async(cls, power_preference: str = "high-performance") -> BrowserDevice:
        """Request an adapter and a device from ``navigator.gpu`` with gpuml's features and raised limits."""
        _require_pyodide()
        gpu = getattr(js.navigator, "gpu", None)
        if gpu is None or gpu is jsnull:
            raise RuntimeError(
                "navigator.gpu is not available: this browser or context has no WebGPU (it needs a secure context "
                "- https or localhost - and a WebGPU browser; headless Chromium needs --enable-unsafe-webgpu)"
            )
        adapter = await gpu.requestAdapter(js_obj({"powerPreference": power_preference}))
        if adapter is None or adapter is jsnull:
            raise RuntimeError("navigator.gpu.requestAdapter() returned null: WebGPU is blocked or has no adapter")
        features = [f for f in OPTIONAL_FEATURES if adapter.features.has(f)]
        limits = {name: getattr(adapter.limits, name) for name in RAISED_LIMITS}
        device = await adapter.requestDevice(
            js_obj({"label": "gpuml", "requiredFeatures": features, "requiredLimits": limits})
        )
        return cls(adapter, device)

    @classmethod
    def create(cls, power_preference: str = "high-performance") -> BrowserDevice:
        """Synchronous :meth:`create_async` (needs JSPI: code run by ``pyodide.runPythonAsync``)."""
        _require_pyodide()
        if not can_run_sync():
            raise RuntimeError(f"BrowserDevice.create() cannot block on WebGPU promises here; {_ASYNC_HINT}")
        return run_sync(cls.create_async(power_preference))

    @property
    def js_device(self):
        """The underlying JS ``GPUDevice`` (for rendering on the same device)."""
        return self._device

    # --- error plumbing -------------------------------------------------------------------------------
    def _on_lost(self, info) -> None:
        if not self._lost:
            self._lost = f"WebGPU device lost ({info.reason}): {info.message}"

    def _on_uncaptured(self, event) -> None:
        err = event.error
        self._errors.append(f"{err.constructor.name}: {err.message}")

    def _check(self) -> None:
        if self._lost:
            raise WebGPUError(self._lost)
        if self._errors:
            errors, self._errors = self._errors, []
            raise WebGPUError("WebGPU error(s) in earlier work: " + "\n".join(errors))

    def _block(self, make_awaitable, what: str):
        """Run ``make_awaitable()`` to completion with JSPI, or explain the async API where blocking is not allowed."""
        if not can_run_sync():
            raise RuntimeError(f"{what} cannot block on WebGPU promises here; {_ASYNC_HINT}")
        return run_sync(make_awaitable())

    async def _check_async(self, extra=None) -> str:
        """Await every pending check (submit error scopes, deferred compile results, ``extra``); raise on
        compile errors, return the text of other errors ("" when none)."""
        while self._unchecked:
            shader, info, scope = self._unchecked.pop(0)
            self._raise_compile_errors(shader, await info, await scope)
        pending, self._pending = self._pending, []
        if extra is not None:
            pending.append(extra)
        return str(await helpers().settle(to_js(pending))) if pending else ""

    # --- raw WebGPU calls -----------------------------------------------------------------------------
    def _create_buffer(self, size, kind):
        self._check()
        return self._device.createBuffer(js_obj({"size": size, "usage": self._usage[kind]}))

    def _destroy_buffer(self, handle):
        handle.destroy()

    def _write_buffer(self, handle, offset, data):
        self._check()
        self._upload(handle, offset, data)

    def _upload(self, handle, offset, data) -> None:
        if isinstance(data, JsProxy):  # already a typed array / ArrayBuffer
            self._queue.writeBuffer(handle, offset, data)
            return
        view = memoryview(data).cast("B")
        if len(view) % 4:  # writeBuffer sizes must be multiples of 4
            view = memoryview(bytes(view) + bytes(4 - len(view) % 4))
        if len(view) < _VIEW_UPLOAD_BYTES:
            self._queue.writeBuffer(handle, offset, to_js(view))  # one copy into a fresh Uint8Array
            return
        proxy = create_proxy(view)  # a Uint8Array view into the WASM heap: writeBuffer copies straight from it
        try:
            pybuf = proxy.getBuffer("u8")
            try:
                self._queue.writeBuffer(handle, offset, pybuf.data)
            finally:
                pybuf.release()
        finally:
            proxy.destroy()

    def _create_pipeline(self, shader: ComposedShader):
        self._check()
        pending = self._async_compiles.get(shader.source)
        if pending is not None:
            return self._finish_async(shader, *pending)
        dev = self._device
        # Tint requires `enable subgroups;` (naga rejects it; the native backend strips it): keep it here.
        dev.pushErrorScope("validation")
        module = dev.createShaderModule(js_obj({"label": shader.path, "code": shader.source}))
        entries = []
        for b in shader.bindings:
            if b.kind == "uniform":
                layout = {"type": "uniform", "hasDynamicOffset": True}
            elif b.kind == "read":
                layout = {"type": "read-only-storage"}
            else:
                layout = {"type": "storage"}
            entries.append({"binding": b.index, "visibility": js.GPUShaderStage.COMPUTE, "buffer": layout})
        bgl = dev.createBindGroupLayout(js_obj({"label": shader.path, "entries": entries}))
        layout = dev.createPipelineLayout(js_obj({"bindGroupLayouts": [bgl]}))
        desc = js_obj({"label": shader.path, "layout": layout, "compute": {"module": module, "entryPoint": "main"}})
        if self.defer_compiles:  # compile in the background; the caller runs its work again once it is done
            rec = helpers().compileAsync(dev, module, desc)
            dev.popErrorScope()
            self._async_compiles[shader.source] = (rec, bgl)
            raise PipelinePending(shader.path, rec.done)
        info = module.getCompilationInfo()
        pipeline = dev.createComputePipeline(desc)
        scope = dev.popErrorScope()
        if can_run_sync():
            self._raise_compile_errors(shader, run_sync(info), run_sync(scope))
        else:  # checked (and raised) by the next async read
            self._unchecked.append((shader, info, scope))
        return pipeline, bgl

    def _finish_async(self, shader: ComposedShader, rec, bgl):
        """The pipeline of an asynchronous compile: raise PipelinePending while it runs (in deferred mode), else
        wait for it; compile errors are raised as for a synchronous compile."""
        if unset(rec.pipeline) and unset(rec.error):
            if self.defer_compiles:
                raise PipelinePending(shader.path, rec.done)
            self._block(lambda: rec.done, "waiting for a pipeline being compiled")
        del self._async_compiles[shader.source]
        if not unset(rec.error):
            raise compile_error(shader, str(rec.error))
        self._raise_compile_errors(shader, rec, None)
        return rec.pipeline, bgl

    @staticmethod
    def _raise_compile_errors(shader: ComposedShader, info, scope_error) -> None:
        errors = [m for m in info.messages if m.type == "error"]
        if errors:
            first = errors[0]
            message = str(first.message)
            if len(errors) > 1:
                message += f" (and {len(errors) - 1} more error(s))"
            raise compile_error(shader, message, int(first.lineNum) or None)
        if scope_error is not None and scope_error is not jsnull:
            raise compile_error(shader, f"{scope_error.constructor.name}: {scope_error.message}")

    def _create_bind_group(self, layout, entries):
        self._check()
        return self._device.createBindGroup(
            js_obj(
                {
                    "layout": layout,
                    "entries": [
                        {"binding": i, "resource": {"buffer": h, "offset": o, "size": s}} for i, h, o, s in entries
                    ],
                }
            )
        )

    def _submit(self, commands, ring, timestamps):
        # Earlier uncaptured errors are raised by the next read, not here: raising would drop recorded work
        # whose output tensors the caller already holds.
        if self._lost:
            raise WebGPUError(self._lost)
        dev = self._device
        dev.pushErrorScope("validation")
        if ring is not None:
            self._upload(ring[0], 0, ring[1])
        encoder = dev.createCommandEncoder()
        offsets = [c[3] for c in commands if c[0] == "dispatch" and c[3] is not None]
        js_offsets = to_js(memoryview(u32(offsets))) if offsets else None
        use_ts = timestamps and self._query_set is not None
        n_passes = sum(
            1 for i, c in enumerate(commands) if c[0] == "dispatch" and (i == 0 or commands[i - 1][0] != "dispatch")
        )
        pass_index, cpass, k = 0, None, 0
        for cmd in commands:
            if cmd[0] == "dispatch":
                if cpass is None:
                    desc = None
                    if use_ts and (pass_index == 0 or pass_index == n_passes - 1):
                        writes = {"querySet": self._query_set}
                        if pass_index == 0:
                            writes["beginningOfPassWriteIndex"] = 0
                        if pass_index == n_passes - 1:
                            writes["endOfPassWriteIndex"] = 1
                        desc = js_obj({"timestampWrites": writes})
                    cpass = encoder.beginComputePass(desc) if desc is not None else encoder.beginComputePass()
                    pass_index += 1
                _, pipeline, group, offset, grid = cmd
                cpass.setPipeline(pipeline)
                if offset is None:
                    cpass.setBindGroup(0, group)
                else:
                    cpass.setBindGroup(0, group, js_offsets, k, 1)
                    k += 1
                cpass.dispatchWorkgroups(*grid)
            else:
                if cpass is not None:
                    cpass.end()
                    cpass = None
                _, src, src_off, dst, dst_off, size = cmd
                encoder.copyBufferToBuffer(src, src_off, dst, dst_off, size)
        if cpass is not None:
            cpass.end()
        if use_ts and n_passes:
            encoder.resolveQuerySet(self._query_set, 0, 2, self._query_buf, 0)
            encoder.copyBufferToBuffer(self._query_buf, 0, self._query_read, 0, 16)
        self._queue.submit([encoder.finish()])
        self._pending.append(dev.popErrorScope())
        if len(self._pending) > _MAX_PENDING_SCOPES:
            self._pending = [helpers().settle(to_js(self._pending))]

    # --- readback -------------------------------------------------------------------------------------
    def _readback_buffer(self, nbytes):
        size = pool_bucket(nbytes)
        free = self._staging_free.get(size)
        staging = free.pop() if free else self._create_buffer(size, READBACK)
        self._staging_size[id(staging)] = size
        return staging

    def _release_staging(self, staging) -> None:
        size = self._staging_size.pop(id(staging), None)
        if size is not None:
            self._staging_free.setdefault(size, []).append(staging)

    def _map_read(self, staging, nbytes):
        if can_run_sync() and not self._unchecked:
            return self._map_read_blocking(staging, nbytes)
        if not can_run_sync():
            self._release_staging(staging)
        return self._block(
            lambda: self._map_read_async(staging, nbytes), "a synchronous read (numpy()/tolist()/to_bytes())"
        )

    def _settle_with(self, extra):
        """A JS promise settling every pending submit error scope and ``extra`` (see browser_js.JS_HELPERS)."""
        pending, self._pending = self._pending, []
        pending.append(extra)
        return helpers().settle(to_js(pending))

    def _map_read_blocking(self, staging, nbytes):
        """What _map_read_async does, without a Python coroutine: one JSPI suspension on one JS promise. Running the
        coroutine under run_sync cost ~0.3 ms more per read in Chromium/SwiftShader (a batch-1 LeNet prediction
        4.9 -> 4.4 ms, min of 6 interleaved rounds of 20)."""
        try:
            self._check()
            errors = str(run_sync(self._settle_with(staging.mapAsync(self._map_mode, 0, nbytes))))
            self._check()
            if errors:
                raise WebGPUError(f"WebGPU error in the work before this read (its data would be stale): {errors}")
            return js.Uint8Array.new(staging.getMappedRange(0, nbytes)).to_bytes()
        finally:
            staging.unmap()
            self._release_staging(staging)

    async def _map_read_async(self, staging, nbytes):
        try:
            self._check()
            errors = await self._check_async(staging.mapAsync(self._map_mode, 0, nbytes))
            self._check()
            if errors:
                raise WebGPUError(f"WebGPU error in the work before this read (its data would be stale): {errors}")
            # Copy out before unmap (unmap detaches the ArrayBuffer).
            return js.Uint8Array.new(staging.getMappedRange(0, nbytes)).to_bytes()
        finally:
            staging.unmap()
            self._release_staging(staging)

    def can_block(self) -> bool:
        return bool(can_run_sync())

    def sync(self) -> None:
        """Flush and wait until the device has finished all submitted work (raises on errors in it)."""
        self.flush()
        if can_run_sync() and not self._unchecked:  # one JSPI suspension, no coroutine (see _map_read_blocking)
            self._check()
            errors = str(run_sync(self._settle_with(self._queue.onSubmittedWorkDone())))
            self._check()
            if errors:
                raise WebGPUError(f"WebGPU error in submitted work: {errors}")
            return
        self._block(self.sync_async, "sync()")

    async def sync_async(self) -> None:
        self.flush()
        self._check()
        errors = await self._check_async(self._queue.onSubmittedWorkDone())
        self._check()
        if errors:
            raise WebGPUError(f"WebGPU error in submitted work: {errors}")

    def _read_timestamps(self):
        begin, end = struct.unpack("<QQ", self._map_read(self._query_read, 16))
        return (end - begin) * 1e-9 if end > begin else None

    def destroy(self) -> None:
        """Destroy the JS device (its buffers become invalid); later calls raise :class:`WebGPUError`."""
        if self._lost and self._on_error_proxy is None:
            return
        self._lost = self._lost or "WebGPU device lost: destroyed by BrowserDevice.destroy()"
        self._device.removeEventListener("uncapturederror", self._on_error_proxy)
        self._on_error_proxy.destroy()
        self._on_error_proxy = None
        self._device.destroy()
