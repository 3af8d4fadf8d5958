"""`gpuml bench all --quick`: one run of every area, JSON rows with positive rates, non-blank PNG charts."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gpuml.bench_suite import AREAS


def test_bench_all_quick(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    pytest.importorskip("PIL")
    out_json, charts = tmp_path / "all.json", tmp_path / "charts"
    cmd = [sys.executable, "-m", "gpuml", "bench", "all", "--quick", "--repeat", "2"]
    cmd += ["--backends", "native,cpu", "--json", str(out_json), "--charts", str(charts)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out_json.read_text())
    rows = data["results"]
    assert {r["bench"] for r in rows} >= set(AREAS) | {"roofline"}
    assert all(r["rate"] > 0 and r["median_ms"] > 0 for r in rows)
    backends = data["environment"]["backends"]
    for area in AREAS:
        impls = {r["impl"].split("[")[0] for r in rows if r["bench"] == area}
        assert impls & set(backends), (area, impls)  # a gpuml backend in every area
        assert impls - set(backends), (area, impls)  # beside a reference implementation
    if "native" in backends:  # native rows with a known work count carry a roofline fraction
        native = [r for r in rows if r["bench"] in ("gemm", "conv", "optimizer") and r["impl"].startswith("native")]
        assert native and all(0 < r["peak_fraction"] < 5 for r in native)
    from PIL import Image

    for area in ("roofline", *AREAS):
        img = np.asarray(Image.open(charts / f"bench_{area}.png").convert("L"), dtype=np.float32)
        assert img.shape[0] > 100 and img.std() > 5, area  # drawn, not blank
