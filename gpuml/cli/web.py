"""``gpuml web build`` and ``gpuml serve``: the browser site."""

from __future__ import annotations


def cmd_web(args) -> int:
    from gpuml.webbuild import DEFAULT_OUT, build_site

    build_site(args.out or DEFAULT_OUT, args.model)
    return 0


def cmd_serve(args) -> int:
    from gpuml.webbuild import DEFAULT_OUT, build_site, serve

    out = args.dir or DEFAULT_OUT
    if args.build:
        build_site(out, args.model)
    return serve(out, args.host, args.port, build=True, model=args.model)


def add_web(sub) -> None:
    web = sub.add_parser("web", help="the web page: `gpuml web build` packs gpuml, shaders, model and Pyodide")
    web_sub = web.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    wb = web_sub.add_parser("build", help="build the static site (default web/dist) for Pyodide + navigator.gpu")
    wb.add_argument("--out", default=None, help="output folder (default web/dist)")
    wb.add_argument("--model", default=None, help="model npz to ship (default gpuml/models/lenet5_mnist.npz)")
    wb.set_defaults(func=cmd_web)
    sv = sub.add_parser("serve", help="serve the web page locally (builds it first when missing) and print the URL")
    sv.add_argument("--dir", default=None, help="built site (default web/dist)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--build", action="store_true", help="rebuild before serving")
    sv.add_argument("--model", default=None, help="model npz when building")
    sv.set_defaults(func=cmd_serve)
