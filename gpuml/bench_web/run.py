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
    INFER_TOL,
    JAX,
    LOSS_TOL,
    LR,
    MATMUL_TOL,
    ORT,
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
from .peers import (
    PEER_BACKENDS,
    PEERS,
    alternate_train,
    conv_model,
    export_lenet,
    impl_name,
    jax_weights,
    lenet_for_inference,
    lenet_state,
    matmul_model,
    peers_unavailable,
    ref_lenet,
    start_peers,
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
    if result.get("first_ms") is not None:
        extra["first_ms"] = round(result["first_ms"], 3)
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
    peers=PEERS,
    peer_backends=PEER_BACKENDS,
    ab_rounds: int = 0,
) -> tuple[list[Row], dict]:
    """Run every case on both sides; returns (rows, environment). ``repeat``: timed runs per case (train: steps);
    ``warmup``: untimed runs first; ``profile``: runs under per-kernel timestamp queries; ``kinds``: only these
    of "matmul", "conv", "train", "chain"; ``tfjs_flags``: tf.env() flags set before the WebGPU backend starts (e.g.
    ``{"WEBGPU_MATMUL_PROGRAM_TYPE": 1}``); ``playwright``: a running sync Playwright (one per process) to use
    instead of starting one; ``peers``: which of jax-js and ONNX Runtime Web run beside them (those whose files
    web/node_modules lacks are left out, the reason in ``env["peers"]``); ``peer_backends``: theirs to run, "webgpu"
    (the same adapter) and "wasm" (their CPU backends, for context); ``ab_rounds``: after the cases, that many
    alternating gpuml / jax-js training steps (``env["ab_train"]``, peers.alternate_train)."""
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
                todo = [c for c in cases(quick) if not kinds or c.kind in kinds]
                missing = peers_unavailable()
                wanted = [p for p in peers if any(p in c.peers for c in todo) or (p == JAX and ab_rounds)]
                peer_info = start_peers(page, [p for p in wanted if p not in missing], peer_backends, data, log)
                env["peers"] = {**peer_info, **{p: {"skipped": missing[p]} for p in wanted if p in missing}}
                timing = {"warmup": warmup, "repeat": repeat, "profile": profile}
                for case in todo:
                    log(f"running {case.label} ...")
                    rng = np.random.default_rng(zlib.crc32(case.label.encode()))  # the same data whatever runs
                    rows += _run_case(page, server, data, case, rng, timing, check_steps, peer_info)
                jax_gpu = peer_info.get(JAX, {}).get("backends", {}).get("webgpu", {}).get("ok")
                if ab_rounds and jax_gpu:
                    batch = 8 if quick else 64
                    env["ab_train"] = alternate_train(page, data, batch, ab_rounds, LR, 20, log)
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


def _loss_check(losses, ref) -> dict:
    diff = float(np.max(np.abs(np.asarray(losses, np.float64) - ref)))
    return {
        "ok": bool(diff <= LOSS_TOL),
        "max_abs_loss_diff": diff,
        "tol": LOSS_TOL,
        "losses": losses,
        "reference": "gpuml numpy backend (cpu device)",
        "reference_losses": ref,
    }


