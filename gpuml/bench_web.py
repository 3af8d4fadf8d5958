"""``gpuml bench web``: gpuml in the browser against TensorFlow.js's WebGPU backend, in one headless Chromium page
on the same WebGPU adapter.

gpuml's side is its own Python package running in Pyodide core (no numpy) on ``navigator.gpu``
(``web/bench/gpuml_side.py``); tf.js's side is ``@tensorflow/tfjs`` + ``@tensorflow/tfjs-backend-webgpu`` from
``web/node_modules`` (``npm ci`` in web/; pinned in web/package.json), loaded by ``web/bench/index.html`` only —
never by the gpuml site that ``gpuml web build`` makes. Everything is served from 127.0.0.1; nothing is fetched
from the internet and no browser is downloaded (Playwright drives the system ``chromium``).

Cases: matmul 1024^3 (and 64^3, where the fixed cost per call dominates); conv2d on LeNet-5's two layers
(batch 64) and a 3x3 convolution with 64 channels (28x28, batch 8); one LeNet-5 training step (ReLU, max pooling,
batch 64, Adam); 100 dependent adds of 1,024 floats and one sync (the cost of issuing an op). Inputs are random
(never zero), made on the host and fed to both sides as the same bytes; each library gets its own layout (gpuml
NCHW and (OC, C, KH, KW), tf.js NHWC and (KH, KW, C, OC)); bias is added inside the convolution on both
(tf.fused.conv2d).

Timing, the same on both sides: warm-up runs excluded; ``repeat`` runs of wall clock around the work plus a device
sync (flush, ``queue.onSubmittedWorkDone()``, no readback; a training step ends by reading its loss, 4 bytes);
median, min/max and IQR reported. GPU time: per-kernel timestamp queries with every kernel in its own pass
(gpuml ``device.profile()``, tf.js ``tf.time()`` kernelMs), summed per run — the same method on both sides; gpuml's
GPU span of the block as it really runs (one submit, ``device.timer()``) is in ``extra["gpu_span_ms"]``.

Numerical agreement: the matmul and conv outputs of both sides are compared with a float64 numpy reference
(max |error| / max |reference|); the training step starts both libraries from gpuml's seeded LeNet-5 weights and
compares the losses of the first steps with gpuml's numpy backend (the cpu device) on the host.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import gpuml
from gpuml.bench import Row, format_table, write_json
from gpuml.webbuild import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
PAGE = WEB / "bench"
NODE = WEB / "node_modules"
GPUML, TFJS = "gpuml[browser]", "tfjs-webgpu"
MATMUL_TOL = CONV_TOL = 1e-4  # max |error| / max |reference| (f32 sums; the kernels differ in summation order)
LOSS_TOL = 2e-3  # absolute, on the mean cross-entropy (~2.3) after a few Adam steps
LR = 1e-3

__all__ = ["WebCase", "cases", "format_web", "run_web_bench", "unavailable_reason"]


@dataclass
class WebCase:
    kind: str  # "matmul" | "conv" | "train" | "chain"
    label: str
    shape: dict


def cases(quick: bool = False) -> list[WebCase]:
    """The benchmark cases; ``quick``: tiny sizes (for tests)."""
    if quick:
        return [
            WebCase("matmul", "matmul 100x72x84", {"m": 100, "k": 72, "n": 84}),
            WebCase("conv", "conv lenet-conv1 N=2", {"n": 2, "c": 1, "oc": 6, "h": 28, "w": 28, "k": 5, "pad": 2}),
            WebCase("conv", "conv 3x3-c8-12 N=1", {"n": 1, "c": 8, "oc": 8, "h": 12, "w": 12, "k": 3, "pad": 1}),
            WebCase("train", "train lenet5 b8 adam", {"batch": 8}),
            WebCase("chain", "100 x add(1024) one sync", {"n": 1024, "ops": 100}),
        ]
    return [
        WebCase("matmul", "matmul 1024x1024x1024", {"m": 1024, "k": 1024, "n": 1024}),
        # a tiny product: the fixed cost per call (recording, submit, sync) dominates; not a kernel comparison
        WebCase("matmul", "matmul 64x64x64", {"m": 64, "k": 64, "n": 64}),
        WebCase("conv", "conv lenet-conv1 N=64", {"n": 64, "c": 1, "oc": 6, "h": 28, "w": 28, "k": 5, "pad": 2}),
        WebCase("conv", "conv lenet-conv2 N=64", {"n": 64, "c": 6, "oc": 16, "h": 14, "w": 14, "k": 5, "pad": 0}),
        WebCase("conv", "conv 3x3-c64-28 N=8", {"n": 8, "c": 64, "oc": 64, "h": 28, "w": 28, "k": 3, "pad": 1}),
        WebCase("train", "train lenet5 b64 adam", {"batch": 64}),
        # 100 dependent tiny ops and one sync: the cost of issuing an op (Python in WASM vs JavaScript), not kernels
        WebCase("chain", "100 x add(1024) one sync", {"n": 1024, "ops": 100}),
    ]


def unavailable_reason() -> str | None:
    """Why the benchmark cannot run here (None when it can)."""
    if not shutil.which("chromium"):
        return "chromium is not installed (Debian package `chromium`)"
    for need in (
        "pyodide/pyodide.mjs",
        "@tensorflow/tfjs/dist/tf.min.js",
        "@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.js",
    ):
        if not (NODE / need).is_file():
            return f"web/node_modules/{need} is missing: run `npm ci` in {WEB}"
    if not (PAGE / "index.html").is_file():
        return f"{PAGE} is missing (the benchmark page lives in a gpuml source checkout)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install playwright; no browser download needed)"
    return None


# --- host-side data and references ------------------------------------------------------------------------------


def _nonzero_normal(rng, shape, scale=1.0) -> np.ndarray:
    a = (rng.standard_normal(shape) * scale).astype(np.float32)
    a[a == 0] = np.float32(0.5)  # "never zeros": a zero input would make some work trivially skippable
    return a


def ref_conv2d(x, w, b, pad) -> np.ndarray:
    """float64 cross-correlation of NCHW x with (OC, C, K, K) w, zero padding ``pad``, stride 1, plus b."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = xp.shape[2] - k + 1, xp.shape[3] - k + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i : i + oh, j : j + ow], w[:, :, i, j], optimize=True)
    return out + b.astype(np.float64).reshape(1, -1, 1, 1)


