"""Backends: the same computation on every backend gpuml finds here, with the same results.

``native`` runs the WGSL kernels through wgpu-py (Vulkan / Metal / D3D12, or lavapipe on a CPU), ``cpu`` their
numpy twins and ``python`` their pure-Python twins (no numpy; what the web page falls back to offline). The
computation: a seeded LeNet-5 (same initial weights on every backend), its forward pass on two images, a
softmax cross-entropy and the gradient of every parameter.

    python demos/backends.py
"""

import time

import numpy as np

import gpuml
import gpuml.nn

rng = np.random.default_rng(0)
images = rng.random((2, 1, 28, 28), dtype=np.float32)
labels = np.array([3, 7], np.int32)

results = {}
for name, adapter in gpuml.available().items():
    if adapter.startswith("unavailable"):
        print(f"{name:<7} skipped ({adapter})")
        continue
    device = gpuml.get_device(name)
    model = gpuml.nn.lenet5(device=device, seed=0)  # weights from a pure-Python RNG: identical everywhere
    t0 = time.perf_counter()
    logits = model(gpuml.tensor(images, device=device))
    loss, correct, grad = gpuml.nn.functional.softmax_cross_entropy(logits, gpuml.tensor(labels, device=device))
    model.backward(grad)  # gradients land in the model's flat parameter store
    out = {
        "logits": logits.numpy(),
        "loss": float(gpuml.ops.mean(loss).item()),
        "grad": model.parameters().grad.numpy(),
    }
    seconds = time.perf_counter() - t0
    results[name] = out
    print(f"{name:<7} {adapter}")
    note = " (incl. compiling the WGSL pipelines)" if name in ("native", "browser") else ""
    print(f"        loss {out['loss']:.6f}, logits[0, :3] {np.round(out['logits'][0, :3], 5)}, {seconds:.2f} s{note}")

reference = results["cpu"]  # numpy is always there natively
for name, out in results.items():
    if name == "cpu":
        continue
    d_logits = np.abs(out["logits"] - reference["logits"]).max()
    d_grad = np.abs(out["grad"] - reference["grad"]).max() / np.abs(reference["grad"]).max()
    print(f"{name:<7} vs cpu: max |d logits| {d_logits:.1e}, max |d grad| / max |grad| {d_grad:.1e}")
    assert d_logits < 1e-4 and d_grad < 1e-4, (name, d_logits, d_grad)
    assert abs(out["loss"] - reference["loss"]) < 1e-5
assert {"cpu", "python"} <= set(results)
print(f"ok: {len(results)} backends agree")
