"""``gpuml info``: the backend, adapter, features and limits, and which backend each workload runs on (``auto``;
``--measure`` times them now); ``--kernels``: the kernel variant tables."""

from __future__ import annotations

import json

from .common import add_backend_option

_LIMITS = (
    "max_storage_buffer_binding_size",
    "max_buffer_size",
    "max_compute_workgroup_storage_size",
    "max_compute_invocations_per_workgroup",
    "max_compute_workgroups_per_dimension",
    "min_uniform_buffer_offset_alignment",
)


def add_info(sub) -> None:
    info = sub.add_parser("info", help="show the backend, adapter, features and limits")
    add_backend_option(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument(
        "--kernels",
        action="store_true",
        help="print every kernel variant table, the static order on this device and the choices measured so far",
    )
    info.add_argument(
        "--measure",
        action="store_true",
        help="on a software adapter, time each workload on the adapter and on numpy now and store the choices",
    )
    info.set_defaults(func=cmd_info)


def _default(table, caps) -> str | None:
    """The variant the static order picks on a device with ``caps`` for a shape the table does not restrict."""
    try:
        options = table.applicable(caps, None)
    except (AttributeError, TypeError):  # applies() needs a real geometry: the choice depends on the shape
        return None
    return options[0].name if options else None


def kernel_tables(device) -> dict:
    """The variant tables as data: per family its variants, the force setting, the static default on ``device``
    (None where it depends on the shape, or off the WebGPU backends) and the choices measured so far."""
    from gpuml.backends.variants import TABLES

    cache = device.tune_cache
    cache.load()  # the choices stored on disk by earlier processes
    return {
        family: {
            "variants": [v.name for v in table.variants],
            "force_setting": table.force_setting,
            "default": _default(table, device.caps) if device.is_gpu else None,
            "chosen": {json.dumps(list(k[1:])): n for k, n in sorted(cache.choices.items(), key=str) if k[0] == family},
        }
        for family, table in sorted(TABLES.items())
    }


def print_kernels(device) -> None:
    from gpuml.backends.variants import describe
    from gpuml.config import flag, setting

    tables = kernel_tables(device)  # first: loads the stored choices that describe() lists
    print(describe(device))
    print()
    if device.is_gpu:
        for family, table in tables.items():
            print(f"static default for {family} here: {table['default'] or 'depends on the shape'}")
    else:
        print(f"(the {device.name} backend runs its own twins of these ops; the tables apply on native and browser)")
    tuning = (
        f"on (a shape class's variants are timed at its use number {setting('GPUML_TUNE_AFTER')} in a process)"
        if flag("GPUML_TUNE")
        else "off"
    )
    print(f"tuning (GPUML_TUNE): {tuning}; choices kept in {device.tune_cache.path or 'memory only'}")


def _cpu_threads() -> str | None:
    try:
        from gpuml.nn import data_parallel

        return data_parallel.describe()
    except ImportError:  # no numpy
        return None


def cmd_info(args) -> int:
    import gpuml
    from gpuml.backends import auto_choices, available

    device = gpuml.get_device()
    summary = device.summary()
    summary["available"] = available()
    summary["auto"] = auto_choices(remeasure=args.measure)
    summary["cpu_threads"] = _cpu_threads()
    if args.json:
        if args.kernels:
            summary["kernels"] = kernel_tables(device)
        print(json.dumps(summary, indent=2, default=str))
        return 0
    if args.kernels:
        print_kernels(device)
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
    for key in _LIMITS:
        if key in summary["limits"]:
            print(f"  {key}: {summary['limits'][key]:,}")
    print("backends:")
    for name, state in summary["available"].items():
        print(f"  {name}: {state}")
    if summary["cpu_threads"]:
        print(f"cpu backend: {summary['cpu_threads']}")
    print_auto(summary["auto"])
    return 0


def print_auto(rows: list[dict]) -> None:
    """Per workload (op family): the backend it runs on and why."""
    print("workloads (GPUML_BACKEND or --backend runs them all on one backend):")
    for row in rows:
        print(f"  {row['family']:<8} {row['backend'] or '-':<7} {row['why']}")