def _lenet_tf_weights(state: dict) -> tuple[np.ndarray, list[list[int]]]:
    """gpuml's LeNet-5 state (conv (OC, C, K, K), fc (out, in), flatten in C,H,W order) as tf.js layer weights
    (conv (K, K, C, OC), dense (in, out), flatten in H,W,C order), concatenated, with their shapes."""
    names = ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias"]
    names += ["11.weight", "11.bias"]
    if sorted(state) != sorted(names) or state["7.weight"].shape != (120, 400):
        raise ValueError(f"unexpected LeNet-5 parameters: {sorted((k, v.shape) for k, v in state.items())}")
    out = [
        state["0.weight"].transpose(2, 3, 1, 0),
        state["0.bias"],
        state["3.weight"].transpose(2, 3, 1, 0),
        state["3.bias"],
        state["7.weight"].reshape(120, 16, 5, 5).transpose(2, 3, 1, 0).reshape(400, 120),
        state["7.bias"],
        state["9.weight"].T,
        state["9.bias"],
        state["11.weight"].T,
        state["11.bias"],
    ]
    flat = np.concatenate([np.ascontiguousarray(a, np.float32).ravel() for a in out])
    return flat, [list(a.shape) for a in out]


def reference_losses(images: np.ndarray, labels: np.ndarray, batch: int, steps: int) -> list[float]:
    """Mean losses of the first ``steps`` LeNet-5 Adam steps on gpuml's numpy backend (same seed, same batches)."""
    from gpuml.backends import open_device
    from gpuml.nn import from_spec
    from gpuml.nn.functional import softmax_cross_entropy
    from gpuml.optim import Adam

    cpu = open_device("cpu")
    model = from_spec("lenet5", (1, 28, 28), device=cpu, seed=0)
    model.train()
    opt = Adam(model.parameters(), lr=LR)
    losses = []
    for i in range(steps):
        x = gpuml.tensor(images[i * batch : (i + 1) * batch], device=cpu)
        y = gpuml.tensor(labels[i * batch : (i + 1) * batch], device=cpu)
        row_loss, _, grad = softmax_cross_entropy(model.forward(x), y)
        model.backward(grad)
        opt.step()
        losses.append(float(row_loss.numpy().astype(np.float64).mean()))
    return losses


