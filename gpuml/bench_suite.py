"""``gpuml bench all``: every benchmark area in one process, each backend beside numpy / PyTorch CPU /
scikit-learn / Pillow, with each native row's fraction of the adapter's measured roofline.

Areas: roofline (the reference), gemm, conv, train (LeNet-5 steps), inference (one image), optimizer (Adam over
the LeNet-5 ParameterStore), kmeans (Lloyd iterations), silhouette, augment. The train/kmeans/augment rows come
from benchmarks/bench_train.py, bench_kmeans.py and bench_augment.py (loaded from the source checkout; an area
whose script is missing, e.g. in an installed wheel, is skipped with a note).

Roofline fraction (``Row.peak_fraction``, native rows only): work per call / time (GPU time where measured) over
the FMA peak (rows with ``extra["flops"]``) or the copy bandwidth (rows with ``extra["bytes"]``).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

import gpuml
from gpuml.bench import (
    CONV_LAYERS,
    Row,
    _device_row,
    _host_row,
    _torch,
    bench_conv,
    bench_gemm,
    bench_roofline,
    environment,
    gpu_devices,
)

AREAS = ("gemm", "conv", "train", "inference", "optimizer", "kmeans", "silhouette", "augment")
# forward FLOPs of LeNet-5 per image: conv1 2*6*28*28*25, conv2 2*16*10*10*150, fc 2*(400*120+120*84+84*10)
LENET_FWD_FLOPS = 2 * 6 * 28 * 28 * 25 + 2 * 16 * 10 * 10 * 150 + 2 * (400 * 120 + 120 * 84 + 84 * 10)
LENET_TRAIN_FLOPS = 3 * LENET_FWD_FLOPS  # forward + the two backward GEMMs per layer (approximate)


def _script(name: str):
    """benchmarks/<name>.py of the source checkout as a module, or None."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    if not path.exists():
        return None
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _skip(area: str, why: str) -> list[Row]:
    print(f"  (skipping {area}: {why})", file=sys.stderr)
    return []


def _flops(rows: list[Row], flops: float) -> list[Row]:
    for r in rows:
        r.extra.setdefault("flops", flops)
    return rows


def gemm_rows(backends, repeat, quick) -> list[Row]:
    sizes = [(256, 256, 256) if quick else (1024, 1024, 1024), (64, 400, 120), (64, 120, 84)]
    rows = []
    for m, k, n in sizes:
        rows += _flops(bench_gemm(((m, k, n),), backends, repeat), 2.0 * m * k * n)
    return rows


def conv_rows(backends, repeat, quick) -> list[Row]:
    from gpuml.ops.conv import conv_geometry

    cases = [("lenet-conv1", 64), ("lenet-conv2", 64), ("3x3-c64-28", 2 if quick else 8)]
    rows = bench_conv(backends, repeat, cases=cases, with_gemm=False)
    layers = {layer[0]: layer for layer in CONV_LAYERS}
    for r in rows:
        label, n = r.case.split(" N=")
        _, c, oc, h, w, k, pad = layers[label]
        r.extra.setdefault("flops", conv_geometry((int(n), c, h, w), (oc, c, k, k), padding=pad).flops)
    return rows


def _synthetic_mnist(n: int):
    from gpuml.datasets import Dataset

    rng = np.random.default_rng(0)
    images = rng.random((n, 1, 28, 28), dtype=np.float32)
    return Dataset(images, rng.integers(0, 10, n).astype(np.int32), "synthetic-28x28")


def train_rows(backends, steps) -> list[Row]:
    """LeNet-5 (batch 64, Adam) ``steps`` steps after 3 warm-up steps, and single-image inference latency, via
    benchmarks/bench_train.py; random 28x28 images (speed does not depend on the pixels)."""
    mod = _script("bench_train")
    if mod is None:
        return _skip("train/inference", "benchmarks/bench_train.py not found")
    data = _synthetic_mnist(64 * (steps + 4))
    results = {}
    for device in gpu_devices(list(backends)):
        gpuml.set_device(device)
        results[device.name] = mod.gpuml_epoch(device, data, steps)
    time.sleep(0.25)  # let the native backend's and OpenBLAS's threads park before PyTorch's pool starts
    torch_result = mod.torch_epoch(data, steps)
    if torch_result:
        results["torch-cpu"] = torch_result
    case = f"lenet5 b64 adam {steps} steps"
    rows = []
    for impl, r in results.items():
        ms = r["ms_per_step"]
        extra = {"flops": 64 * LENET_TRAIN_FLOPS, **{k: v for k, v in r.items() if k != "inference_ms"}}
        rows.append(Row("train", case, impl, ms, ms, ms, 64 / ms * 1e3, "img/s", None, extra))
    for impl, r in results.items():
        ms = r["inference_ms"]
        extra = {"flops": LENET_FWD_FLOPS}
        rows.append(Row("inference", "lenet5 1 image +readback", impl, ms, ms, ms, 1e3 / ms, "img/s", None, extra))
    return rows


