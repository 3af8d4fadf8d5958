"""Parse wgpu-py's C type strings in one batch before first use (cold start of the native backend).

wgpu-py drives wgpu-native through cffi in ABI mode, where ``ffi.new("WGPUBufferDescriptor *")`` parses its type
string with pycparser the first time it meets it, each time behind a preamble of every typedef in the header
(~430 lines). Opening a device and running the first kernels meets ~48 such strings: one by one they were the
largest part of a first kernel's wait, parsed together in one pycparser call they cost about as much as two
(benchmarks/RESULTS.md, "Cold start"). The results go into cffi's own per-string cache, so wgpu-py finds them.

Relies on cffi internals (``ffi._parser``, ``ffi._parsed_types``); anything unexpected leaves the cache as it was
and wgpu-py parses lazily as before. This module does not import wgpu (callers pass its ffi).
"""

from __future__ import annotations

# The type strings wgpu-py 0.32 parses to request an adapter and a device and to run compute work (buffers, bind
# groups, pipelines, passes, maps), recorded from a run of every gpuml op family. Exact spelling matters: cffi
# caches by the string.
WGPU_TYPES = (
    # adapter
    "WGPUAdapterInfo *",
    "WGPUChainedStruct *",
    "WGPUInstanceDescriptor *",
    "WGPULimits *",
    "WGPUNativeLimits *",
    "WGPURequestAdapterCallbackInfo *",
    "WGPURequestAdapterOptions *",
    "void(WGPURequestAdapterStatus, WGPUAdapter, WGPUStringView, void *, void *)",
    # device
    "WGPUAdapter[]",
    "WGPUBufferDescriptor *",
    "WGPUChainedStruct * ",
    "WGPUDeviceDescriptor *",
    "WGPUDeviceExtras *",
    "WGPUDeviceLostCallbackInfo *",
    "WGPUFeatureName[]",
    "WGPUQuerySetDescriptor *",
    "WGPUQueueDescriptor *",
    "WGPURequestDeviceCallbackInfo *",
    "WGPUUncapturedErrorCallbackInfo *",
    "char []",
    "void(WGPUDevice const *, WGPUDeviceLostReason, WGPUStringView, void *, void *)",
    "void(WGPUDevice const *, WGPUErrorType, WGPUStringView, void *, void *)",
    "void(WGPURequestDeviceStatus, WGPUDevice, WGPUStringView, void *, void *)",
    # compute work
    "WGPUBindGroupDescriptor *",
    "WGPUBindGroupEntry *",
    "WGPUBindGroupEntry[]",
    "WGPUBindGroupLayoutDescriptor *",
    "WGPUBindGroupLayoutEntry *",
    "WGPUBindGroupLayoutEntry[]",
    "WGPUBindGroupLayout[]",
    "WGPUBufferBindingLayout *",
    "WGPUBufferMapCallbackInfo *",
    "WGPUCommandBufferDescriptor *",
    "WGPUCommandBuffer[]",
    "WGPUCommandEncoderDescriptor *",
    "WGPUComputePassDescriptor *",
    "WGPUComputePipelineDescriptor *",
    "WGPUComputeState *",
    "WGPUPassTimestampWrites *",
    "WGPUPipelineLayoutDescriptor *",
    "WGPUShaderModuleDescriptor *",
    "WGPUShaderSourceWGSL *",
    "intptr_t",
    "uint32_t []",
    "uint8_t *",
    "uint8_t []",
    "uintptr_t",
    "void(WGPUMapAsyncStatus, WGPUStringView, void *, void *)",
)


def prime(ffi, cdecls=WGPU_TYPES) -> int:
    """Parse the type strings in ``cdecls`` that ``ffi`` has not parsed yet, in one pycparser call, into cffi's
    cache (what ``ffi.typeof`` would store for each). Returns how many were added; 0 when cffi's internals are not
    as expected (then nothing changed)."""
    try:
        parser, cache, lock = ffi._parser, ffi._parsed_types, ffi._lock
        todo = [c for c in dict.fromkeys(cdecls) if c not in cache]
        if not todo:
            return 0
        # the same wrapper cffi's parse_type uses, one uniquely named dummy function per type string
        source = "\n".join(f"void __gpuml_prime_{i}(\n{c}\n);" for i, c in enumerate(todo))
        with lock:
            ast = parser._parse(source)[0]
            nodes = ast.ext[-len(todo) :]
            parsed = {}
            for i, (cdecl, node) in enumerate(zip(todo, nodes, strict=True)):
                if node.name != f"__gpuml_prime_{i}":
                    return 0
                tp = parser._get_type_and_quals(node.type.args.params[0].type)[0]
                raw_function = tp.is_raw_function
                if raw_function:
                    tp = tp.as_function_pointer()
                parsed[cdecl] = (ffi._get_cached_btype(tp), raw_function)
            for cdecl, entry in parsed.items():
                cache.setdefault(cdecl, entry)
        return len(parsed)
    except Exception:  # another cffi, or a type this wgpu-py no longer declares: wgpu-py parses lazily
        return 0
