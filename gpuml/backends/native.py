"""The ``native`` backend: WebGPU through wgpu-py (Vulkan, Metal, D3D12; Mesa lavapipe on machines without a GPU)."""

from __future__ import annotations

import os
import struct

from ..config import setting
from ..wgsl import ComposedShader, compile_error
from .cffi_types import prime as prime_cffi_types
from .gpu import QUERY, READBACK, STORAGE, UNIFORM, GPUDevice

# Features gpuml uses when the adapter has them; everything works without them.
OPTIONAL_FEATURES = ("subgroup", "timestamp-query", "shader-f16")
# Limits raised to the adapter's maximum instead of WebGPU's conservative defaults.
RAISED_LIMITS = (
    "max-storage-buffer-binding-size",
    "max-buffer-size",
    "max-compute-workgroup-storage-size",
    "max-compute-invocations-per-workgroup",
    "max-compute-workgroup-size-x",
    "max-storage-buffers-per-shader-stage",
)

_BACKEND_RANK = {"Vulkan": 0, "Metal": 0, "D3D12": 1, "OpenGL": 3}
_TYPE_RANK = {"DiscreteGPU": 0, "IntegratedGPU": 1, "VirtualGPU": 2, "CPU": 3, "Unknown": 4}


def _import_wgpu():
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences a harmless wgpu-native warning when unset
    import wgpu

    try:  # parse the C types wgpu-py will need in one batch, not one by one on first use (cffi_types.py)
        from wgpu.backends.wgpu_native._ffi import ffi

        prime_cffi_types(ffi)
    except ImportError:
        pass
    return wgpu


def pick_adapter(wgpu, wanted: str | None = None):
    """The best adapter: a real GPU over a CPU one, Vulkan/Metal/D3D12 over OpenGL.
    ``wanted`` (or ``GPUML_ADAPTER``) selects by a case-insensitive substring of the adapter description."""
    adapters = list(wgpu.gpu.enumerate_adapters_sync())
    if not adapters:
        return None
    wanted = wanted or setting("GPUML_ADAPTER")
    if wanted:
        chosen = [a for a in adapters if wanted.lower() in str(dict(a.info)).lower()]
        if not chosen:
            names = [a.info.get("device") for a in adapters]
            raise RuntimeError(f"GPUML_ADAPTER={wanted!r} matches none of the adapters {names}")
        adapters = chosen
    adapters.sort(
        key=lambda a: (
            _TYPE_RANK.get(a.info.get("adapter_type"), 4),
            _BACKEND_RANK.get(a.info.get("backend_type"), 2),
        )
    )
    return adapters[0]


