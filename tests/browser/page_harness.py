"""Python that runs *inside Pyodide* (loaded by conftest.py into the page's globals; not collected by pytest).

It rebuilds op arguments sent by the host (float32 arrays as base64 + shape, scalars as-is) with array.array,
runs ``gpuml.ops`` on the browser device and returns outputs as base64 + shape + dtype. No numpy here.
"""

import array as _pyarray  # private name: test snippets run in the same globals and may rebind `array`
import base64
import importlib
import json
import time

import gpuml


def decode_arg(a):
    if isinstance(a, dict) and "f32" in a:
        host = _pyarray.array("f")
        host.frombytes(base64.b64decode(a["f32"]))
        return gpuml.tensor(host).reshape(tuple(a["shape"]))
    return a


def decode_kwargs(kwargs):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


async def encode_out(out):
    if not isinstance(out, gpuml.Tensor):
        return {"error": f"op returned {type(out).__name__}, not a gpuml.Tensor"}
    data = await out.to_bytes_async()
    return {"b64": base64.b64encode(data).decode(), "shape": list(out.shape), "dtype": out.dtype_name}


async def run_cases(payload: str) -> str:
    """Run every case of ``payload`` (JSON list of {id, op, args, kwargs}); one result per case."""
    results = {}
    t0 = time.perf_counter()
    for case in json.loads(payload):
        t = time.perf_counter()
        try:
            module, _, name = ("ops." + case["op"] if "." not in case["op"] else case["op"]).rpartition(".")
            fn = getattr(importlib.import_module("gpuml." + module), name)  # "relu" or "nn.functional.gelu"
            out = fn(*[decode_arg(a) for a in case["args"]], **decode_kwargs(case["kwargs"]))
            result = await encode_out(out)
        except Exception as exc:  # reported per case on the host
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["ms"] = (time.perf_counter() - t) * 1e3
        results[case["id"]] = result
    return json.dumps({"results": results, "total_ms": (time.perf_counter() - t0) * 1e3})
