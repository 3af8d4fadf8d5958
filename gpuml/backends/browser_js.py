"""JS interop for the ``browser`` backend: the small JS helper object it calls into, Python dicts and arrays as JS
values, and the adapter's ``GPUAdapterInfo`` as gpuml's adapter info. No device state lives here."""

from __future__ import annotations

import re
from typing import Any

try:  # only inside Pyodide; importing this module elsewhere is harmless
    import js
    from pyodide.ffi import jsnull, to_js
except ImportError:  # pragma: no cover - native Python
    js = None

JS_HELPERS = """
return {
  // Own and prototype (WebIDL attribute) properties of a GPU info/limits object as a plain object.
  plain(o) {
    const r = {};
    for (const k in o) { const v = o[k]; if (["number", "string", "boolean"].includes(typeof v)) r[k] = v; }
    return r;
  },
  // Settle error-scope promises, folded promises and a mapAsync promise; resolve to "" or the error text.
  settle(ps) {
    return Promise.allSettled(ps).then((rs) => {
      const m = [];
      for (const r of rs) {
        if (r.status === "rejected") m.push(String((r.reason && r.reason.message) || r.reason));
        else if (typeof r.value === "string") { if (r.value) m.push(r.value); }
        else if (r.value) m.push(`${r.value.constructor.name}: ${r.value.message}`);
      }
      return m.join("\\n");
    });
  },
  // createComputePipelineAsync (Dawn compiles it off the GPU process's main thread, so draws and other work are
  // not queued behind it) with the module's compilation info; the record fills in when both are done.
  compileAsync(dev, module, desc) {
    const rec = { pipeline: null, messages: null, error: null };
    rec.done = Promise.all([module.getCompilationInfo(), dev.createComputePipelineAsync(desc)]).then(
      ([info, pipeline]) => { rec.messages = info.messages; rec.pipeline = pipeline; },
      (e) => { rec.error = String((e && e.message) || e); });
    return rec;
  },
};
"""
_helpers = None


def helpers():
    """The JS object made from :data:`JS_HELPERS` (built on first use, then shared)."""
    global _helpers
    if _helpers is None:
        _helpers = js.Function.new(JS_HELPERS)()
    return _helpers


def js_obj(d: dict) -> Any:
    """A JS object from a dict (nested dicts too); keys must be WebGPU's camelCase names."""
    return to_js(d, dict_converter=js.Object.fromEntries)


def snake(name: str) -> str:
    return re.sub(r"([a-z])([A-Z0-9])", r"\1_\2", name).lower()


def unset(value) -> bool:
    return value is None or value is jsnull


def u32(values):
    import array

    return array.array("I", values)


def adapter_info(info: dict) -> dict:
    """gpuml's adapter info (the native backend's keys) from a plain copy of the JS ``GPUAdapterInfo``."""
    vendor, arch = info.get("vendor", ""), info.get("architecture", "")
    fallback = bool(info.get("isFallbackAdapter")) or "swiftshader" in f"{vendor} {arch}".lower()
    out = {
        "vendor": vendor,
        "architecture": arch,
        # Browsers often leave device/description empty: fall back to "vendor architecture" ("google swiftshader").
        "device": info.get("device") or info.get("description") or f"{vendor} {arch}".strip(),
        "description": info.get("description", ""),
        "backend_type": "WebGPU (browser)",
        # WebGPU does not tell integrated from discrete; a fallback adapter (SwiftShader) is a CPU.
        "adapter_type": "CPU" if fallback else "GPU",
    }
    for key in ("subgroupMinSize", "subgroupMaxSize", "isFallbackAdapter"):
        if key in info:
            out[snake(key)] = info[key]
    return out