def _initial_lenet_state() -> dict:
    from gpuml.backends import open_device
    from gpuml.nn import from_spec

    return from_spec("lenet5", (1, 28, 28), device=open_device("cpu"), seed=0).state_dict()


# --- the local server ------------------------------------------------------------------------------------------


class _Server:
    """web/ at /, the gpuml wheel at /dist/, input files at /data/, and POST /result/<name> (stored in memory)."""

    def __init__(self, dist: Path, data: Path):
        from gpuml.webbuild import _Handler

        results: dict[str, bytes] = {}
        self.results = results

        class Handler(_Handler):
            def translate_path(self, path):
                clean = path.split("?", 1)[0].split("#", 1)[0]
                for prefix, folder in (("/dist/", dist), ("/data/", data)):
                    if clean.startswith(prefix):
                        return str(folder / Path(clean).name)
                return super().translate_path(path)

            def do_POST(self):
                clean = self.path.split("?", 1)[0]
                if not clean.startswith("/result/"):
                    self.send_error(404)
                    return
                results[clean[len("/result/") :]] = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(204)
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(WEB)))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the run ---------------------------------------------------------------------------------------------------


def _spread(walls: list[float]) -> dict:
    q = statistics.quantiles(walls, n=4) if len(walls) >= 2 else [walls[0]] * 3
    return {"q1_ms": q[0], "q3_ms": q[2], "iqr_ms": q[2] - q[0], "repeat": len(walls)}


def _row(case: WebCase, impl: str, result: dict, work: float, unit: str, extra: dict, scale: float = 1e9) -> Row:
    walls = result["walls_ms"]
    med = statistics.median(walls)
    kernel = statistics.median(result["kernel_ms"]) if result.get("kernel_ms") else None
    extra = {**_spread(walls), "walls_ms": [round(w, 4) for w in walls], **extra}
    extra["kernels"] = [[name, round(n, 2), round(ms, 4)] for name, n, ms in result.get("kernels", [])]
    if result.get("span_ms"):
        extra["gpu_span_ms"] = statistics.median(result["span_ms"])
    return Row(
        "web", case.label, impl, med, min(walls), max(walls), work / (med / 1e3) / scale, unit, kernel or None, extra
    )


def _check(name: str, got: bytes, ref: np.ndarray, shape, tol: float) -> dict:
    actual = np.frombuffer(got, np.float32)
    if actual.size != ref.size:
        return {"ok": False, "error": f"{name}: {actual.size} values, expected {ref.size}", "tol": tol}
    err = float(np.max(np.abs(actual.reshape(shape).astype(np.float64) - ref)) / (np.max(np.abs(ref)) or 1.0))
    return {"ok": bool(np.isfinite(err) and err <= tol), "max_rel_err": err, "tol": tol, "reference": "numpy float64"}