def optimizer_rows(backends, repeat) -> list[Row]:
    """One Adam update over the LeNet-5 ParameterStore (every parameter in one fused dispatch on native)."""
    from gpuml.nn import from_spec
    from gpuml.optim import Adam

    rows = []
    n = None
    for device in gpu_devices(list(backends)):
        model = from_spec("lenet5", (1, 28, 28), device, 0)
        store = model.parameters()
        n = store.data.size
        opt = Adam(store, 1e-3)
        case = f"adam lenet5 ({n:,} params)"
        work = 28.0 * n  # read w, g, m, v; write w, m, v (float32)
        rows.append(_device_row("optimizer", case, device.name, device, opt.step, repeat, work, "GB/s"))
        rows[-1].extra["bytes"] = work
    if n is None:
        return rows
    rng = np.random.default_rng(5)
    w, g = rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)
    m, v = np.zeros_like(w), np.zeros_like(w)
    b1, b2, lr, eps = np.float32(0.9), np.float32(0.999), np.float32(1e-3), np.float32(1e-8)

    def numpy_adam():
        m[:] = b1 * m + (1 - b1) * g
        v[:] = b2 * v + (1 - b2) * g * g
        w[:] -= lr * (m / np.float32(0.1)) / (np.sqrt(v / np.float32(0.001)) + eps)

    rows.append(_host_row("optimizer", case, "numpy", numpy_adam, repeat, 28.0 * n, "GB/s"))
    torch = _torch()
    if torch is not None:
        p = torch.nn.Parameter(torch.from_numpy(w.copy()))
        p.grad = torch.from_numpy(g.copy())
        topt = torch.optim.Adam([p], lr=1e-3)
        rows.append(_host_row("optimizer", case, "torch-cpu", topt.step, repeat, 28.0 * n, "GB/s"))
    return rows


def kmeans_rows(backends, repeat, quick) -> list[Row]:
    mod = _script("bench_kmeans")
    if mod is None:
        return _skip("kmeans/silhouette", "benchmarks/bench_kmeans.py not found")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return _skip("kmeans/silhouette", "scikit-learn not installed")
    n, d, k = (10_000 if quick else 100_000), 16, 16
    rows = _flops(mod.lloyd_rows(n, d, k, list(backends), repeat, 10), 2.0 * n * k * d)
    ns = 1000 if quick else 5000
    rows += _flops(mod.silhouette_rows(ns, list(backends), max(1, repeat // 2)), 3.0 * ns * ns * 2)
    return rows


def augment_rows(backends, repeat, quick) -> list[Row]:
    mod = _script("bench_augment")
    if mod is None:
        return _skip("augment", "benchmarks/bench_augment.py not found")
    return mod.augment_rows("28x28 gray", 64 if quick else 256, repeat, backends)


def peaks(rows: list[Row]) -> dict[str, dict[str, float]]:
    """{device name: {"GFLOP/s": FMA peak, "GB/s": copy bandwidth}} from the roofline rows."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.bench == "roofline":
            out.setdefault(r.impl, {})[r.unit] = r.rate
    return out


def attach_peak_fractions(rows: list[Row], peak: dict[str, dict[str, float]]) -> None:
    for r in rows:
        device = r.impl.split("[")[0]
        if r.bench == "roofline" or device not in peak or "+" in device:
            continue
        seconds = (r.gpu_ms if r.gpu_ms else r.median_ms) / 1e3
        if "flops" in r.extra and "GFLOP/s" in peak[device]:
            r.peak_fraction = r.extra["flops"] / seconds / 1e9 / peak[device]["GFLOP/s"]
        elif "bytes" in r.extra and "GB/s" in peak[device]:
            r.peak_fraction = r.extra["bytes"] / seconds / 1e9 / peak[device]["GB/s"]


def subgroup_sizes(backends) -> dict[str, int]:
    return {d.name: d.subgroup_size() for d in gpu_devices(list(backends)) if d.is_gpu}


def run_all(backends=("native", "cpu"), repeat: int = 5, quick: bool = False, steps: int = 50):
    """(rows, environment) for every area; ``quick`` shrinks sizes and steps for tests."""
    backends = list(backends)
    t_start = time.perf_counter()
    steps = min(steps, 5) if quick else steps
    plan = [
        ("roofline", lambda: bench_roofline(backends, repeat)),
        ("gemm", lambda: gemm_rows(backends, repeat, quick)),
        ("conv", lambda: conv_rows(backends, repeat, quick)),
        ("train + inference", lambda: train_rows(backends, steps)),
        ("optimizer", lambda: optimizer_rows(backends, max(repeat, 10))),
        ("kmeans + silhouette", lambda: kmeans_rows(backends, repeat, quick)),
        ("augment", lambda: augment_rows(backends, repeat, quick)),
    ]
    rows: list[Row] = []
    seconds = {}
    for name, fn in plan:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rows += fn()
        seconds[name] = round(time.perf_counter() - t0, 2)
    attach_peak_fractions(rows, peaks(rows))
    env = environment(backends)
    for name, size in subgroup_sizes(backends).items():
        env["backends"][name]["subgroup_size"] = size or None
    for module, key in (("sklearn", "scikit-learn"), ("PIL", "pillow")):
        try:
            env[key] = __import__(module).__version__
        except ImportError:
            pass
    env["bench_all"] = {"quick": quick, "repeat": repeat, "train_steps": steps, "seconds": seconds}
    env["bench_all"]["total_seconds"] = round(time.perf_counter() - t_start, 1)
    return rows, env


def header(env: dict) -> str:
    lines = []
    for name, info in env["backends"].items():
        if info.get("subgroup_size"):
            lines.append(f"{name}: subgroup size {info['subgroup_size']}")
    extra = [f"{k} {env[k]}" for k in ("wgpu", "scikit-learn", "pillow") if k in env]
    if extra:
        lines.append(", ".join(extra))
    b = env.get("bench_all", {})
    if b:
        lines.append(f"bench all: {b['total_seconds']} s ({'quick' if b['quick'] else 'full'}, repeat {b['repeat']})")
    return "\n".join(lines)


def charts(rows: list[Row], folder) -> list[Path]:
    """One PNG bar chart per area (gpuml/plots.py)."""
    from gpuml.plots import bench_bars

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for area in ("roofline", *AREAS):
        sel = [r for r in rows if r.bench == area]
        if sel:
            paths.append(bench_bars(sel, folder / f"bench_{area}.png", area))
    return paths
