"""The peers of `gpuml bench web` (issue 20.4): jax-js and ONNX Runtime Web beside gpuml and TensorFlow.js in the same
page. The host side (ONNX models, weight layouts, the float64 LeNet-5 reference, the target verdicts) is checked
without a browser; the page runs the smallest case (matmul 100x72x84) on every peer and backend, outputs against
numpy. The peers' npm packages are pinned, locked, and stay out of the wheel, the web payload and the site."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from gpuml import bench_web
from gpuml.bench import Row
from gpuml.bench_web import peers
from gpuml.bench_web.cases import ref_conv2d
from gpuml.bundle import bundle_files

ROOT = Path(__file__).resolve().parents[2]
PINS = {"@jax-js/jax": "0.1.25", "onnxruntime-web": "1.30.0"}


def test_peer_packages_are_pinned_and_locked():
    deps = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())["packages"]
    for name, version in PINS.items():
        assert deps[name] == version  # exact, no ^ or ~
        assert lock[f"node_modules/{name}"]["version"] == version
        assert lock[""]["dependencies"][name] == version


def test_peers_stay_out_of_the_payload_and_the_site():
    names = list(bundle_files())
    assert not [n for n in names if "jax" in n.lower() or "onnxruntime" in n or n.startswith("web/bench")]
    site = ROOT / "web" / "site"
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".mjs", ".py", ".json", ".webmanifest"):
            text = path.read_text(errors="replace")
            assert "@jax-js" not in text and "onnxruntime-web" not in text, path


def test_onnx_models_and_the_lenet_reference_agree_with_numpy(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((7, 3)).astype(np.float32)
    sess = ort.InferenceSession(peers.matmul_model().SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"a": a, "b": b})[0], a @ b, rtol=1e-5, atol=1e-5)

    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w, bias = rng.standard_normal((4, 3, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    sess = ort.InferenceSession(peers.conv_model(w, bias, 1, x.shape).SerializeToString())
    y = sess.run(None, {"x": x})[0]
    assert y.shape == (2, 4, 6, 6)
    np.testing.assert_allclose(y, ref_conv2d(x, w, bias, 1), rtol=1e-4, atol=1e-4)

    model = peers.lenet_for_inference()  # the shipped, trained LeNet-5
    state = peers.lenet_state(model)
    images = (1.0 - rng.random((3, 1, 28, 28))).astype(np.float32)
    ref = peers.ref_lenet(state, images)
    assert ref.shape == (3, 10)
    import gpuml

    ours = model.forward(gpuml.tensor(images, device=model.parameters().data.device)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert peers.export_lenet(model, tmp_path / "lenet5.onnx") == "gpuml.export.onnx"
    sess = ort.InferenceSession(str(tmp_path / "lenet5.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"input": images})[0], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_jax_layout():
    state = peers.lenet_state(peers.lenet_for_inference())
    flat, shapes = peers.jax_weights(state)
    assert shapes == [[6, 1, 5, 5], [6], [16, 6, 5, 5], [16], [400, 120], [120], [120, 84], [84], [84, 10], [10]]
    assert flat.size == sum(v.size for v in state.values())
    start = 6 * 25 + 6 + 16 * 150 + 16  # the first dense layer, (in, out)
    np.testing.assert_array_equal(flat[start : start + 400 * 120].reshape(400, 120), state["7.weight"].T)


def _row(case, impl, ms, ok=True):
    return Row("web", case, impl, ms, ms, ms, 1.0, "img/s", None, {"check": {"ok": ok}})


def test_peer_lines_state_each_target():
    rows = [
        _row("train lenet5 b64 adam", bench_web.GPUML, 100.0),
        _row("train lenet5 b64 adam", "jax-js[webgpu]", 150.0),  # 1.5x: below the 2x target
        _row("infer lenet5 b64", bench_web.GPUML, 10.0),
        _row("infer lenet5 b64", "ort-web[webgpu]", 30.0, ok=False),  # wrong output: no verdict
        _row("infer lenet5 b64", "ort-web[wasm]", 2.0),  # the CPU backend: context, no target
        _row("infer lenet5 b1", bench_web.GPUML, 5.0),
        _row("infer lenet5 b1", "ort-web[webgpu]", 6.0),
    ]
    lines = bench_web.peer_lines(rows)
    assert len(lines) == 4
    assert "jax-js[webgpu] / gpuml wall time = 1.50 (gpuml faster); target gpuml >= 2x jax-js: NOT MET" in lines[0]
    assert "target gpuml >= 1x ort-web: not comparable" in lines[1] and "FAILED (ort-web[webgpu])" in lines[1]
    assert "= 0.20 (gpuml SLOWER)" in lines[2] and "context, no target" in lines[2] and "target gpuml" not in lines[2]
    assert lines[3].endswith("target gpuml >= 1x ort-web: met")


@pytest.fixture(scope="module")
def peer_run(playwright_session):
    reason = bench_web.unavailable_reason() or "; ".join(bench_web.peers_unavailable().values())
    if reason:
        pytest.skip(reason)
    rows, env = bench_web.run_web_bench(
        quick=True, repeat=2, warmup=1, profile=1, kinds=["matmul"], playwright=playwright_session
    )
    return rows, env


def test_every_peer_runs_the_smallest_case_and_agrees_with_numpy(peer_run):
    rows, env = peer_run
    (case,) = {r.case for r in rows}
    assert case == "matmul 100x72x84"
    impls = {r.impl: r for r in rows}
    expected = {bench_web.GPUML, bench_web.TFJS}
    for peer, info in env["peers"].items():
        assert info["version"] == PINS[{"jax-js": "@jax-js/jax", "ort-web": "onnxruntime-web"}[peer]]
        for backend, state in info["backends"].items():
            if state["ok"]:
                expected.add(bench_web.impl_name(peer, backend))
    assert "jax-js[wasm]" in expected and "ort-web[wasm]" in expected  # Wasm needs no adapter
    assert set(impls) == expected
    for r in rows:
        assert r.extra["check"]["ok"] and r.extra["check"]["max_rel_err"] <= bench_web.MATMUL_TOL, r.impl
        assert r.median_ms > 0 and r.extra["first_ms"] > 0 and len(r.extra["walls_ms"]) == 2, r.impl
    lines = bench_web.peer_lines(rows)
    assert len(lines) == len(expected) - 2
    # "(even)" within 2% of gpuml's time, else "(gpuml faster)" / "(gpuml SLOWER)" (bench_web.report.peer_lines)
    line_form = r"peer web matmul 100x72x84: \S+ / gpuml wall time = [0-9.]+ \((gpuml|even\))"
    assert all(re.match(line_form, ln) for ln in lines)
    text = bench_web.format_web(rows, env)
    assert "peer jax-js 0.1.25:" in text and "peer ort-web 1.30.0:" in text and "first call matmul" in text
