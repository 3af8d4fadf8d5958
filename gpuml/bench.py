"""Foundation benchmarks: GEMM, elementwise axpy, per-dispatch overhead — each backend beside numpy (and
PyTorch CPU when installed) in the same run.

GPU time comes from timestamp queries where the adapter has them (``gpu_ms``), wall time always (``wall_ms``,
submit and wait included). Warm-up runs are excluded; medians and min/max over the repeats are reported;
inputs are random. Used by ``gpuml bench`` (the CLI) and by the benchmark scripts in benchmarks/.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np

import gpuml
from gpuml.backends import open_device


@dataclass
class Row:
    bench: str
    case: str
    impl: str  # "native[subgroup]", "cpu", "numpy", "torch"
    median_ms: float
    min_ms: float
    max_ms: float
    rate: float  # GFLOP/s or G elements/s, from the median (GPU time when measured)
    unit: str
    gpu_ms: float | None = None
    extra: dict = field(default_factory=dict)
    peak_fraction: float | None = None  # of the adapter's measured roofline (FMA or copy), where the work is known


def _stats(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples) * 1e3, min(samples) * 1e3, max(samples) * 1e3


def time_host(fn: Callable[[], object], repeat: int, warmup: int = 2) -> list[float]:
    # Another library's worker threads (OpenBLAS, PyTorch's OpenMP pool) spin for a while after its last call; on
    # 2 cores they delay this library's threads by a scheduler slice (~16 ms seen). Let them park first.
    time.sleep(0.25)
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def time_device(device, fn: Callable[[], object], repeat: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """(wall seconds, GPU seconds) per repeat of ``fn`` recorded and run on ``device``."""
    # OpenBLAS worker threads keep spinning for a while after a numpy BLAS call; on a CPU adapter (lavapipe) they
    # would steal cores from the device's threads. Let them park before timing device work.
    time.sleep(0.25)
    for _ in range(warmup):
        fn()
        device.sync()
    walls, gpus = [], []
    for _ in range(repeat):
        with device.timer() as t:
            fn()
        walls.append(t.wall_seconds)
        if t.gpu_seconds is not None:
            gpus.append(t.gpu_seconds)
    return walls, gpus


def _torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


def _device_row(bench, case, impl, device, fn, repeat, work, unit, extra=None) -> Row:
    walls, gpus = time_device(device, fn, repeat)
    med, lo, hi = _stats(walls)
    gpu_ms = statistics.median(gpus) * 1e3 if gpus else None
    seconds = (gpu_ms if gpu_ms else med) / 1e3
    return Row(bench, case, impl, med, lo, hi, work / seconds / 1e9, unit, gpu_ms, extra or {})


def _host_row(bench, case, impl, fn, repeat, work, unit) -> Row:
    med, lo, hi = _stats(time_host(fn, repeat))
    return Row(bench, case, impl, med, lo, hi, work / (med / 1e3) / 1e9, unit)


def gpu_devices(backends: list[str]) -> list:
    devices = []
    for name in backends:
        try:
            devices.append(open_device(name))
        except RuntimeError as exc:
            print(f"  (skipping backend {name}: {exc})")
    return devices


def bench_gemm(sizes=((1024, 1024, 1024),), backends=("native", "cpu"), repeat: int = 5, variants=None) -> list[Row]:
    """C = A @ B for each (M, K, N): every GEMM kernel on each GPU backend, the numpy backend, numpy, torch."""
    from gpuml.ops.linalg import GEMM_KERNELS, gemm_kernel_for

    rows = []
    rng = np.random.default_rng(0)
    torch = _torch()
    for m, k, n in sizes:
        case = f"{m}x{k}x{n}"
        flops = 2.0 * m * k * n
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        for device in gpu_devices(list(backends)):
            ta, tb = gpuml.tensor(a, device=device), gpuml.tensor(b, device=device)
            if not device.is_gpu:
                fn = partial(gpuml.ops.matmul, ta, tb)
                rows.append(_device_row("gemm", case, "cpu", device, fn, repeat, flops, "GFLOP/s"))
                continue
            default = gemm_kernel_for(device)
            for variant in variants or GEMM_KERNELS:
                if variant == "subgroup" and "subgroup" not in device.features:
                    continue
                fn = partial(gpuml.ops.matmul, ta, tb, kernel=variant)
                tag = f"{device.name}[{variant}{'*' if variant == default else ''}]"
                reps = repeat if variant == default else max(2, repeat // 2)
                rows.append(_device_row("gemm", case, tag, device, fn, reps, flops, "GFLOP/s"))
        rows.append(_host_row("gemm", case, "numpy", partial(np.matmul, a, b), repeat, flops, "GFLOP/s"))
        if torch is not None:
            xa, xb = torch.from_numpy(a), torch.from_numpy(b)
            rows.append(_host_row("gemm", case, "torch-cpu", partial(torch.matmul, xa, xb), repeat, flops, "GFLOP/s"))
    return rows


def bench_axpy(n: int = 16 * 1024 * 1024, backends=("native", "cpu"), repeat: int = 7) -> list[Row]:
    """y' = alpha * x + y over ``n`` floats (one fused kernel vs numpy's ``alpha * x + y``), in G elements/s."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    case = f"n={n:,}"
    rows = []
    for device in gpu_devices(list(backends)):
        tx, ty = gpuml.tensor(x, device=device), gpuml.tensor(y, device=device)
        rows.append(
            _device_row("axpy", case, device.name, device, partial(gpuml.ops.axpy, 0.5, tx, ty), repeat, n, "Gelem/s")
        )
    alpha = np.float32(0.5)
    rows.append(_host_row("axpy", case, "numpy", lambda: alpha * x + y, repeat, n, "Gelem/s"))
    out = np.empty_like(x)

    def numpy_inplace():
        np.multiply(x, alpha, out=out)
        np.add(out, y, out=out)

    rows.append(_host_row("axpy", case, "numpy(out=)", numpy_inplace, repeat, n, "Gelem/s"))
    torch = _torch()
    if torch is not None:
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        rows.append(_host_row("axpy", case, "torch-cpu", lambda: torch.add(yt, xt, alpha=0.5), repeat, n, "Gelem/s"))
    return rows


