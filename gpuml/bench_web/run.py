"""Running ``gpuml bench web``: the local server, the headless Chromium page, and one case on both sides."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from gpuml.bench import Row
from gpuml.webbuild import CHROMIUM_ARGS

from .cases import (
    CONV_TOL,
    GPUML,
    LOSS_TOL,
    LR,
    MATMUL_TOL,
    PAGE,
    TFJS,
    WEB,
    WebCase,
    _initial_lenet_state,
    _lenet_tf_weights,
    _nonzero_normal,
    cases,
    ref_conv2d,
    reference_losses,
    unavailable_reason,
)
from .report import _environment, _git_commit


class _Server:
    """web/ at /, the gpuml wheel at /dist/, input files at /data/, and POST /result/<name> (stored in memory)."""

    def __init__(self, dist: Path, data: Path):
        from gpuml.webbuild import SiteHandler

        results: dict[str, bytes] = {}
        self.results = results

        class Handler(SiteHandler):
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
