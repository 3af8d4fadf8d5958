"""``gpuml export``: a trained model (.npz from ``gpuml train`` or ``Trainer.save``) to an ONNX file."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import positive_int


def _fail(message: str) -> int:
    print(f"gpuml export: {message}", file=sys.stderr)
    return 2


def cmd_export(args) -> int:
    import gpuml
    from gpuml.export import onnx
    from gpuml.train import load_model

    source = Path(args.model)
    if not source.is_file():
        return _fail(f"{source}: no such model file")
    try:  # only the weights are needed: the numpy backend reads them anywhere, no adapter involved
        model, _ = load_model(source, gpuml.get_device("cpu"))
    except Exception as exc:  # a damaged file fails in many ways (zip, JSON, shapes): one line for each
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _fail(text if str(source) in text else f"{source}: {text}")
    try:
        onnx(model, args.out, opset=args.opset)
    except (ImportError, NotImplementedError, ValueError, OSError) as exc:
        return _fail(str(exc).strip().splitlines()[0])
    size = Path(args.out).stat().st_size
    shape = ", ".join(str(d) for d in ("N", *model.input_shape))
    print(f"wrote {args.out}: ONNX opset {args.opset}, {size:,} bytes, input float32 [{shape}]")
    return 0


def add_export(sub) -> None:
    from gpuml.export import DEFAULT_OPSET

    p = sub.add_parser(
        "export",
        help="export a trained model to ONNX",
        description="Write a trained gpuml model (.npz) as an ONNX model: input 'input' float32 (N, C, H, W) with a "
        "dynamic batch, output 'logits'; dropout left out, batch norm with its running statistics. Needs the onnx "
        'package (pip install "gpuml[export]").',
    )
    p.add_argument("model", help="model file written by gpuml train or Trainer.save (.npz)")
    p.add_argument("out", help="ONNX file to write (.onnx)")
    p.add_argument("--opset", type=positive_int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.set_defaults(func=cmd_export)
