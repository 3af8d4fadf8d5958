"""Convolution algorithms: one 3x3 convolution run by each of gpuml's algorithms, all equal to float64 numpy.

``direct`` (register-blocked kernels), ``im2col`` (column matrix + GEMM), ``winograd2`` / ``winograd4``
(F(2x2,3x3) / F(4x4,3x3) transforms + batched GEMM); ``auto`` picks one for the shape and adapter, and
``gpuml.ops.last_conv_algo(device)`` names the kernel that ran there.

    python demos/conv_algorithms.py [--backend native|cpu|python]
"""

import argparse
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import gpuml

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--backend", default=None, help="backend to run on (default: the best available)")
args = parser.parse_args()
device = gpuml.get_device(args.backend)
print(f"backend: {device.name}, adapter: {device.adapter}")

N, C, H, W, OC = 4, 32, 28, 28, 32
rng = np.random.default_rng(0)
x = rng.standard_normal((N, C, H, W)).astype(np.float32)
w = (rng.standard_normal((OC, C, 3, 3)) / np.sqrt(C * 9)).astype(np.float32)
b = rng.standard_normal(OC).astype(np.float32)

# float64 reference: every 3x3 window of the zero-padded input dotted with every filter
windows = sliding_window_view(np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))
ref = np.maximum(np.einsum("nchwij,ocij->nohw", windows, w.astype(np.float64)) + b[None, :, None, None], 0)
print(f"x {x.shape}, w {w.shape}, padding 1, bias + fused ReLU -> {ref.shape}")

tx, tw, tb = (gpuml.tensor(a, device=device) for a in (x, w, b))
errors = {}
for algo in ("direct", "im2col", "winograd2", "winograd4", "auto"):
    y = gpuml.ops.conv2d(tx, tw, tb, padding=1, algo=algo, relu=True).numpy()  # warm-up: compiles pipelines
    ran = gpuml.ops.last_conv_algo(device)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        gpuml.ops.conv2d(tx, tw, tb, padding=1, algo=algo, relu=True).numpy()
        times.append(time.perf_counter() - t0)
    errors[algo] = np.abs(y - ref).max()
    ms, gflops = min(times) * 1e3, 2 * N * OC * H * W * C * 9 / min(times) / 1e9
    print(f"{algo:>9}: ran {ran:<13} {ms:7.2f} ms ({gflops:5.1f} GFLOP/s)  max |y - ref| {errors[algo]:.1e}")

for algo, err in errors.items():
    assert err < 1e-4, (algo, err)  # Winograd's transforms cost a little precision; still float32-accurate
kernels = ("implicit_rows", "implicit", "direct", "im2col", "winograd2", "winograd4")  # "direct" is a family
assert gpuml.ops.last_conv_algo(device) in kernels, gpuml.ops.last_conv_algo(device)
print("ok: every algorithm matches the float64 reference")
