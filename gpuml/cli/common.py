"""What the subcommands share: the ``--backend`` option and choosing the device it names."""

from __future__ import annotations

import argparse
import sys

# --backend choices: the browser backend exists only inside Pyodide
BACKEND_CHOICES = ["native", "cpu", "python"]


def add_backend_option(parser: argparse.ArgumentParser, choices: list[str] = BACKEND_CHOICES) -> None:
    """``--backend NAME``: the subcommand runs on that backend instead of the best available one (main() applies
    it before the subcommand runs)."""
    parser.add_argument(
        "--backend", choices=choices, default=None, help="run on this backend instead of the best available one"
    )


def use_backend(command: str, name: str) -> bool:
    """Make backend ``name`` gpuml's current device; when it cannot open, print one line saying why (no
    traceback) and return False."""
    import gpuml

    try:
        gpuml.set_device(name)
    except (RuntimeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"gpuml {command}: {reason}", file=sys.stderr)
        return False
    return True
