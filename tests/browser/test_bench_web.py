"""`gpuml bench web` in its quick mode: gpuml (Pyodide, navigator.gpu) and TensorFlow.js's WebGPU backend run the same
tiny matmul, convolutions, LeNet-5 inference and training steps and chained adds in one headless Chromium page;
both sides time every case, their outputs agree with numpy, and each case gets a gpuml/tf.js ratio. The tf.js files
stay out of gpuml's web payload."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from gpuml import bench_web
from gpuml.bundle import bundle_files
from gpuml.cli import build_parser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
EXPECT_GPU = os.environ.get("GPUML_EXPECT_GPU") == "1"


@pytest.fixture(scope="module")
def quick_run(playwright_session):
    reason = bench_web.unavailable_reason()
    if reason:
        if EXPECT_GPU:
            pytest.fail(f"GPUML_EXPECT_GPU=1 but gpuml bench web cannot run: {reason}")
        pytest.skip(reason)
    t0 = time.perf_counter()
    # gpuml against tf.js alone here; the peers (jax-js, ONNX Runtime Web) have test_bench_web_peers.py
    rows, env = bench_web.run_web_bench(
        quick=True, repeat=2, warmup=1, profile=1, playwright=playwright_session, peers=()
    )
    seconds = time.perf_counter() - t0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    bench_web.write_json(str(ARTIFACTS / "bench_web_quick.json"), rows, env)
    (ARTIFACTS / "bench_web_quick.txt").write_text(bench_web.format_web(rows, env) + f"\n{seconds:.1f} s\n")
    return rows, env


def test_both_sides_time_every_case(quick_run):
    rows, env = quick_run
    expected = {c.label for c in bench_web.cases(quick=True)}
    assert {r.case for r in rows} == expected
    for case in expected:
        impls = {r.impl: r for r in rows if r.case == case}
        assert set(impls) == {bench_web.GPUML, bench_web.TFJS}, case
        for r in impls.values():
            assert r.median_ms > 0 and r.min_ms > 0 and r.rate > 0, (case, r.impl)
            assert len(r.extra["walls_ms"]) == 2 and r.min_ms <= r.median_ms <= r.max_ms
            assert r.extra["first_ms"] > 0, (case, r.impl)
            # both sides report per-kernel GPU time (inference ends with a readback: wall time only)
            if env["browser"]["tfjs_timestamp_query"] and not case.startswith("infer"):
                assert r.gpu_ms and r.gpu_ms > 0 and r.extra["kernels"], (case, r.impl)
    browser = env["browser"]
    assert browser["tfjs_backend"] == "webgpu" and browser["tfjs"] == "4.22.0"
    assert browser["chromium"] and browser["adapter"]
    # the same adapter on both sides
    assert env["backends"][bench_web.TFJS]["adapter"] in env["backends"][bench_web.GPUML]["adapter"]


def test_outputs_agree_with_numpy(quick_run):
    rows, _ = quick_run
    for r in rows:
        check = r.extra["check"]
        assert check["ok"], (r.case, r.impl, check)
        if "max_rel_err" in check:  # matmul, conv, inference, chained adds: against float64 numpy
            assert check["max_rel_err"] <= bench_web.MATMUL_TOL
        else:  # training: both libraries start from the same weights and see the same batches
            assert len(check["losses"]) == 2 and check["max_abs_loss_diff"] <= bench_web.LOSS_TOL


def test_ratio_rows_and_table(quick_run):
    rows, env = quick_run
    lines = bench_web.ratio_lines(rows)
    assert len(lines) == len(bench_web.cases(quick=True))
    assert all(re.search(r"gpuml/tf\.js wall time = [0-9.]+ \(gpuml (faster|slower), ", line) for line in lines), lines
    text = bench_web.format_web(rows, env)
    assert "Chromium" in text and "tf.js 4.22.0" in text and env["browser"]["adapter"] in text
    data = json.loads((ARTIFACTS / "bench_web_quick.json").read_text())
    assert {r["impl"] for r in data["results"]} == {bench_web.GPUML, bench_web.TFJS}


def test_tfjs_stays_out_of_the_gpuml_payload():
    names = list(bundle_files())
    assert not [n for n in names if n.startswith("gpuml/bench_web")]
    assert "gpuml/bench.py" in names  # the filter keeps the rest
    assert not [n for n in names if "tfjs" in n or "tensorflow" in n]


def test_help_names_web(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "web", "--help"])
    help_text = capsys.readouterr().out
    assert "web" in help_text and "TensorFlow.js" in help_text and "--tfjs-flag" in help_text
