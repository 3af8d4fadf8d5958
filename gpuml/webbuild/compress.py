"""Precompressed page assets: what ``gpuml serve`` sends with ``Content-Encoding`` (brotli, else gzip).

The first visit's transfer is dominated by Pyodide (pyodide.asm.wasm, python_stdlib.zip). Two things shrink it:

- zip archives the page unpacks (Pyodide's stdlib zip, gpuml's wheel) are rewritten with *stored* entries, so the
  transport compression sees the whole archive at once instead of per-file deflate streams (smaller on the wire,
  and nothing for the browser to inflate twice);
- every compressible file gets ``name.br`` (brotli, when the ``brotli`` package is installed) and ``name.gz``
  beside it; the server picks the smallest the browser accepts.

Brotli at quality 11 on the 9.6 MB wasm takes a minute or more on a small machine, so compressed bytes are cached
by content hash in gpuml's data folder (``web-compress/``): Pyodide's files are compressed once per machine.
``GPUML_WEB_BROTLI`` sets the quality (0 turns brotli off).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from pathlib import Path

from ..config import setting

# types worth compressing (images and zips of compressed data are not)
COMPRESSIBLE = (".wasm", ".mjs", ".js", ".json", ".html", ".css", ".py", ".zip", ".whl", ".u8", ".bin", ".wgsl")
MIN_BYTES = 1024

__all__ = ["COMPRESSIBLE", "encoded_sizes", "precompress", "stored_zip"]


def stored_zip(data: bytes) -> bytes:
    """The same zip archive with every entry stored (uncompressed), entries and metadata unchanged."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.external_attr = info.external_attr
            entry.compress_type = zipfile.ZIP_STORED
            out.writestr(entry, src.read(info.filename))
    return buf.getvalue()


def _brotli_quality() -> int:
    text = setting("GPUML_WEB_BROTLI")
    try:
        quality = int(text)
    except ValueError:
        raise ValueError(f"GPUML_WEB_BROTLI={text!r}: expected a brotli quality 0..11 (0: no brotli)") from None
    if not 0 <= quality <= 11:
        raise ValueError(f"GPUML_WEB_BROTLI={quality}: expected a brotli quality 0..11 (0: no brotli)")
    return quality


def _cache_dir() -> Path:
    from ..datasets import data_dir

    return data_dir() / "web-compress"


def _brotli(data: bytes, quality: int) -> bytes | None:
    try:
        import brotli
    except ImportError:
        return None
    key = hashlib.sha256(data).hexdigest()
    cached = _cache_dir() / f"{key}.q{quality}.br"
    if cached.is_file():
        return cached.read_bytes()
    out = brotli.compress(data, quality=quality, lgwin=24)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(out)
        tmp.replace(cached)
    except OSError:
        pass  # a read-only cache only costs the next build the time again
    return out


def precompress(out: Path, files, log=print) -> dict:
    """Write ``name.gz`` (and ``name.br`` with brotli) beside each compressible file of ``files`` (paths relative to
    ``out``), keeping an encoding only where it saves at least 5 %. Returns {name: {"identity": n, "gzip": n,
    "br": n}} for every file (only the encodings written)."""
    quality = _brotli_quality()
    sizes = {}
    for name in files:
        path = out / name
        data = path.read_bytes()
        entry = {"identity": len(data)}
        sizes[name] = entry
        if len(data) < MIN_BYTES or not name.endswith(COMPRESSIBLE):
            continue
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        if len(gz) < 0.95 * len(data):
            (out / f"{name}.gz").write_bytes(gz)
            entry["gzip"] = len(gz)
        if quality:
            br = _brotli(data, quality)
            if br is not None and len(br) < 0.95 * len(data):
                (out / f"{name}.br").write_bytes(br)
                entry["br"] = len(br)
    return sizes


def encoded_sizes(sizes: dict, names) -> dict:
    """Bytes on the wire for ``names`` with the best encoding written for each: {"br": n, "gzip": n, "identity": n}
    (br falls back to gzip, then identity, per file, as the server does)."""
    total = {"br": 0, "gzip": 0, "identity": 0}
    for name in names:
        s = sizes[name]
        total["identity"] += s["identity"]
        total["gzip"] += s.get("gzip", s["identity"])
        total["br"] += min(s.get("br", s["identity"]), s.get("gzip", s["identity"]))
    return total
