"""Build and serve the gpuml web page (``gpuml web build``, ``gpuml serve``).

The page (``web/site/`` in the repo, package data ``gpuml/site`` once installed) runs gpuml's own Python package
and WGSL kernels in Pyodide inside a Web Worker and dispatches them to ``navigator.gpu``. ``build_site(out)`` makes
a self-contained static site in ``out`` (default: ``web/dist`` in a checkout, else ``~/.cache/gpuml/web-dist``):

- the page files (``sw.js`` gets the build's version so a new build replaces the cache),
- ``pyodide/``: Pyodide core, from ``web/node_modules/pyodide`` in a checkout (``npm ci`` in web/), else from the
  user cache, fetched there with npm on first use (``sources.pyodide_dir``),
- ``gpuml-<version>-py3-none-any.whl``: gpuml's Python modules and shaders (``gpuml.bundle``),
- both Pyodide's stdlib zip and the wheel carry bytecode compiled by Pyodide's own CPython (``pyc.py``; node runs
  it at build time, cached): a first visit no longer compiles ~260 modules,
- ``model/lenet5_mnist.json`` + ``.bin``: the default model as JSON metadata and raw little-endian float32
  (Pyodide core has no numpy to read an npz), converted from the shipped ``gpuml/models/lenet5_mnist.npz``
  (or ``--model``),
- ``data/``: the k-means datasets (1,000 points each, seeded) and an MNIST subset (uint8) for live training,
- ``icons/`` and ``build-info.json`` (file list, sizes, payload budget) read by the service worker.

Everything the page needs is in ``out``: it works offline, from these files, with Pyodide core only.
"""

from __future__ import annotations

import collections
import email.utils
import functools
import hashlib
import http.server
import json
import shutil
import struct
import zlib
from pathlib import Path
from typing import ClassVar

from .compress import encoded_sizes, precompress, stored_zip
from .pyc import precompile
from .sources import PYODIDE_FILES, BuildError, checkout_root, pyodide_dir, site_files

PAYLOAD_BUDGET = 2_000_000  # gpuml package + shaders + model, bytes
KMEANS_DATASETS = ("blobs", "moons", "circles", "anisotropic", "varied", "uniform")
KMEANS_POINTS = 1000
# Headless Chromium flags for the page, the browser tests and `gpuml bench web`: WebGPU (SwiftShader when there is
# no GPU) in a fresh, offline profile.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-webgpu",
]
MNIST_TRAIN, MNIST_TEST = 16384, 512  # train: the page's default run (3 epochs) reaches ~97% test accuracy
# site files fetched on first use only (the service worker caches them then)
LAZY_PREFIXES = ("data/mnist_train_",)

__all__ = ["BuildError", "build_site", "convert_model", "default_out", "serve"]


def default_out() -> Path:
    """Where the site is built unless told: ``web/dist`` in a source checkout, else ``web-dist`` in gpuml's data
    folder (``$GPUML_DATA``, default ``~/.cache/gpuml``)."""
    root = checkout_root()
    if root is not None:
        return root / "web" / "dist"
    from ..datasets import data_dir

    return data_dir() / "web-dist"


