"""``gpuml bench web``: gpuml in the browser against TensorFlow.js's WebGPU backend and the peers jax-js and ONNX
Runtime Web (issue 20.4; ``peers``), in one headless Chromium page on the same WebGPU adapter.

gpuml's side is its own Python package running in Pyodide core (no numpy) on ``navigator.gpu``
(``web/bench/gpuml_side.py``); tf.js's side is ``@tensorflow/tfjs`` + ``@tensorflow/tfjs-backend-webgpu`` from
``web/node_modules`` (``npm ci`` in web/; pinned in web/package.json), loaded by ``web/bench/index.html`` only —
never by the gpuml site that ``gpuml web build`` makes. Everything is served from 127.0.0.1; nothing is fetched
from the internet and no browser is downloaded (Playwright drives the system ``chromium``).

Cases: matmul 1024^3 (and 64^3, where the fixed cost per call dominates); conv2d on LeNet-5's two layers
(batch 64) and a 3x3 convolution with 64 channels (28x28, batch 8); one LeNet-5 training step (ReLU, max pooling,
batch 64, Adam); LeNet-5 inference (the shipped weights, batch 1 and 64: host images in, logits on the host);
100 dependent adds of 1,024 floats and one sync (the cost of issuing an op). jax-js and ONNX Runtime Web run
matmul 1024^3, the 3x3 C=64 convolution and inference (jax-js the training step too) on WebGPU, and on their Wasm
backends for context (``peers``; ORT runs one-node ONNX graphs and the LeNet-5 gpuml.export.onnx writes).
Inputs are random (never zero), made on the host and fed to every side as the same bytes; each library gets its
own layout (gpuml, jax-js and ORT NCHW and (OC, C, KH, KW), tf.js NHWC and (KH, KW, C, OC)); bias is added inside
the convolution (tf.fused.conv2d; jax-js's jit fuses it).

Timing, the same on both sides: warm-up runs excluded; ``repeat`` runs of wall clock around the work plus a device
sync (flush, ``queue.onSubmittedWorkDone()``, no readback; a training step ends by reading its loss, 4 bytes);
median, min/max and IQR reported. GPU time: per-kernel timestamp queries with every kernel in its own pass
(gpuml ``device.profile()``, tf.js ``tf.time()`` kernelMs), summed per run — the same method on both sides; gpuml's
GPU span of the block as it really runs (one submit, ``device.timer()``) is in ``extra["gpu_span_ms"]``.

Numerical agreement: the matmul and conv outputs of both sides are compared with a float64 numpy reference
(max |error| / max |reference|); the training step starts both libraries from gpuml's seeded LeNet-5 weights and
compares the losses of the first steps with gpuml's numpy backend (the cpu device) on the host.

Modules: ``cases`` (cases, tolerances, host data and references), ``run`` (server, page, one case on both sides),
``report`` (environment, checks, ratios, the text table).
"""

from __future__ import annotations

import json
import sys

from gpuml.bench import write_json

from .cases import (
    CONV_TOL,
    GPUML,
    INFER_TOL,
    JAX,
    KINDS,
    LOSS_TOL,
    MATMUL_TOL,
    ORT,
    TFJS,
    WebCase,
    cases,
    unavailable_reason,
)
from .peers import PEERS, impl_name, peers_unavailable
from .report import TARGETS, check_lines, first_call_lines, format_web, peer_lines, ratio_lines
from .run import run_web_bench

__all__ = [
    "CONV_TOL",
    "GPUML",
    "INFER_TOL",
    "JAX",
    "KINDS",
    "LOSS_TOL",
    "MATMUL_TOL",
    "ORT",
    "PEERS",
    "TARGETS",
    "TFJS",
    "WebCase",
    "cases",
    "check_lines",
    "first_call_lines",
    "format_web",
    "impl_name",
    "main",
    "parse_flags",
    "peer_lines",
    "peers_unavailable",
    "ratio_lines",
    "run_web_bench",
    "unavailable_reason",
    "write_json",
]


def parse_flags(items) -> dict:
    """["NAME=VALUE", ...] -> {NAME: value} with JSON values where they parse (numbers, true/false)."""
    flags = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--tfjs-flag {item!r}: use NAME=VALUE")
        try:
            flags[name] = json.loads(value)
        except json.JSONDecodeError:
            flags[name] = value
    return flags


def main(quick=False, repeat=None, json_path=None, kinds=None, tfjs_flags=None) -> int:
    rows, env = run_web_bench(quick=quick, repeat=repeat, kinds=kinds, tfjs_flags=tfjs_flags)
    print(format_web(rows, env))
    if json_path:
        write_json(json_path, rows, env)
        print(f"wrote {json_path}")
    failed = [r for r in rows if not r.extra.get("check", {}).get("ok")]
    ours = [r for r in failed if r.impl in (GPUML, TFJS)]
    for r in failed:
        print(f"numerical check FAILED: {r.case} {r.impl}", file=sys.stderr)
    # exit status 1 when gpuml (or tf.js, the reference peer) is wrong; a peer's wrong output is its own result,
    # reported in the table and not comparable, not a failure of the run
    return 1 if ours else 0