def _many_relu(x, count: int) -> list:
    return [gpuml.ops.relu(x) for _ in range(count)]


def bench_dispatch(count: int = 1000, backends=("native",), repeat: int = 5) -> list[Row]:
    """Cost of one small dispatch (relu on 1,024 floats) inside one encoder: GPU time per dispatch from
    timestamps, wall time per dispatch (recording + submit + wait, amortised), and Python recording alone."""
    rows = []
    for device in gpu_devices(list(backends)):
        if not device.is_gpu:
            continue
        x = gpuml.tensor(np.random.default_rng(2).standard_normal(1024, dtype=np.float32), device=device)
        many = partial(_many_relu, x, count)

        walls, gpus = time_device(device, many, repeat)
        t0 = time.perf_counter()
        many()
        record = (time.perf_counter() - t0) / count
        device.sync()
        med = statistics.median(walls) / count * 1e6
        gpu_us = statistics.median(gpus) / count * 1e6 if gpus else None
        rows.append(
            Row(
                "dispatch",
                f"{count} x relu(1024) in one submit",
                device.name,
                med / 1e3,
                min(walls) / count * 1e3,
                max(walls) / count * 1e3,
                1.0 / (gpu_us or med) * 1e6 / 1e9,
                "Gdispatch/s",
                gpu_us / 1e3 if gpu_us else None,
                {"wall_us_per_dispatch": med, "gpu_us_per_dispatch": gpu_us, "record_us_per_dispatch": record * 1e6},
            )
        )
    return rows


