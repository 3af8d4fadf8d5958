"""The augmented set as a zip: the original and its variants as 8-bit PNGs plus ``labels.csv`` in the format of
``gpuml augment`` (gpuml/augment/cli.py: file, source, label, variant, params; the original's variant is
"original"). Pure Python (zlib, struct, zipfile, csv): the page builds the same bytes in Pyodide, without numpy.
"""

from __future__ import annotations

import csv
import io
import struct
import zipfile
import zlib

from ..augment.cli import _per_image

FIELDS = ["file", "source", "label", "variant", "params"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(values, c: int, h: int, w: int) -> bytes:
    """An 8-bit PNG (grey for c=1, RGB for c=3) of flat C x H x W floats in [0, 1] (clipped, rounded)."""
    if c not in (1, 3) or len(values) != c * h * w:
        raise ValueError(f"png_bytes: need 1 or 3 channels of {h}x{w} floats, got {len(values)} values for c={c}")
    # clip, round half up (NaN -> 0); one comparison chain per value, no calls: this loop is the export's cost
    q = bytes([0 if not v > 0 else 255 if v >= 1 else int(v * 255 + 0.5) for v in values])
    plane = h * w
    rows = []
    for y in range(h):
        if c == 1:
            row = q[y * w : (y + 1) * w]
        else:  # interleave the planes: R G B per pixel (slice assignment: no per-byte Python loop)
            row = bytearray(3 * w)
            for k in range(3):
                row[k::3] = q[k * plane + y * w : k * plane + (y + 1) * w]
        rows.append(b"\x00" + bytes(row))  # filter type 0 per row
    head = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    raw = zlib.compress(b"".join(rows), 6)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", head) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")


def export_zip(original, variants, params, *, source: str, label: str, stem: str = "image") -> bytes:
    """The zip's bytes. ``original``: (flat floats, c, h, w); ``variants``: a list of the same; ``params``: the
    pipeline's ``params_`` for the batch (a per-variant JSON column, as the CLI writes)."""
    per = _per_image(params, len(variants)) if params else ["[]"] * len(variants)
    rows, buf = [], io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:  # PNGs are compressed already
        name = f"{stem}_original.png"
        z.writestr(name, png_bytes(*original))
        rows.append({"file": name, "source": source, "label": label, "variant": "original", "params": ""})
        for k, v in enumerate(variants):
            name = f"{stem}_{k}.png"
            z.writestr(name, png_bytes(*v))
            rows.append({"file": name, "source": source, "label": label, "variant": k, "params": per[k]})
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        z.writestr("labels.csv", text.getvalue())
    return buf.getvalue()