def run_web_bench(
    quick: bool = False,
    repeat: int | None = None,
    warmup: int | None = None,
    profile: int | None = None,
    kinds=None,
    tfjs_flags: dict | None = None,
    playwright=None,
    log=None,
) -> tuple[list[Row], dict]:
    """Run every case on both sides; returns (rows, environment). ``repeat``: timed runs per case (train: steps);
    ``warmup``: untimed runs first; ``profile``: runs under per-kernel timestamp queries; ``kinds``: only these
    of "matmul", "conv", "train", "chain"; ``tfjs_flags``: tf.env() flags set before the WebGPU backend starts (e.g.
    ``{"WEBGPU_MATMUL_PROGRAM_TYPE": 1}``); ``playwright``: a running sync Playwright (one per process) to use
    instead of starting one."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(f"gpuml bench web cannot run: {reason}")
    from playwright.sync_api import sync_playwright

    from gpuml.bundle import build_bundle

    repeat = repeat or (3 if quick else 10)
    warmup = warmup if warmup is not None else (1 if quick else 3)
    profile = profile if profile is not None else (1 if quick else 3)
    check_steps = 2 if quick else 3
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="gpuml-bench-web-"))
    dist, data = tmp / "dist", tmp / "data"
    data.mkdir(parents=True)
    wheel = build_bundle(dist)
    server = _Server(dist, data)
    console: list[str] = []
    rows: list[Row] = []
    env: dict = {}
    try:
        with contextlib.nullcontext(playwright) if playwright is not None else sync_playwright() as pw:
            chrome = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
            try:
                page = chrome.new_page()
                page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
                page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
                page.set_default_timeout(600_000)
                page.goto(f"{server.base}/bench/index.html")
                page.wait_for_function("window.benchReady === true && !!window.tfbench", timeout=60_000)
                loaded = page.evaluate("gpuml.load()")
                if not loaded["webgpu"]:
                    raise RuntimeError("navigator.gpu is undefined in headless Chromium (needs --enable-unsafe-webgpu)")
                page.evaluate("(u) => gpuml.install(u)", f"{server.base}/dist/{wheel.name}")
                page.evaluate("(c) => gpuml.run(c)", (PAGE / "gpuml_side.py").read_text())
                gpuml_info = json.loads(page.evaluate("(c) => gpuml.run(c)", "info()"))
                tf_info = page.evaluate("(f) => tfbench.init(f)", tfjs_flags or {})
                env = _environment(chrome.version, loaded["version"], gpuml_info, tf_info, wheel.stat().st_size)
                log(f"page ready: {env['browser']['adapter']}, tf.js {tf_info['tfjs']} ({tf_info['backend']})")
                for case in [c for c in cases(quick) if not kinds or c.kind in kinds]:
                    log(f"running {case.label} ...")
                    rng = np.random.default_rng(zlib.crc32(case.label.encode()))  # the same data whatever runs
                    rows += _run_case(page, server, data, case, rng, repeat, warmup, profile, check_steps)
            except Exception as exc:
                raise RuntimeError(f"{exc}\n--- browser console (last 20) ---\n" + "\n".join(console[-20:])) from None
            finally:
                chrome.close()
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
    env["web_bench"] = {
        "gpuml_commit": _git_commit(),
        "quick": quick,
        "tfjs_flags_set": tfjs_flags or {},
        "repeat": repeat,
        "warmup": warmup,
        "profile_runs": profile,
        "seconds": round(time.perf_counter() - t_start, 1),
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "console_warnings": [c for c in console if c.startswith(("[warning]", "[error]"))][:20],
    }
    return rows, env


def _run_case(page, server, data: Path, case: WebCase, rng, repeat, warmup, profile, check_steps) -> list[Row]:
    s, key = case.shape, case.label.replace(" ", "_")
    timing = {"warmup": warmup, "repeat": repeat, "profile": profile}

    def put(name: str, arr: np.ndarray) -> str:
        (data / f"{key}_{name}").write_bytes(np.ascontiguousarray(arr).tobytes())
        return f"/data/{key}_{name}"

    def both(spec: dict) -> tuple[dict, dict]:
        g = json.loads(page.evaluate("([c, i]) => gpuml.run(c, i)", ["run_case(INPUT)", json.dumps(spec)]))
        t = page.evaluate("([k, s]) => tfbench[k](s)", [spec["kind"], {**spec, "result_url": spec["tf_result"]}])
        return g, t

    if case.kind == "matmul":
        m, k, n = s["m"], s["k"], s["n"]
        a, b = _nonzero_normal(rng, (m, k)), _nonzero_normal(rng, (k, n))
        spec = {"kind": "matmul", **s, **timing, "a_url": put("a", a), "b_url": put("b", b)}
        spec |= {"result_url": f"/result/{key}_gpuml", "tf_result": f"/result/{key}_tfjs"}
        g, t = both(spec)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        checks = {
            side: _check(side, server.results[f"{key}_{side}"], ref, ref.shape, MATMUL_TOL)
            for side in ("gpuml", "tfjs")
        }
        work, unit, extra = 2.0 * m * k * n, "GFLOP/s", {}
    elif case.kind == "chain":
        x = _nonzero_normal(rng, (s["n"],))
        spec = {"kind": "chain", **s, **timing, "x_url": put("x", x)}
        spec |= {"result_url": f"/result/{key}_gpuml", "tf_result": f"/result/{key}_tfjs"}
        g, t = both(spec)
        ref = x.astype(np.float64) * (s["ops"] + 1)
        checks = {
            side: _check(side, server.results[f"{key}_{side}"], ref, ref.shape, MATMUL_TOL)
            for side in ("gpuml", "tfjs")
        }
        work, unit, extra = float(s["ops"]), "kop/s", {"ops": s["ops"]}
    elif case.kind == "conv":
        x = _nonzero_normal(rng, (s["n"], s["c"], s["h"], s["w"]))
        w = _nonzero_normal(rng, (s["oc"], s["c"], s["k"], s["k"]), 1.0 / np.sqrt(s["c"] * s["k"] ** 2))
        bias = _nonzero_normal(rng, (s["oc"],))
        spec = {"kind": "conv", **s, **timing}
        spec |= {"x_url": put("x", x), "w_url": put("w", w), "b_url": put("b", bias)}
        spec |= {"result_url": f"/result/{key}_gpuml", "tf_result": f"/result/{key}_tfjs"}
        g = json.loads(page.evaluate("([c, i]) => gpuml.run(c, i)", ["run_case(INPUT)", json.dumps(spec)]))
        tf_spec = {
            **spec,
            "x_url": put("x_nhwc", x.transpose(0, 2, 3, 1)),
            "w_url": put("w_hwio", w.transpose(2, 3, 1, 0)),
        }
        t = page.evaluate("(s) => tfbench.conv(s)", {**tf_spec, "result_url": spec["tf_result"]})
        ref = ref_conv2d(x, w, bias, s["pad"])
        checks = {
            "gpuml": _check("gpuml", server.results[f"{key}_gpuml"], ref, ref.shape, CONV_TOL),
            "tfjs": _check(
                "tfjs",
                server.results[f"{key}_tfjs"],
                ref.transpose(0, 2, 3, 1),
                ref.transpose(0, 2, 3, 1).shape,
                CONV_TOL,
            ),
        }
        oh, ow = ref.shape[2:]
        work, unit = 2.0 * s["n"] * s["oc"] * oh * ow * s["c"] * s["k"] ** 2, "GFLOP/s"
        extra = {"gpuml_algo": g.get("algo")}
    else:  # train
        batch = s["batch"]
        n_batches = check_steps + 5
        images = (1.0 - rng.random((n_batches * batch, 1, 28, 28))).astype(np.float32)  # (0, 1], NCHW == NHWC
        labels = rng.integers(0, 10, n_batches * batch).astype(np.int32)
        flat, shapes = _lenet_tf_weights(_initial_lenet_state())
        spec = {"kind": "train", "batch": batch, "n_batches": n_batches, "check_steps": check_steps, "lr": LR}
        spec |= {**timing, "images_url": put("images", images), "labels_url": put("labels", labels)}
        spec |= {"weights_url": put("tf_weights", flat), "weight_shapes": shapes, "tf_result": ""}
        g, t = both(spec)
        ref = reference_losses(images, labels, batch, check_steps)
        checks = {}
        for side, res in (("gpuml", g), ("tfjs", t)):
            diff = float(np.max(np.abs(np.asarray(res["losses"], np.float64) - ref)))
            checks[side] = {
                "ok": bool(diff <= LOSS_TOL),
                "max_abs_loss_diff": diff,
                "tol": LOSS_TOL,
                "losses": res["losses"],
                "reference": "gpuml numpy backend (cpu device)",
                "reference_losses": ref,
            }
        work, unit = float(batch), "img/s"
        extra = {"batch": batch, "gpuml_dispatches_per_step": g.get("dispatches_per_step")}
        return [
            _train_row(case, GPUML, g, batch, {**extra, "check": checks["gpuml"]}),
            _train_row(case, TFJS, t, batch, {**extra, "check": checks["tfjs"]}),
        ]
    scale = 1e3 if unit == "kop/s" else 1e9
    return [
        _row(case, GPUML, g, work, unit, {**extra, "check": checks["gpuml"]}, scale),
        _row(case, TFJS, t, work, unit, {**extra, "check": checks["tfjs"]}, scale),
    ]


def _train_row(case, impl, result, batch, extra) -> Row:
    return _row(case, impl, result, batch, "img/s", extra, scale=1.0)


def _git_commit() -> str | None:
    """HEAD of the source checkout, with "+dirty" when gpuml/, shaders/ or web/bench/ have uncommitted changes."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "gpuml", "shaders", "web/bench"], cwd=ROOT, capture_output=True
        )
    except OSError:
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _environment(chromium: str, pyodide: str, gpuml_info: dict, tf_info: dict, wheel_bytes: int) -> dict:
    info = gpuml_info.get("adapter_info", {})
    adapter = f"{info.get('vendor', '')} {info.get('architecture', '')}".strip() or gpuml_info.get("adapter", "")
    tf_adapter = tf_info["adapter"]
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
        "cpus": os.cpu_count(),
        "gpuml": gpuml.__version__,
        "backends": {
            GPUML: {"adapter": gpuml_info.get("adapter", adapter), "features": gpuml_info.get("features", [])},
            TFJS: {
                "adapter": f"{tf_adapter['vendor']} {tf_adapter['architecture']}".strip(),
                "features": tf_info.get("features", []),
            },
        },
        "browser": {
            "chromium": chromium,
            "user_agent": tf_info.get("user_agent"),
            "adapter": adapter,
            "adapter_info": info,
            "pyodide": pyodide,
            "tfjs": tf_info["tfjs"],
            "tfjs_backend": tf_info["backend"],
            "tfjs_timestamp_query": tf_info["timestamp_query"],
            "tfjs_flags": tf_info.get("flags", {}),
            "gpuml_wheel_bytes": wheel_bytes,
        },
    }


