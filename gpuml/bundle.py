"""Pack gpuml as a pure-Python wheel for the browser (Pyodide): ``build_bundle(dest_dir)``.

The wheel holds ``gpuml/**.py`` and ``gpuml/shaders/**.wgsl``, read through importlib.resources, so it is built
the same way from a source checkout (where the kernels live in the top-level ``shaders/`` folder) and from a pip
install. A page installs it with ``pyodide.unpackArchive(bytes, "zip", {extractDir: site-packages})`` or
``pyodide.loadPackage(url)``. The output is deterministic (sorted entries, fixed timestamps).
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import resources
from pathlib import Path

from . import __version__
from .wgsl import shader_root

__all__ = ["build_bundle", "bundle_files"]

_SKIP_DIRS = {"__pycache__"}
# Host-only code the page never imports (gpuml bench web drives Chromium from the host): kept out of the wheel.
_HOST_ONLY = ("gpuml/bench_web/", "gpuml/bench_web.py")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _walk(node, prefix: str, suffixes: tuple[str, ...], skip: set[str]):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            if child.name not in _SKIP_DIRS and child.name not in skip and not child.name.startswith("."):
                yield from _walk(child, f"{prefix}{child.name}/", suffixes, set())
        elif child.name.endswith(suffixes):
            yield f"{prefix}{child.name}", child.read_bytes()


def bundle_files() -> dict[str, bytes]:
    """Archive path -> contents of every file the browser needs (Python modules and WGSL kernels)."""
    # gpuml/site (an installed wheel's copy of the page sources) is served beside the wheel, not packed in it.
    skip = {"shaders", "site"}
    files = {p: d for p, d in _walk(resources.files("gpuml"), "gpuml/", (".py",), skip) if not p.startswith(_HOST_ONLY)}
    files.update(_walk(shader_root(), "gpuml/shaders/", (".py", ".wgsl"), skip=set()))
    if not any(p.endswith(".wgsl") for p in files):
        raise RuntimeError("no WGSL kernels found for the gpuml bundle (is the gpuml.shaders package installed?)")
    return files


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest},{len(data)}"


def build_bundle(dest_dir) -> Path:
    """Write ``gpuml-<version>-py3-none-any.whl`` into ``dest_dir`` (created if needed); return its path."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    files = bundle_files()
    info = f"gpuml-{__version__}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: gpuml\nVersion: {__version__}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: gpuml.bundle\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/top_level.txt"] = b"gpuml\n"
    record = "".join(f"{path},{_record_hash(data)}\n" for path, data in files.items()) + f"{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    out = dest / f"gpuml-{__version__}-py3-none-any.whl"
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, _ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, data)
    tmp.replace(out)
    return out
