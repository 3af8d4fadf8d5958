"""What the subcommands share: the ``--backend`` option, choosing the device it names, the one-line argument
parser and the ``type=`` validators that check every option before any work starts."""

from __future__ import annotations

import argparse
import math
import sys

# --backend choices: the browser backend exists only inside Pyodide
BACKEND_CHOICES = ["native", "cpu", "python"]


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (``gpuml train: argument --lr: ...``), exit status 2."""

    def error(self, message: str):  # argparse calls it for every usage error
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


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


# --- option validators: argparse reports "argument --lr: <message>" naming the option -----------------------------


def _number(text: str, kind):
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def ranged(kind=float, lo=None, hi=None, lo_open: bool = False, hi_open: bool = False):
    """A ``type=`` for numbers (finite; int or float) in [lo, hi] (``lo_open``/``hi_open``: that end excluded)."""
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    where = f"in {left}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}{right}"
    if lo == 0 and lo_open and hi is None:
        where = "> 0"
    elif lo is not None and hi is None:
        where = f">= {lo}"

    def check(text: str):
        value = _number(text, kind)
        low_bad = lo is not None and (value <= lo if lo_open else value < lo)
        high_bad = hi is not None and (value >= hi if hi_open else value > hi)
        if low_bad or high_bad:
            raise argparse.ArgumentTypeError(f"must be {where}, got {text}")
        return value

    check.__name__ = f"{kind.__name__} {where}"
    return check


positive_int = ranged(int, 1)
nonnegative_int = ranged(int, 0)
positive_float = ranged(float, 0, lo_open=True)
nonnegative_float = ranged(float, 0)
fraction = ranged(float, 0, 1, hi_open=True)  # a held-out share: [0, 1)
port = ranged(int, 0, 65535)


def pipeline_spec(text: str) -> str:
    """An augmentation pipeline spec, parsed once to check it; the text is kept."""
    from gpuml.augment import parse_pipeline

    try:
        parse_pipeline(text)
    except (ValueError, TypeError, KeyError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {str(exc).strip() or type(exc).__name__}") from None
    return text
