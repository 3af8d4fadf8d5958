"""Chrome/Tint accepts the f16 kernel variants (``enable f16;``, T=f16) that Sequential.half() runs natively."""

from __future__ import annotations

import base64
import textwrap

import numpy as np
import pytest


def test_f16_kernels_compile_and_run_in_chromium(browser):
    x = np.linspace(-3, 3, 37).astype(np.float16)
    out = browser.run(
        textwrap.dedent(
            """
            import base64, json, gpuml
            from gpuml.tensor import Tensor
            dev = gpuml.get_device()
            if "shader-f16" not in dev.features:
                result = {"skip": f"{dev.adapter} lacks shader-f16"}
            else:
                names = []
                for path, extra in [
                    ("conv/implicit.wgsl", {"WG": 64}),
                    ("linalg/matmul_register.wgsl", {}),
                    ("linalg/matmul_tiled.wgsl", {"TRANS_B": "false", "EPI": 0}),
                    ("pool/max_pool.wgsl", {"WG": 256}),
                    ("pool/max_pool_tiled.wgsl", {"WG": 256, "KH": 2, "KW": 2}),
                    ("pool/max_pool_2x2_vec4.wgsl", {"WG": 256}),
                    ("pool/avg_pool.wgsl", {"WG": 256}),
                    ("elementwise/binary_broadcast.wgsl", {"WG": 256, "OP": "a + b"}),
                ] + ([("linalg/matmul_subgroup.wgsl", {"ROWS": 32, "COLS": 1})] if "subgroup" in dev.features else []):
                    dev.kernel(path, T="f16", **extra)
                    names.append(path)
                dev.kernel("layout/pad2d.wgsl", WG=256, WORD="f16")
                raw = base64.b64decode(INPUT)
                x = Tensor.empty((37,), "float16", dev)
                dev.write(x._storage.buffer, raw + bytes(-len(raw) % 4))
                y = gpuml.ops.relu(x)
                data = await y.to_bytes_async()
                result = {"compiled": names, "relu": base64.b64encode(data).decode(), "dtype": y.dtype_name}
            json.dumps(result)
            """
        ),
        input=base64.b64encode(x.tobytes()).decode(),
    )
    result = out
    if "skip" in result:
        pytest.skip(result["skip"])
    got = np.frombuffer(base64.b64decode(result["relu"]), np.float16)
    assert result["dtype"] == "float16"
    assert np.array_equal(got, np.maximum(x, 0))