def bench_roofline(backends=("native",), repeat: int = 5) -> list[Row]:
    """The adapter's measured ceilings: FMA throughput (GFLOP/s, shaders/bench/fma_peak.wgsl) and copy bandwidth
    (GB/s moved, shaders/bench/copy_bandwidth.wgsl), with numpy's copy bandwidth beside."""
    rows = []
    for device in gpu_devices(list(backends)):
        if not device.is_gpu:
            continue
        n, iters, wg = 1 << 16, 256, 64
        out = gpuml.Tensor.empty((n * 4,), "float32", device)
        fma = device.kernel("bench/fma_peak.wgsl", WG=wg)
        run = partial(fma, device.grid_1d(-(-n // wg)), {"n": n, "iters": iters, "a": 0.999, "b": 0.001}, out=out)
        rows.append(_device_row("roofline", "fma peak", device.name, device, run, repeat, n * iters * 64.0, "GFLOP/s"))
        m = 1 << 22  # 4M vec4 = 64 MiB each way
        src = gpuml.tensor(np.random.default_rng(3).standard_normal(m * 4, dtype=np.float32), device=device)
        dst = gpuml.Tensor.empty((m * 4,), "float32", device)
        copy = device.kernel("bench/copy_bandwidth.wgsl", WG=256)
        run = partial(copy, device.grid_1d(-(-m // 256)), {"n": m}, x_in=src, out=dst)
        rows.append(_device_row("roofline", "copy bandwidth", device.name, device, run, repeat, 32.0 * m, "GB/s"))
    host = np.random.default_rng(4).standard_normal(1 << 24, dtype=np.float32)
    dest = np.empty_like(host)
    rows.append(
        _host_row(
            "roofline", "copy bandwidth", "numpy", partial(np.copyto, dest, host), repeat, 8.0 * host.size, "GB/s"
        )
    )
    return rows


def environment(backends=("native", "cpu")) -> dict:
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
        "cpus": __import__("os").cpu_count(),
        "gpuml": gpuml.__version__,
        "backends": {},
    }
    try:
        import wgpu

        env["wgpu"] = wgpu.__version__
    except ImportError:
        pass
    torch = _torch()
    if torch is not None:
        env["torch"] = torch.__version__
    for device in gpu_devices(list(backends)):
        env["backends"][device.name] = {"adapter": device.adapter, "features": sorted(device.features)}
    return env


def format_table(rows: list[Row], env: dict) -> str:
    lines = []
    for name, info in env.get("backends", {}).items():
        lines.append(f"{name}: {info['adapter']}")
    lines.append(
        f"python {env['python']}, numpy {env['numpy']}, {env['cpus']} CPUs"
        + (f", torch {env['torch']}" if "torch" in env else "")
    )
    peaks = any(r.peak_fraction is not None for r in rows)
    header = (
        f"{'bench':<9} {'case':<28} {'impl':<22} {'median ms':>10} {'gpu ms':>9} {'min..max ms':>17} {'rate':>10}  unit"
    )
    header += "        % peak" if peaks else ""
    lines += [header, "-" * len(header)]
    for r in rows:
        gpu = f"{r.gpu_ms:.3f}" if r.gpu_ms is not None else "-"
        spread = f"{r.min_ms:.3f}..{r.max_ms:.3f}"
        line = (
            f"{r.bench:<9} {r.case:<28} {r.impl:<22} {r.median_ms:>10.3f} {gpu:>9} {spread:>17} "
            f"{r.rate:>10.3f}  {r.unit:<11}"
        )
        if peaks:
            line += f" {100 * r.peak_fraction:>6.1f}%" if r.peak_fraction is not None else "       -"
        lines.append(line.rstrip())
        if r.bench == "dispatch":
            e = r.extra
            gpu_us = f"{e['gpu_us_per_dispatch']:.1f}" if e["gpu_us_per_dispatch"] else "n/a"
            lines.append(
                f"{'':<9} per dispatch: wall {e['wall_us_per_dispatch']:.1f} µs, GPU {gpu_us} µs, "
                f"Python recording {e['record_us_per_dispatch']:.1f} µs"
            )
    lines += ratios(rows)
    lines += conv_ratios(rows)
    return "\n".join(lines)


def ratios(rows: list[Row]) -> list[str]:
    """gpuml vs numpy for each case, as the issues state their targets."""
    out = []
    by_case: dict[tuple[str, str], dict[str, Row]] = {}
    for r in rows:
        by_case.setdefault((r.bench, r.case), {})[r.impl] = r
    for (bench, case), impls in by_case.items():
        ref = impls.get("numpy")
        if ref is None:
            continue
        for impl, r in impls.items():
            if impl.startswith("native") and (impl.endswith("*]") or "[" not in impl):
                out.append(f"ratio {bench} {case}: {impl} / numpy = {r.rate / ref.rate:.2f}")
    return out


def write_json(path: str, rows: list[Row], env: dict) -> None:
    with open(path, "w") as f:
        json.dump({"environment": env, "results": [asdict(r) for r in rows], "time": time.time()}, f, indent=1)


# --- convolution (gpuml bench conv) ---------------------------------------------------------------------------------

# (label, C, OC, H, W, kernel, padding): LeNet-5's two convolutions and 3x3 'same' convolutions
CONV_LAYERS = [
    ("lenet-conv1", 1, 6, 28, 28, 5, 2),
    ("lenet-conv2", 6, 16, 14, 14, 5, 0),
] + [(f"3x3-c{c}-{s}", c, c, s, s, 3, 1) for c in (16, 64, 128) for s in (28, 56)]
CONV_BATCHES = {"lenet": (1, 64, 256), "3x3": (1, 8, 32)}


def bench_conv(
    backends=("native", "cpu"), repeat: int = 3, quick: bool = False, cases=None, with_gemm: bool = True
) -> list[Row]:
    """Every conv algorithm on each GPU backend, the numpy backend (its im2col twin: numpy matmul) and PyTorch
    CPU, for LeNet-5's layers (batch 1/64/256) and 3x3 convs (C = 16/64/128 at 28x28 and 56x56, batch 1/8/32),
    plus the 1024^3 GEMM of the default kernel for the im2col-vs-GEMM ratio. GFLOP/s count the direct
    convolution's 2*N*OC*OH*OW*C*KH*KW (Winograd's are "effective"). ``quick`` keeps batch <= 8 (<= 64 LeNet).
    ``cases``: (label, batch) pairs to run instead (labels from CONV_LAYERS); ``with_gemm``: add the GEMM row."""
    from gpuml.ops.conv import applicable_algos, choose_conv_algo, conv_geometry

    rows = []
    rng = np.random.default_rng(3)
    torch = _torch()
    devices = gpu_devices(list(backends))
    layers = {layer[0]: layer for layer in CONV_LAYERS}
    if cases is None:
        cases = []
        for layer in CONV_LAYERS:
            batches = CONV_BATCHES[layer[0].split("-")[0]]
            cases += [(layer[0], n) for n in (batches[:2] if quick else batches)]
    for label, n in cases:
        _, c, oc, h, w, k, pad = layers[label]
        g = conv_geometry((n, c, h, w), (oc, c, k, k), padding=pad)
        case = f"{label} N={n}"
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        wt = (rng.standard_normal((oc, c, k, k), dtype=np.float32) / np.float32(np.sqrt(c * k * k))).astype(np.float32)
        b = rng.standard_normal(oc, dtype=np.float32)
        reps = repeat if g.flops < 4e9 else max(2, repeat // 2)
        for device in devices:
            tx, tw, tb = (gpuml.tensor(a, device=device) for a in (x, wt, b))
            if not device.is_gpu:
                fn = partial(gpuml.ops.conv2d, tx, tw, tb, padding=pad, algo="im2col")
                rows.append(_device_row("conv", case, "cpu[im2col]", device, fn, reps, g.flops, "GFLOP/s"))
                continue
            auto = choose_conv_algo(g, device)
            for algo in applicable_algos(g):
                fn = partial(gpuml.ops.conv2d, tx, tw, tb, padding=pad, algo=algo)
                tag = f"{device.name}[{algo}{'*' if algo == auto else ''}]"
                rows.append(_device_row("conv", case, tag, device, fn, reps, g.flops, "GFLOP/s"))
        if torch is not None:
            import torch.nn.functional as F

            xt, wtt, bt = (torch.from_numpy(a) for a in (x, wt, b))
            fn = partial(F.conv2d, xt, wtt, bt, padding=pad)
            with torch.no_grad():
                rows.append(_host_row("conv", case, "torch-cpu", fn, reps, g.flops, "GFLOP/s"))
    native = [d for d in devices if d.is_gpu]
    if native and with_gemm:  # the foundation GEMM in the same run, for the im2col-vs-GEMM target
        default = [gpuml.ops.linalg.gemm_kernel_for(native[0])]
        rows += [r for r in bench_gemm(((1024, 1024, 1024),), (native[0].name,), repeat, default) if "[" in r.impl]
    return rows


def conv_ratios(rows: list[Row]) -> list[str]:
    """Winograd / im2col speed-ups per case and im2col LeNet conv2 (batch 64) vs the 1024^3 GEMM."""
    out = []
    by_case: dict[str, dict[str, Row]] = {}
    for r in rows:
        if r.bench == "conv":
            key = r.impl.split("[")[-1].rstrip("]*") if "[" in r.impl and not r.impl.startswith("cpu[") else r.impl
            by_case.setdefault(r.case, {})[key] = r
    for case, impls in by_case.items():
        im = impls.get("im2col")
        parts = []
        for algo in ("winograd2", "winograd4", "direct"):
            if im is not None and algo in impls:
                parts.append(f"{algo}/im2col = {impls[algo].rate / im.rate:.2f}x")
        if "torch-cpu" in impls:
            best = max(
                (r for k, r in impls.items() if k in ("direct", "im2col", "winograd2", "winograd4")),
                key=lambda r: r.rate,
                default=None,
            )
            if best is not None:
                parts.append(f"best native / torch = {best.rate / impls['torch-cpu'].rate:.2f}")
        if parts:
            out.append(f"ratio conv {case}: " + ", ".join(parts))
    gemm = next((r for r in rows if r.bench == "gemm" and r.case == "1024x1024x1024" and r.impl.endswith("*]")), None)
    conv2 = by_case.get("lenet-conv2 N=64", {}).get("im2col")
    if gemm is not None and conv2 is not None:
        out.append(
            f"ratio conv lenet-conv2 N=64 im2col {conv2.rate:.2f} GFLOP/s / GEMM 1024^3 {gemm.rate:.2f} GFLOP/s = "
            f"{conv2.rate / gemm.rate:.2f}"
        )
    return out