def _run_case(page, server, data: Path, case: WebCase, rng, timing: dict, check_steps, peer_info) -> list[Row]:
    """One case on gpuml's and tf.js's sides, then on each peer of the case that started (``peer_info``)."""
    s, key = case.shape, case.label.replace(" ", "_")
    peer_spec: dict = {}  # what the peers get beyond gpuml's spec (their layouts, ORT's model file)

    def put(name: str, arr) -> str:
        raw = arr if isinstance(arr, bytes) else np.ascontiguousarray(arr).tobytes()
        (data / f"{key}_{name}").write_bytes(raw)
        return f"/data/{key}_{name}"

    def result(side: str, ref: np.ndarray, tol: float) -> dict:
        return _check(side, server.results[f"{key}_{side}"], ref, ref.shape, tol)

    def gpuml_side(spec: dict) -> dict:
        return json.loads(page.evaluate("([c, i]) => gpuml.run(c, i)", ["run_case(INPUT)", json.dumps(spec)]))

    def tfjs_side(spec: dict) -> dict:
        return page.evaluate("([k, s]) => tfbench[k](s)", [spec["kind"], {**spec, "result_url": f"/result/{key}_tfjs"}])

    if case.kind in ("matmul", "chain"):
        if case.kind == "matmul":
            m, k, n = s["m"], s["k"], s["n"]
            a, b = _nonzero_normal(rng, (m, k)), _nonzero_normal(rng, (k, n))
            spec = {"kind": "matmul", **s, **timing, "a_url": put("a", a), "b_url": put("b", b)}
            ref = a.astype(np.float64) @ b.astype(np.float64)
            work, unit, extra = 2.0 * m * k * n, "GFLOP/s", {}
            if ORT in case.peers:
                peer_spec["model_url"] = put("model.onnx", matmul_model().SerializeToString())
        else:
            x = _nonzero_normal(rng, (s["n"],))
            spec = {"kind": "chain", **s, **timing, "x_url": put("x", x)}
            ref = x.astype(np.float64) * (s["ops"] + 1)
            work, unit, extra = float(s["ops"]), "kop/s", {"ops": s["ops"]}
        g = gpuml_side({**spec, "result_url": f"/result/{key}_gpuml"})
        t = tfjs_side(spec)
        checks = {side: result(side, ref, MATMUL_TOL) for side in ("gpuml", "tfjs")}
        tol = MATMUL_TOL
    elif case.kind == "conv":
        x = _nonzero_normal(rng, (s["n"], s["c"], s["h"], s["w"]))
        w = _nonzero_normal(rng, (s["oc"], s["c"], s["k"], s["k"]), 1.0 / np.sqrt(s["c"] * s["k"] ** 2))
        bias = _nonzero_normal(rng, (s["oc"],))
        spec = {"kind": "conv", **s, **timing, "x_url": put("x", x), "w_url": put("w", w), "b_url": put("b", bias)}
        g = gpuml_side({**spec, "result_url": f"/result/{key}_gpuml"})
        t = tfjs_side(
            {**spec, "x_url": put("x_nhwc", x.transpose(0, 2, 3, 1)), "w_url": put("w_hwio", w.transpose(2, 3, 1, 0))}
        )
        ref = ref_conv2d(x, w, bias, s["pad"])
        ref_nhwc = ref.transpose(0, 2, 3, 1)
        checks = {"gpuml": result("gpuml", ref, CONV_TOL), "tfjs": result("tfjs", ref_nhwc, CONV_TOL)}
        tol = CONV_TOL
        if ORT in case.peers:
            peer_spec["model_url"] = put("model.onnx", conv_model(w, bias, s["pad"], x.shape).SerializeToString())
        oh, ow = ref.shape[2:]
        work, unit = 2.0 * s["n"] * s["oc"] * oh * ow * s["c"] * s["k"] ** 2, "GFLOP/s"
        extra = {"gpuml_algo": g.get("algo")}
    elif case.kind == "infer":
        batch = s["batch"]
        model = lenet_for_inference()
        state = lenet_state(model)
        images = (1.0 - rng.random((batch, 1, 28, 28))).astype(np.float32)
        spec = {"kind": "infer", "batch": batch, **timing, "images_url": put("images", images)}
        flat = np.asarray(model.parameters().data.numpy(), np.float32)
        g = gpuml_side({**spec, "weights_url": put("gpuml_weights", flat), "result_url": f"/result/{key}_gpuml"})
        tf_flat, tf_shapes = _lenet_tf_weights(state)
        t = tfjs_side({**spec, "weights_url": put("tf_weights", tf_flat), "weight_shapes": tf_shapes})
        ref = ref_lenet(state, images)
        checks = {side: result(side, ref, INFER_TOL) for side in ("gpuml", "tfjs")}
        tol = INFER_TOL
        if JAX in case.peers:
            jflat, jshapes = jax_weights(state)
            peer_spec |= {"weights_url": put("jax_weights", jflat), "weight_shapes": jshapes}
        if ORT in case.peers:
            onnx_path = data / f"{key}_lenet5.onnx"
            extra_src = export_lenet(model, onnx_path)
            peer_spec["model_url"] = f"/data/{onnx_path.name}"
        work, unit = float(batch), "img/s"
        extra = {"batch": batch, "weights": "gpuml.models lenet5_mnist (shipped)"}
        if ORT in case.peers:
            extra["ort_model"] = extra_src
    else:  # train
        batch = s["batch"]
        n_batches = check_steps + 5
        images = (1.0 - rng.random((n_batches * batch, 1, 28, 28))).astype(np.float32)  # (0, 1], NCHW == NHWC
        labels = rng.integers(0, 10, n_batches * batch).astype(np.int32)
        state = _initial_lenet_state()
        flat, shapes = _lenet_tf_weights(state)
        spec = {"kind": "train", "batch": batch, "n_batches": n_batches, "check_steps": check_steps, "lr": LR}
        spec |= {**timing, "images_url": put("images", images), "labels_url": put("labels", labels)}
        g = gpuml_side(spec)
        t = tfjs_side({**spec, "weights_url": put("tf_weights", flat), "weight_shapes": shapes})
        ref = reference_losses(images, labels, batch, check_steps)
        checks = {"gpuml": _loss_check(g["losses"], ref), "tfjs": _loss_check(t["losses"], ref)}
        if JAX in case.peers:
            jflat, jshapes = jax_weights(state)
            peer_spec |= {"weights_url": put("jax_weights", jflat), "weight_shapes": jshapes}
        work, unit, tol = float(batch), "img/s", None
        extra = {"batch": batch, "gpuml_dispatches_per_step": g.get("dispatches_per_step")}
    scale = {"kop/s": 1e3, "img/s": 1.0}.get(unit, 1e9)
    rows = [
        _row(case, GPUML, g, work, unit, {**extra, "check": checks["gpuml"]}, scale),
        _row(case, TFJS, t, work, unit, {**extra, "check": checks["tfjs"]}, scale),
    ]
    for peer in case.peers:
        for backend, state in peer_info.get(peer, {}).get("backends", {}).items():
            if not state["ok"]:
                continue
            side = f"{peer}_{backend}".replace("-", "_")
            pspec = {**spec, **peer_spec, "device": backend, "result_url": f"/result/{key}_{side}"}
            if peer == ORT:
                page.evaluate("([b, u]) => ortbench.use(b, u)", [backend, "/data/ort_probe.onnx"])
                res = page.evaluate("(s) => ortbench[s.kind](s)", pspec)
            else:
                res = page.evaluate("(s) => jaxbench[s.kind](s)", pspec)
            check = _loss_check(res["losses"], ref) if case.kind == "train" else result(side, ref, tol)
            rows.append(_row(case, impl_name(peer, backend), res, work, unit, {**extra, "check": check}, scale))
    return rows
