"""The ``gpuml`` command line. Every subcommand has ``--help``.

One module per area (info, bench, models, tools, web); each registers its subcommands with ``add_*(sub)``.
Subcommands that take ``--backend`` (common.add_backend_option) get their device chosen here, once.
"""

from __future__ import annotations

import argparse
import os
import sys

from .bench import add_bench
from .common import BACKEND_CHOICES, use_backend
from .export import add_export
from .info import add_info
from .models import add_explain, add_train
from .tools import add_demo, add_kmeans
from .web import add_web

__all__ = ["BACKEND_CHOICES", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpuml", description="WebGPU compute-shader ML engine: one WGSL kernel set, native, browser and numpy."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (add_info, add_bench, add_train, add_kmeans, add_explain, add_web, add_demo, add_export):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    args = build_parser().parse_args(argv)
    if getattr(args, "backend", None) and not use_backend(args.command, args.backend):
        return 2
    from gpuml.nn.models import SpecError
    from gpuml.serialize import ModelFormatError

    try:
        return args.func(args)
    except (ModelFormatError, SpecError) as exc:  # a user's file or model spec: one line, no traceback
        print(f"gpuml {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