def convert_model(npz_path, out_dir: Path, name: str = "lenet5_mnist") -> dict:
    """Write ``<name>.json`` (spec, input shape, tensors with offsets, training metadata) and ``<name>.bin``
    (every tensor of the state dict as little-endian float32, concatenated; then the digit pad's feature-cue
    prototypes as float16, when the model file has them: gpuml.playground.novelty) from a ``gpuml train`` npz."""
    import numpy as np

    from ..train import load_npz

    arrays, meta = load_npz(npz_path)
    if not meta.get("spec"):  # the page rebuilds a model from its text spec
        raise BuildError(f"{npz_path}: the page builds models from a text spec; this model's layers have no spec form")
    tensors, chunks, offset = [], [], 0
    for key in sorted(arrays, key=_state_order):
        if not key.startswith("model/"):
            continue
        a = np.ascontiguousarray(arrays[key], "<f4")
        tensors.append({"name": key[6:], "shape": list(a.shape), "offset": offset, "size": int(a.size)})
        chunks.append(a.tobytes())
        offset += int(a.size)
    novelty = None
    if "novelty/prototypes" in arrays and meta.get("novelty"):  # the pad's feature cue: float16 after the tensors
        protos = np.ascontiguousarray(arrays["novelty/prototypes"], "<f2")
        novelty = {"layer": meta["novelty"]["layer"], "line": meta["novelty"]["line"], "shape": list(protos.shape),
                   "offset_bytes": 4 * offset, "dtype": "float16"}  # fmt: skip
        chunks.append(protos.tobytes())
    cfg = meta.get("config", {})
    history = meta.get("history") or [{}]
    info = {
        "format": "gpuml-web-model-1",
        "name": name,
        "spec": meta["spec"],
        "input_shape": list(meta.get("model", {}).get("input_shape") or cfg.get("input_shape", (1, 28, 28))),
        "seed": cfg.get("seed", 0),
        "tensors": tensors,
        "novelty": novelty,
        "trained": {
            "dataset": cfg.get("dataset"),
            "epochs": meta.get("epoch"),
            "test_accuracy": history[-1].get("test_accuracy"),
            "adapter": meta.get("adapter"),
            "source": Path(str(npz_path)).name,
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.bin").write_bytes(b"".join(chunks))
    (out_dir / f"{name}.json").write_text(json.dumps(info, indent=1))
    return info


def _state_order(key: str):
    parts = key.split("/", 1)[-1].split(".", 1)
    return (int(parts[0]) if parts[0].isdigit() else 1 << 30, key)


def default_model() -> Path | None:
    """The shipped model (gpuml/models/lenet5_mnist.npz) when present."""
    try:
        from ..models import path

        return Path(str(path()))
    except (FileNotFoundError, ImportError):
        return None


def _kmeans_data() -> dict:
    from ..cluster import make_dataset

    out = {}
    for name in KMEANS_DATASETS:
        X, _ = make_dataset(name, KMEANS_POINTS, random_state=0, centers=5 if name == "blobs" else 3)
        out[name] = [[round(float(a), 4), round(float(b), 4)] for a, b in X[:, :2]]
    return out


def _mnist_subset(out_dir: Path) -> dict:
    import numpy as np

    from ..datasets import mnist

    info = {}
    for split, n in (("train", MNIST_TRAIN), ("test", MNIST_TEST)):
        data = mnist(split)
        idx = np.random.default_rng(0 if split == "train" else 1).permutation(len(data.labels))[:n]
        images = np.rint(data.images[idx, 0] * 255).astype(np.uint8)
        (out_dir / f"mnist_{split}_images.u8").write_bytes(images.tobytes())
        (out_dir / f"mnist_{split}_labels.u8").write_bytes(data.labels[idx].astype(np.uint8).tobytes())
        info[split] = n
    return info


def _evidence_levels(model_path) -> tuple[float, float, int]:
    """The digit pad's "unsure" evidence floor and "weak evidence" line for the shipped model
    (gpuml.playground.digits_explain), computed here with the numpy backend on the same first MNIST test digits as
    the native window's (so both read a drawing alike), and so the page need not classify them after Ready (on
    SwiftShader that held the worker for seconds)."""
    from .. import serialize
    from ..backends import open_device
    from ..datasets import mnist
    from ..playground.digits_explain import CALIBRATION_DIGITS, evidence_levels

    n = CALIBRATION_DIGITS
    net = serialize.load(model_path, open_device("cpu"))
    net.eval()
    floor, weak = evidence_levels(net, mnist("test").images[:n].reshape(n, -1).tolist())
    return float(floor), float(weak), n


def _png(size: int) -> bytes:
    """A square icon (dark tile, an orange '3x3 grid' of dots) as PNG, with the standard library only."""
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            u, v = x / size, y / size
            r, g, b = 24, 26, 38
            cu, cv = (u * 3) % 1 - 0.5, (v * 3) % 1 - 0.5
            if 0.12 < u < 0.88 and 0.12 < v < 0.88 and cu * cu + cv * cv < 0.09:
                r, g, b = 255, 150 - int(90 * v), 40 + int(120 * u)
            row += bytes((r, g, b, 255))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def build_site(out=None, model=None, log=print) -> dict:
    """Build the static site into ``out`` (default ``default_out()``); returns build-info (also written to
    ``out/build-info.json``). Raises BuildError or FileNotFoundError, before touching ``out``, when an input is
    missing."""
    from ..bundle import build_bundle

    out = Path(out) if out else default_out()
    site = site_files()
    pyodide = pyodide_dir(log)
    model = Path(model) if model else default_model()
    if model is None or not model.is_file():
        raise FileNotFoundError(
            "no model to ship: gpuml/models/lenet5_mnist.npz is missing; pass --model PATH (an npz written by "
            "`gpuml train`, e.g. `python -m gpuml train mnist --epochs 1 --subset 10000 --out /tmp/m`)"
        )
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, data in site.items():
        dst = out / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
    (out / "pyodide").mkdir()
    for name in PYODIDE_FILES:
        shutil.copyfile(pyodide / name, out / "pyodide" / name)
    # archives the page unpacks are sent stored + compressed on the wire (smaller than per-entry deflate)
    stdlib = out / "pyodide" / "python_stdlib.zip"
    stdlib.write_bytes(stored_zip(stdlib.read_bytes()))
    wheel = build_bundle(out)
    wheel.write_bytes(stored_zip(wheel.read_bytes()))
    source_wheel_bytes = wheel.stat().st_size  # the payload budget counts gpuml's sources; bytecode is derived
    pyc = precompile(out, wheel, log)
    model_info = convert_model(model, out / "model")
    (out / "data").mkdir()
    (out / "data" / "kmeans.json").write_text(json.dumps(_kmeans_data(), separators=(",", ":")))
    mnist = _mnist_subset(out / "data")
    levels = _evidence_levels(model)
    model_info["evidence_floor"], model_info["evidence_weak"], model_info["evidence_floor_digits"] = levels
    (out / "model" / f"{model_info['name']}.json").write_text(json.dumps(model_info, indent=1))
    (out / "icons").mkdir()
    for size in (192, 512):
        (out / "icons" / f"icon-{size}.png").write_bytes(_png(size))

    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "sw.js")
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + (out / name).read_bytes())
    version = digest.hexdigest()[:12]
    payload = {
        "wheel": source_wheel_bytes,
        "model": sum((out / "model" / f).stat().st_size for f in ("lenet5_mnist.json", "lenet5_mnist.bin")),
    }
    payload["total"] = payload["wheel"] + payload["model"]
    info = {
        "version": version,
        "wheel": wheel.name,
        "model": model_info["name"],
        "model_source": str(model),
        "model_test_accuracy": model_info["trained"]["test_accuracy"],
        "payload_bytes": payload,
        "payload_budget_bytes": PAYLOAD_BUDGET,
        "bytecode": pyc,
        "mnist": mnist,
        "kmeans_datasets": list(KMEANS_DATASETS),
        "files": [*files, "build-info.json"],
        # fetched when first needed (e.g. when training starts), not precached by the service worker
        "lazy": [name for name in files if name.startswith(LAZY_PREFIXES)],
        "bytes": {name: (out / name).stat().st_size for name in files},
    }
    (out / "build-info.json").write_text(json.dumps(info, indent=1))
    sw = out / "sw.js"
    sw.write_text(sw.read_text().replace("__BUILD_VERSION__", version))
    served = [*files, "build-info.json", "sw.js"]
    sizes = precompress(out, served, log)
    first_visit = [name for name in served if name not in info["lazy"]]
    info["transfer_bytes"] = {"first_visit": encoded_sizes(sizes, first_visit), "all": encoded_sizes(sizes, served)}
    (out / "build-info.json").write_text(json.dumps(info, indent=1))
    log(f"built {out} (version {version}) from model {model}")
    t = info["transfer_bytes"]["first_visit"]
    log(f"first visit transfers {t['br']:,} B with brotli, {t['gzip']:,} B with gzip ({t['identity']:,} B raw)")
    log(
        f"gpuml payload: wheel {payload['wheel']:,} B + model {payload['model']:,} B = {payload['total']:,} B "
        f"(budget {PAYLOAD_BUDGET:,} B{'' if payload['total'] < PAYLOAD_BUDGET else ' EXCEEDED'})"
    )
    return info


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site; a file with a precompressed twin (``name.br`` / ``name.gz``, see compress.py) is sent
    as that twin with ``Content-Encoding`` when the browser accepts it."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".webmanifest": "application/manifest+json",
        ".json": "application/json",
        ".whl": "application/zip",
        ".wgsl": "text/plain",
    }

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")  # the service worker caches; the server always revalidates
        super().end_headers()

    def send_header(self, keyword, value):
        # the server's tally of body bytes sent, per request (read by the page-weight test and bench)
        if keyword.lower() == "content-length" and self.command == "GET":
            log = getattr(self.server, "sent", None)
            if log is not None:
                log.append((self.path, int(value)))
        super().send_header(keyword, value)

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepted = {e.split(";")[0].strip() for e in self.headers.get("Accept-Encoding", "").split(",")}
        for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
            twin = path.with_name(path.name + suffix)
            if encoding in accepted and path.is_file() and twin.is_file():
                return self._send_encoded(path, twin, encoding)
        return super().send_head()

    def _send_encoded(self, path: Path, twin: Path, encoding: str):
        mtime = int(path.stat().st_mtime)
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                if email.utils.parsedate_to_datetime(since).timestamp() >= mtime:
                    self.send_response(304)
                    self.end_headers()
                    return None
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
        f = open(twin, "rb")
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", encoding)
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(twin.stat().st_size))
        self.send_header("Last-Modified", self.date_time_string(mtime))
        self.end_headers()
        return f

    def log_message(self, *args):
        pass


def make_server(directory=None, host: str = "127.0.0.1", port: int = 8000) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(SiteHandler, directory=str(directory or default_out()))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.sent = collections.deque(maxlen=100_000)  # (path, body bytes) of each GET answered with a body
    return server


def serve(directory=None, host: str = "127.0.0.1", port: int = 8000, build: bool = True, model=None) -> int:
    """Serve the built site (building it first when ``out/build-info.json`` is missing); prints the URL."""
    directory = Path(directory) if directory else default_out()
    if build and not (directory / "build-info.json").is_file():
        build_site(directory, model)
    server = make_server(directory, host, port)
    url = f"http://{host}:{server.server_address[1]}/"
    print(f"serving {directory} at {url}  (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