def ratio_lines(rows: list[Row]) -> list[str]:
    """gpuml / tf.js per case (median wall time; > 1 means gpuml is slower), and the same for summed kernel time."""
    out = []
    by_case: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_case.setdefault(r.case, {})[r.impl] = r
    for case, impls in by_case.items():
        g, t = impls.get(GPUML), impls.get(TFJS)
        if g is None or t is None:
            continue
        ratio = g.median_ms / t.median_ms
        verdict = "gpuml faster" if ratio < 1 else "gpuml slower"
        line = f"ratio web {case}: gpuml/tf.js wall time = {ratio:.2f} ({verdict}, {max(ratio, 1 / ratio):.2f}x)"
        if g.gpu_ms and t.gpu_ms:
            kr = g.gpu_ms / t.gpu_ms
            line += f"; summed kernel time = {kr:.2f} ({'gpuml faster' if kr < 1 else 'gpuml slower'})"
        if not (g.extra.get("check", {}).get("ok") and t.extra.get("check", {}).get("ok")):
            line += " -- NUMERICAL CHECK FAILED: not the same work, not comparable"
        out.append(line)
    return out


def check_lines(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        c = r.extra.get("check", {})
        if "max_rel_err" in c:
            what = f"max rel error {c['max_rel_err']:.2e} vs {c['reference']} (tol {c['tol']:g})"
        elif "max_abs_loss_diff" in c:
            losses = [round(v, 5) for v in c["losses"]]
            what = f"losses {losses}, max |diff| {c['max_abs_loss_diff']:.2e} vs {c['reference']} (tol {c['tol']:g})"
        else:
            what = c.get("error", "no check")
        out.append(f"check {r.case} {r.impl}: {'ok' if c.get('ok') else 'FAILED'}: {what}")
    return out


def format_web(rows: list[Row], env: dict, top: int = 3) -> str:
    b = env["browser"]
    w = env.get("web_bench", {})
    lines = [
        f"adapter (page): {b['adapter']}; Chromium {b['chromium']}; tf.js {b['tfjs']} ({b['tfjs_backend']} backend, "
        f"timestamp-query {'on' if b['tfjs_timestamp_query'] else 'off'}); Pyodide {b['pyodide']}",
        f"gpu ms = summed per-kernel GPU time, each kernel alone under timestamp queries (gpuml device.profile(), "
        f"tf.js tf.time() kernelMs); wall = work + device sync, median of {w.get('repeat', '?')} after "
        f"{w.get('warmup', '?')} warm-up; load average before/after {w.get('loadavg_before')}/{w.get('loadavg_after')}"
        f"; gpuml {env.get('gpuml')} at {w.get('gpuml_commit')}",
        format_table(rows, env),
        *check_lines(rows),
    ]
    for r in rows:
        ks = r.extra.get("kernels", [])[:top]
        if ks:
            desc = ", ".join(f"{name.rsplit('/', 1)[-1]} x{n:g} {ms:.2f} ms" for name, n, ms in ks)
            algo = f" [conv algo {r.extra['gpuml_algo']}]" if r.impl == GPUML and r.extra.get("gpuml_algo") else ""
            lines.append(f"kernels {r.case} {r.impl}{algo}: {desc}")
    lines += ratio_lines(rows)
    return "\n".join(lines)


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
    if failed:
        print(f"numerical check FAILED for {len(failed)} row(s)", file=sys.stderr)
        return 1
    return 0
