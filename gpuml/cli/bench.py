"""``gpuml bench``: kernel timings beside numpy and PyTorch CPU; ``bench web``: gpuml in Pyodide vs TensorFlow.js."""

from __future__ import annotations

import argparse
import sys

from .common import BACKEND_CHOICES, positive_int


def _size(text: str) -> tuple[int, int, int]:
    """ "1024" -> (1024, 1024, 1024); "64x150x16" -> (64, 150, 16) as M x K x N."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if parts and min(parts) < 1:
        raise argparse.ArgumentTypeError(f"size {text!r}: every dimension must be at least 1")
    if len(parts) == 1:
        return parts[0], parts[0], parts[0]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise argparse.ArgumentTypeError(f"size {text!r}: use N or MxKxN")


def _backends(text: str) -> str:
    names = [b.strip() for b in text.split(",") if b.strip()]
    bad = [b for b in names if b not in BACKEND_CHOICES]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated backends of {', '.join(BACKEND_CHOICES)}")
    return text


def cmd_bench(args) -> int:
    from gpuml import bench

    if args.what == "web":
        from gpuml import bench_web

        bad = [c for c in args.case or [] if c not in bench_web.KINDS]
        if bad:
            raise ValueError(f"--case {bad[0]!r}: choose from {', '.join(bench_web.KINDS)}")
        flags = bench_web.parse_flags(args.tfjs_flag)
        return bench_web.main(args.quick, args.repeat, args.json, kinds=args.case, tfjs_flags=flags)
    if args.what == "cold":
        from gpuml import bench_cold

        cases = args.case or list(bench_cold.CASES)
        bad = [c for c in cases if c not in bench_cold.CASES]
        if bad:
            raise ValueError(f"--case {bad[0]!r}: choose from {', '.join(bench_cold.CASES)}")
        return bench_cold.main(cases, args.repeat or 3, args.json, args.compare, args.warmup)
    repeat = args.repeat or 5
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.what == "all":
        from gpuml import bench_suite

        rows, env = bench_suite.run_all(backends, repeat, quick=args.quick, steps=args.steps)
        print(bench_suite.header(env))
        print(bench.format_table(rows, env))
        if args.json:
            bench.write_json(args.json, rows, env)
            print(f"wrote {args.json}")
        if args.charts:
            for path in bench_suite.charts(rows, args.charts):
                print(f"wrote {path}")
        return 0
    rows = []
    what = ["roofline", "gemm", "axpy", "dispatch"] if args.what == "foundation" else [args.what]
    for name in what:
        print(f"running {name} ...", file=sys.stderr)
        if name == "gemm":
            sizes = args.size or [(1024, 1024, 1024)]
            rows += bench.bench_gemm(sizes, backends, repeat)
        elif name == "axpy":
            rows += bench.bench_axpy(args.n, backends, repeat)
        elif name == "dispatch":
            rows += bench.bench_dispatch(args.dispatches, backends, repeat)
        elif name == "roofline":
            rows += bench.bench_roofline(backends, repeat)
        elif name == "conv":
            rows += bench.bench_conv(backends, repeat, quick=args.quick)
    env = bench.environment(backends)
    print(bench.format_table(rows, env))
    if args.json:
        bench.write_json(args.json, rows, env)
        print(f"wrote {args.json}")
    return 0


def add_bench(sub) -> None:
    b = sub.add_parser(
        "bench",
        help="benchmarks (GEMM, axpy, dispatch overhead) beside numpy; 'web': in Chromium beside TensorFlow.js",
        description="Time gpuml kernels on each backend beside numpy (and PyTorch CPU when installed), in one run. "
        "GPU times come from timestamp queries where available; wall times always.",
        epilog="web: gpuml (its Python package in Pyodide on navigator.gpu) against TensorFlow.js's WebGPU backend, "
        "jax-js (@jax-js/jax, WebGPU and Wasm) and ONNX Runtime Web (WebGPU and Wasm EPs, on the model "
        "gpuml.export.onnx writes) in one headless Chromium page on the same adapter: matmul 1024^3, conv2d on "
        "LeNet-5's layers (batch 64) and a 3x3 C=64 convolution (batch 8), LeNet-5 inference (batch 1 and 64), one "
        "LeNet-5 Adam training step (batch 64), 100 chained tiny adds (the cost of issuing an op). "
        "Wall time = work + device sync (median of --repeat after warm-up, min/max, IQR); "
        "GPU time = summed per-kernel timestamp queries "
        "(gpuml device.profile(), tf.js tf.time()). Outputs are checked against numpy (exit status 1 if they "
        "disagree); prints gpuml/tf.js per case. Needs the system `chromium`, Python playwright and `npm ci` in "
        "web/ (Pyodide, @tensorflow/tfjs, @tensorflow/tfjs-backend-webgpu); everything is served locally. "
        "Options that apply: --repeat (default 10), --quick (tiny sizes), --json PATH, --case, --tfjs-flag.",
    )
    b.add_argument(
        "what",
        choices=["roofline", "gemm", "axpy", "dispatch", "foundation", "conv", "all", "web", "cold"],
        help="what to measure ('all': every area, train/k-means/augmentation included, in one process; "
        "'web': gpuml in Pyodide vs TensorFlow.js WebGPU in headless Chromium, see below; 'cold': fresh "
        "processes on the native backend, import -> device -> first call of each op family, cold and warm "
        "tuning cache)",
    )
    b.add_argument(
        "--backends", type=_backends, default="native,cpu", help="comma-separated backends (default: native,cpu)"
    )
    b.add_argument("--size", type=_size, action="append", help="GEMM size N or MxKxN (repeatable; default 1024)")
    b.add_argument("--n", type=positive_int, default=16 * 1024 * 1024, help="axpy length (default 16M)")
    b.add_argument("--dispatches", type=positive_int, default=1000, help="dispatches per submit for 'dispatch'")
    b.add_argument(
        "--repeat",
        type=positive_int,
        default=None,
        help="timed repeats after warm-up (median reported; default 5, web 10, cold 3)",
    )
    b.add_argument("--json", metavar="PATH", help="also write results as JSON")
    b.add_argument(
        "--quick",
        action="store_true",
        help="conv: smaller batches only (batch <= 8; LeNet <= 64); all, web: small sizes",
    )
    b.add_argument("--steps", type=positive_int, default=50, help="all: LeNet-5 training steps timed (default 50)")
    b.add_argument("--charts", metavar="DIR", help="all: write one PNG bar chart per area into DIR")
    b.add_argument(
        "--case",
        action="append",
        help="web: only these cases (matmul, conv, infer, train, chain); cold: matmul, conv_forward, conv_backward, "
        "predict, kmeans, augment, gradcam (repeatable)",
    )
    b.add_argument(
        "--compare",
        metavar="DIR",
        help="cold: also run the cases from the gpuml source tree DIR, alternating with this one (before/after)",
    )
    b.add_argument(
        "--warmup",
        type=float,
        metavar="SECONDS",
        help="cold: also run each case with device.warm() "
        "started when the device opens and SECONDS of idle time before the first call",
    )
    b.add_argument(
        "--tfjs-flag",
        action="append",
        metavar="NAME=VALUE",
        help="web: set a tf.env() flag before tf.js starts, e.g. WEBGPU_MATMUL_PROGRAM_TYPE=1 (repeatable)",
    )
    b.set_defaults(func=cmd_bench)
