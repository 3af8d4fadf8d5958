"""The ``gpuml`` command line. Every subcommand has ``--help``."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _size(text: str) -> tuple[int, int, int]:
    """ "1024" -> (1024, 1024, 1024); "64x150x16" -> (64, 150, 16) as M x K x N."""
    parts = [int(p) for p in text.lower().split("x")]
    if len(parts) == 1:
        return parts[0], parts[0], parts[0]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise argparse.ArgumentTypeError(f"size {text!r}: use N or MxKxN")


def cmd_info(args) -> int:
    import gpuml
    from gpuml.backends import available

    if args.backend:
        os.environ["GPUML_BACKEND"] = args.backend
    device = gpuml.get_device()
    summary = device.summary()
    summary["available"] = available()
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    print(f"gpuml {gpuml.__version__}")
    print(f"backend:  {summary['backend']}")
    print(f"adapter:  {summary['adapter']}")
    for key, value in summary["adapter_info"].items():
        print(f"  {key}: {value}")
    print(f"features: {', '.join(summary['features']) or '-'}")
    if device.is_gpu:
        from gpuml.ops.linalg import gemm_kernel_for

        print(f"gemm kernel: {gemm_kernel_for(device)}")
    print("limits:")
    for key in (
        "max_storage_buffer_binding_size",
        "max_buffer_size",
        "max_compute_workgroup_storage_size",
        "max_compute_invocations_per_workgroup",
        "max_compute_workgroups_per_dimension",
        "min_uniform_buffer_offset_alignment",
    ):
        if key in summary["limits"]:
            print(f"  {key}: {summary['limits'][key]:,}")
    print("backends:")
    for name, state in summary["available"].items():
        print(f"  {name}: {state}")
    return 0


def cmd_bench(args) -> int:
    from gpuml import bench

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows = []
    what = ["gemm", "axpy", "dispatch"] if args.what == "foundation" else [args.what]
    for name in what:
        print(f"running {name} ...", file=sys.stderr)
        if name == "gemm":
            sizes = args.size or [(1024, 1024, 1024)]
            rows += bench.bench_gemm(sizes, backends, args.repeat)
        elif name == "axpy":
            rows += bench.bench_axpy(args.n, backends, args.repeat)
        elif name == "dispatch":
            rows += bench.bench_dispatch(args.dispatches, backends, args.repeat)
    env = bench.environment(backends)
    print(bench.format_table(rows, env))
    if args.json:
        bench.write_json(args.json, rows, env)
        print(f"wrote {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpuml", description="WebGPU compute-shader ML engine: one WGSL kernel set, native, browser and numpy."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser("info", help="show the backend, adapter, features and limits")
    info.add_argument("--backend", choices=["native", "cpu"], help="inspect this backend instead of the default")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    b = sub.add_parser(
        "bench",
        help="benchmarks (GEMM, axpy, dispatch overhead) beside numpy",
        description="Time gpuml kernels on each backend beside numpy (and PyTorch CPU when installed), in one run. "
        "GPU times come from timestamp queries where available; wall times always.",
    )
    b.add_argument("what", choices=["gemm", "axpy", "dispatch", "foundation"], help="what to measure")
    b.add_argument("--backends", default="native,cpu", help="comma-separated backends (default: native,cpu)")
    b.add_argument("--size", type=_size, action="append", help="GEMM size N or MxKxN (repeatable; default 1024)")
    b.add_argument("--n", type=int, default=16 * 1024 * 1024, help="axpy length (default 16M)")
    b.add_argument("--dispatches", type=int, default=1000, help="dispatches per submit for 'dispatch'")
    b.add_argument("--repeat", type=int, default=5, help="timed repeats after warm-up (median reported)")
    b.add_argument("--json", metavar="PATH", help="also write results as JSON")
    b.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
