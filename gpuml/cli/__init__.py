"""The ``gpuml`` command line. Every subcommand has ``--help``.

One module per area (info, bench, models, tools, web); each registers its subcommands with ``add_*(sub)``.
Subcommands that take ``--backend`` (common.add_backend_option) get their device chosen here, once.

Errors: every option is checked by its ``type=`` validator before any work starts; whatever a user can cause
(a missing, unreadable or corrupt file, a bad value, a busy port, a bad ``GPUML_*`` setting) ends in ONE line on
stderr, ``gpuml <command>: <what>``, and exit status 2. Anything else is a bug in gpuml: one line naming it, with
"(GPUML_DEBUG=1 for the traceback)", exit status 1. ``GPUML_DEBUG=1`` shows the traceback of either.
"""

from __future__ import annotations

import errno
import os
import sys

from .bench import add_bench
from .common import BACKEND_CHOICES, Parser, use_backend
from .export import add_export
from .info import add_info
from .models import add_explain, add_train
from .tools import add_demo, add_kmeans
from .web import add_web

__all__ = ["BACKEND_CHOICES", "build_parser", "describe_error", "main"]


def build_parser() -> Parser:
    parser = Parser(
        prog="gpuml", description="WebGPU compute-shader ML engine: one WGSL kernel set, native, browser and numpy."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (add_info, add_bench, add_train, add_kmeans, add_explain, add_web, add_demo, add_export):
        add(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """The exception types a user causes (files, values, settings); everything else is a gpuml bug."""
    import zipfile

    from gpuml.datasets import DatasetError
    from gpuml.webbuild import BuildError

    kinds: list[type[BaseException]] = [OSError, ValueError, TypeError, zipfile.BadZipFile, DatasetError, BuildError]
    try:
        from PIL import UnidentifiedImageError  # an OSError subclass; listed for clarity

        kinds.append(UnidentifiedImageError)
    except ImportError:  # pragma: no cover - pillow is a dependency
        pass
    return tuple(kinds)


def describe_error(exc: BaseException) -> str:
    """One line for ``exc`` naming the file or value: OSErrors as ``FILE: reason``, others by their message."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"the address is already in use ({exc.strerror or exc}): pick another --port (0: any free one)"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    if type(exc).__name__ == "UnidentifiedImageError":  # PIL names the file but not why
        line += " (a corrupt image, or a format PIL does not read)"
    return line or type(exc).__name__


def _setting_problem() -> str | None:
    """A bad GPUML_BACKEND, named before any work starts (the other settings name themselves when read)."""
    from gpuml.backends import BACKENDS
    from gpuml.config import setting

    forced = setting("GPUML_BACKEND").lower()
    if forced and forced not in BACKENDS:
        return f"GPUML_BACKEND={forced!r}: unknown backend; choose one of {', '.join(BACKENDS)} (or leave it unset)"
    return None


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    from gpuml.config import flag

    args, extra = build_parser().parse_known_args(argv)
    command = " ".join(c for c in (args.command, getattr(args, "web_command", None)) if c)
    if extra:  # argparse would name only "gpuml": name the subcommand too
        print(
            f"gpuml {command}: unrecognized arguments: {' '.join(extra)} (see gpuml {command} --help)", file=sys.stderr
        )
        return 2
    if flag("GPUML_DEBUG"):  # the traceback of whatever happens, as Python shows it
        if getattr(args, "backend", None):
            import gpuml

            gpuml.set_device(args.backend)
        return args.func(args)
    problem = _setting_problem()
    if problem:
        print(f"gpuml {command}: {problem}", file=sys.stderr)
        return 2
    try:
        if getattr(args, "backend", None) and not use_backend(command, args.backend):
            return 2
        return args.func(args)
    except KeyboardInterrupt:
        print(f"gpuml {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        unavailable = type(exc) is RuntimeError and str(exc).startswith(("gpuml backend", "GPUML_"))  # settings
        if unavailable or isinstance(exc, _user_errors()):  # a user's file, value or setting: one line, no traceback
            print(f"gpuml {command}: {describe_error(exc)}", file=sys.stderr)
            return 2
        # a bug in gpuml (AssertionError, a GPU RuntimeError, ...): visible, one line, the traceback on request
        print(
            f"gpuml {command}: internal error: {type(exc).__name__}: {describe_error(exc)} "
            "(GPUML_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
