"""Convolution forward (every algorithm) and backward in headless Chromium (Pyodide core, no numpy, SwiftShader
or a real GPU) against the host's float64 numbers. The forward cases also run through tests/cases.py
(conv_cases); this file adds the backward pass, which returns three tensors."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from cases import ref_conv2d

from gpuml.testing import assert_close, max_relative_error

SHAPES = [
    ((2, 3, 9, 11), (5, 3, 3, 3), {"padding": 1}),
    ((2, 6, 14, 14), (16, 6, 5, 5), {}),
    ((2, 6, 9, 8), (8, 3, 3, 3), {"stride": 2, "padding": [1, 2], "groups": 2}),
]

PAGE = textwrap.dedent(
    """
    import json
    from array import array as f32_array
    import gpuml
    out = []
    for case in json.loads(INPUT):
        def t(name):
            return gpuml.tensor(f32_array("f", case[name])).reshape(case[name + "_shape"])
        x, w, b, gy = t("x"), t("w"), t("b"), t("gy")
        fwd = {}
        for algo in case["algos"]:
            fwd[algo] = gpuml.ops.conv2d(x, w, b, algo=algo, **case["kw"]).to_array().tolist()
        gx, gw, gb = gpuml.ops.conv2d_backward(x, w, gy, **case["kw"])
        out.append({"fwd": fwd, "gx": gx.to_array().tolist(), "gw": gw.to_array().tolist(),
                    "gb": gb.to_array().tolist(), "last": gpuml.ops.last_conv_algo()})
    json.dumps(out)
    """
)


def _ref_grads(x, w, gy, kw):
    """float64 gradients by linearity: grad_w[o, c, i, j] = <gy, conv(x, e_ocij)>, grad_x via the adjoint."""
    gw = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = 1.0
        gw[idx] = (ref_conv2d(x, e, **kw) * gy).sum()
    gx = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        gx[idx] = (ref_conv2d(e, w, **kw) * gy).sum()
    return gx, gw, gy.sum(axis=(0, 2, 3))


def test_conv_forward_backward_in_browser(browser):
    rng = np.random.default_rng(11)
    payload, host = [], []
    for xs, ws, kw in SHAPES:
        x = rng.standard_normal(xs).astype(np.float32)
        w = (rng.standard_normal(ws) * 0.3).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32)
        y = ref_conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **kw)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        wino = ws[2:] == (3, 3) and "stride" not in kw
        algos = ["direct", "im2col"] + (["winograd2", "winograd4"] if wino else [])
        arrays = {"x": x, "w": w, "b": b, "gy": gy}
        case = {k: v.ravel().tolist() for k, v in arrays.items()}
        case.update({f"{k}_shape": list(v.shape) for k, v in arrays.items()})
        payload.append({**case, "kw": kw, "algos": algos})
        host.append((x, w, y, gy, kw, algos))
    try:
        out = browser.run(PAGE, json.dumps(payload), timeout_s=300)
    except RuntimeError as exc:
        pytest.fail(f"conv in the browser raised: {exc}")
    for got, (x, w, y, gy, kw, algos) in zip(out, host, strict=True):
        for algo in algos:
            err = max_relative_error(np.array(got["fwd"][algo]).reshape(y.shape), y)
            assert err <= 2e-5, (algo, kw, err)
        x64, w64, gy64 = x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64)
        for name, ref in zip(("gx", "gw", "gb"), _ref_grads(x64, w64, gy64, kw), strict=True):
            assert_close(np.array(got[name], np.float32).reshape(ref.shape), ref, "matmul", f"{name} {kw}")
