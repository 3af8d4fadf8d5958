"""``gpuml web build`` and ``gpuml serve``: the browser site."""

from __future__ import annotations

import errno
import sys

from .common import port

_DEFAULT = "web/dist in a checkout, else ~/.cache/gpuml/web-dist"


def _build(args, out, what: str) -> int:
    from gpuml.datasets import DatasetError
    from gpuml.webbuild import BuildError, build_site

    try:
        build_site(out, args.model)
    except (BuildError, DatasetError, FileNotFoundError) as exc:
        print(f"gpuml {what}: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_web(args) -> int:
    return _build(args, args.out, "web build")


def cmd_serve(args) -> int:
    from pathlib import Path

    from gpuml.webbuild import default_out, serve

    out = Path(args.dir) if args.dir else default_out()
    if (args.build or not (out / "build-info.json").is_file()) and _build(args, out, "serve"):
        return 2
    try:
        return serve(out, args.host, args.port, build=False)
    except OSError as exc:  # the address, not a file: name the host and port
        if exc.errno == errno.EADDRINUSE:
            raise OSError(
                f"port {args.port} on {args.host} is already in use: pick another --port (0: any free one)"
            ) from None
        raise OSError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None


def add_web(sub) -> None:
    web = sub.add_parser("web", help="the web page: `gpuml web build` packs gpuml, shaders, model and Pyodide")
    web_sub = web.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    wb = web_sub.add_parser("build", help=f"build the static site (default {_DEFAULT}) for Pyodide + navigator.gpu")
    wb.add_argument("--out", default=None, help=f"output folder (default {_DEFAULT})")
    wb.add_argument("--model", default=None, help="model npz to ship (default gpuml/models/lenet5_mnist.npz)")
    wb.set_defaults(func=cmd_web)
    sv = sub.add_parser("serve", help="serve the web page locally (builds it first when missing) and print the URL")
    sv.add_argument("--dir", default=None, help=f"built site (default {_DEFAULT})")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=port, default=8000, help="port (0: any free port; the URL printed says which)")
    sv.add_argument("--build", action="store_true", help="rebuild before serving")
    sv.add_argument("--model", default=None, help="model npz when building")
    sv.set_defaults(func=cmd_serve)