class NativeDevice(GPUDevice):
    name = "native"

    def __init__(self, adapter=None):
        wgpu = _import_wgpu()
        self._wgpu = wgpu
        adapter = adapter or pick_adapter(wgpu)
        if adapter is None:
            raise RuntimeError("wgpu-py found no WebGPU adapter")
        self.adapter_info = {k: v for k, v in dict(adapter.info).items() if not k.startswith("stackgroup")}
        wanted = [f for f in OPTIONAL_FEATURES if f in adapter.features]
        limits = {name: adapter.limits[name] for name in RAISED_LIMITS if name in adapter.limits}
        self._device = adapter.request_device_sync(required_features=wanted, required_limits=limits)
        self.features = frozenset(self._device.features)
        self.limits = {k.replace("-", "_"): v for k, v in self._device.limits.items()}
        self._queue = self._device.queue
        self._usage = {
            STORAGE: wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST,
            UNIFORM: wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST,
            READBACK: wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST,
            QUERY: wgpu.BufferUsage.QUERY_RESOLVE | wgpu.BufferUsage.COPY_SRC,
        }
        super().__init__()
        if "timestamp-query" in self.features:
            self._query_set = self._device.create_query_set(type="timestamp", count=2)
            self._query_buf = self._create_buffer(256, QUERY)
            self._query_read = self._create_buffer(256, READBACK)

    @property
    def wgpu_device(self):
        """The underlying ``wgpu.GPUDevice`` (shared with demo windows that render on the same device)."""
        return self._device

    def _create_buffer(self, size, kind):
        return self._device.create_buffer(size=size, usage=self._usage[kind])

    def _destroy_buffer(self, handle):
        handle.destroy()

    def _write_buffer(self, handle, offset, data):
        self._queue.write_buffer(handle, offset, data)

    def _create_pipeline(self, shader: ComposedShader):
        wgpu = self._wgpu
        # naga accepts subgroup builtins once the feature is enabled but rejects the WGSL directive.
        source = shader.source.replace("enable subgroups;", "// enable subgroups; (implied by the feature)")
        # naga does not know Tint's subgroup_uniformity diagnostic rule (it would only warn).
        source = source.replace("diagnostic(off, subgroup_uniformity);", "// (Tint-only diagnostic)")
        try:
            module = self._device.create_shader_module(label=shader.path, code=source)
        except Exception as exc:  # wgpu.GPUValidationError carries naga's report with wgsl:LINE:COL
            raise compile_error(shader, str(exc)) from None
        entries = []
        for b in shader.bindings:
            if b.kind == "uniform":
                layout = {"type": wgpu.BufferBindingType.uniform, "has_dynamic_offset": True}
            elif b.kind == "read":
                layout = {"type": wgpu.BufferBindingType.read_only_storage}
            else:
                layout = {"type": wgpu.BufferBindingType.storage}
            entries.append({"binding": b.index, "visibility": wgpu.ShaderStage.COMPUTE, "buffer": layout})
        bgl = self._device.create_bind_group_layout(entries=entries)
        try:
            pipeline = self._device.create_compute_pipeline(
                label=shader.path,
                layout=self._device.create_pipeline_layout(bind_group_layouts=[bgl]),
                compute={"module": module, "entry_point": "main"},
            )
        except Exception as exc:
            raise compile_error(shader, str(exc)) from None
        return pipeline, bgl

    def _create_bind_group(self, layout, entries):
        return self._device.create_bind_group(
            layout=layout,
            entries=[{"binding": i, "resource": {"buffer": h, "offset": o, "size": s}} for i, h, o, s in entries],
        )

    def _submit(self, commands, ring, timestamps):
        if ring is not None:
            self._queue.write_buffer(ring[0], 0, ring[1])
        encoder = self._device.create_command_encoder()
        n_passes = sum(
            1 for i, c in enumerate(commands) if c[0] == "dispatch" and (i == 0 or commands[i - 1][0] != "dispatch")
        )
        pass_index, cpass = 0, None
        for cmd in commands:
            if cmd[0] == "dispatch":
                if cpass is None:
                    writes = None
                    if timestamps and self._query_set is not None:
                        writes = {"query_set": self._query_set}
                        if pass_index == 0:
                            writes["beginning_of_pass_write_index"] = 0
                        if pass_index == n_passes - 1:
                            writes["end_of_pass_write_index"] = 1
                        if len(writes) == 1:
                            writes = None
                    cpass = encoder.begin_compute_pass(timestamp_writes=writes)
                    pass_index += 1
                _, pipeline, group, offset, grid = cmd
                cpass.set_pipeline(pipeline)
                cpass.set_bind_group(0, group, [] if offset is None else [offset])
                cpass.dispatch_workgroups(*grid)
            else:
                if cpass is not None:
                    cpass.end()
                    cpass = None
                _, src, src_off, dst, dst_off, size = cmd
                encoder.copy_buffer_to_buffer(src, src_off, dst, dst_off, size)
        if cpass is not None:
            cpass.end()
        if timestamps and self._query_set is not None and n_passes:
            encoder.resolve_query_set(self._query_set, 0, 2, self._query_buf, 0)
            encoder.copy_buffer_to_buffer(self._query_buf, 0, self._query_read, 0, 16)
        self._queue.submit([encoder.finish()])

    def _map_read(self, staging, nbytes):
        # A buffer map doubles as the fence (queue.on_submitted_work_done_sync crashes in wgpu-py 0.32).
        staging.map_sync(self._wgpu.MapMode.READ, 0, nbytes)
        try:
            return bytearray(staging.read_mapped(0, nbytes, copy=False))  # writable for np.frombuffer
        finally:
            staging.unmap()

    def _read_timestamps(self):
        begin, end = struct.unpack("<QQ", self._map_read(self._query_read, 16))
        return (end - begin) * 1e-9 if end > begin else None
