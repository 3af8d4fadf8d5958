"""gpuml.augment inside Pyodide (no numpy) on navigator.gpu: the same pipeline and seed as on the host give the
same per-image parameters (pure-Python random.Random) and the same images as native gpuml within the float32
tolerance of gpuml.augment.TOLERANCES (same kernels, different compilers: Tint/SwiftShader vs naga/lavapipe)."""

from __future__ import annotations

import base64
import json
import textwrap

import numpy as np
import pytest

import gpuml
import gpuml.augment as A
from gpuml.backends import open_device

SPEC = "hflip, rotate 20, crop 25 27, brightness 0.2, contrast 0.3, saturation 0.3, hue 0.05, noise 0.02, elastic 1.5 5"


def test_pipeline_matches_host(browser):
    x = np.random.default_rng(11).random((5, 3, 29, 31), dtype=np.float32)
    payload = json.dumps({"b64": base64.b64encode(x.tobytes()).decode(), "shape": x.shape, "spec": SPEC})
    out = browser.run(
        textwrap.dedent(
            """
            import array, base64, json, sys, time, gpuml
            import gpuml.augment as A
            req = json.loads(INPUT)
            host = array.array("f")
            host.frombytes(base64.b64decode(req["b64"]))
            x = gpuml.tensor(host).reshape(tuple(req["shape"]))
            pipe = A.parse_pipeline(req["spec"])
            y = pipe.apply_batch(x, seed=5, step=3)
            data = await y.to_bytes_async()
            t0 = time.perf_counter()
            await pipe.apply_batch(x, seed=5, step=4).to_bytes_async()
            json.dumps({"b64": base64.b64encode(data).decode(), "shape": list(y.shape), "params": pipe.params_,
                        "numpy": "numpy" in sys.modules, "ms": (time.perf_counter() - t0) * 1e3})
            """
        ),
        payload,
        timeout_s=120,
    )
    assert not out["numpy"], "numpy must not be imported inside Pyodide"
    browser.timings["augment_pipeline_5x3x29x31_ms"] = out["ms"]
    try:
        native = open_device("native")
    except RuntimeError as exc:
        pytest.skip(f"no native adapter to compare with: {exc}")
    pipe = A.parse_pipeline(SPEC)
    ref = pipe.apply_batch(gpuml.tensor(x, device=native), seed=5, step=3).numpy()
    got = np.frombuffer(base64.b64decode(out["b64"]), np.float32).reshape(out["shape"])
    assert got.shape == ref.shape == (5, 3, 25, 27)
    assert json.loads(json.dumps(pipe.generate(5, (3, 29, 31), A.make_rng(5, 4)))) == out["params"]  # step 4
    atol, frac = A.TOLERANCES[("float32", "bilinear")]
    err = np.abs(got - ref)
    assert (err > atol).mean() <= frac, f"max error {err.max():.3g}"
