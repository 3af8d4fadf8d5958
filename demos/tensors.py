"""Tensors: upload once, chain ops on the device, read back once; matmul checked against numpy.

gpuml records kernel calls and submits them all at the first read (``t.numpy()``), in one command encoder.

    python demos/tensors.py
"""

import time

import numpy as np

import gpuml

device = gpuml.get_device()  # the best backend here; GPUML_BACKEND=cpu|python|native forces one
print(f"backend: {device.name}, adapter: {device.adapter}")
for name, adapter in gpuml.available().items():
    print(f"  {name:<8} {adapter}")

rng = np.random.default_rng(0)
a = rng.standard_normal((256, 128)).astype(np.float32)
b = rng.standard_normal((128, 64)).astype(np.float32)
bias = rng.standard_normal(64).astype(np.float32)

# Upload once; every op returns a tensor on the same device and nothing is read back until .item().
ta, tb, tbias = gpuml.tensor(a), gpuml.tensor(b), gpuml.tensor(bias)


def chain():
    h = gpuml.ops.relu(ta @ tb + tbias)  # matmul, broadcast add, relu: kernels recorded, not yet run
    z = gpuml.ops.tanh(h * 0.1) - gpuml.ops.mean(h, axis=1, keepdims=True)
    return h, gpuml.ops.sum(gpuml.ops.max(z, axis=1))


for run in ("first (compiles pipelines)", "second (cached pipelines)"):
    t0 = time.perf_counter()
    h, total = chain()
    recorded = time.perf_counter() - t0
    value = total.item()  # the only readback: one submit for the whole chain
    elapsed = time.perf_counter() - t0
    print(f"{run}: recorded in {recorded * 1e3:.1f} ms, submitted + read back after {elapsed * 1e3:.1f} ms")
print(f"{type(h).__name__} {h.shape} {h.dtype_name} on {h.device.name}; sum of row maxima: {value:.5f}")

# The same chain in float64 numpy.
h64 = np.maximum(a.astype(np.float64) @ b + bias, 0)
z64 = np.tanh(h64 * 0.1) - h64.mean(axis=1, keepdims=True)
expected = z64.max(axis=1).sum()
print(f"numpy float64 reference: {expected:.5f}")

# matmul alone, against numpy's float64 product.
c = (ta @ tb).numpy()
err = np.abs(c - a.astype(np.float64) @ b).max()
print(f"matmul {a.shape} @ {b.shape}: max |gpuml - numpy| = {err:.2e}")

assert c.shape == (256, 64) and c.dtype == np.float32
assert err < 1e-3, err
assert abs(value - expected) < 1e-3 * max(1.0, abs(expected)), (value, expected)
print("ok")
