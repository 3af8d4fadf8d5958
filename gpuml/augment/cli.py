"""``gpuml augment INPUT_DIR --pipeline ... --n 9 --out DIR``: augmented PNGs, labels CSV, contact sheet.

Images are read by :func:`gpuml.augment.io.read_image`'s rule: 8-bit L or RGB; an alpha channel is composited on
black; 16-bit grayscale is scaled by 65535. A file that cannot be read is listed on stderr (file and reason) and
skipped; the others are augmented. Only a folder without one readable image is an error.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def find_images(root: Path) -> list[tuple[Path, str]]:
    """(path, label) for every image under ``root``: the label is the sub-folder name (ImageFolder layout), or
    the file stem for images directly in ``root``."""
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            label = path.parent.name if path.parent != root else path.stem
            out.append((path, label))
    return out


def run_augment(input_dir: str, spec: str, n: int, out_dir: str, seed: int = 0) -> int:
    import sys

    from gpuml.backends import device_for

    from .io import contact_sheet, read_image
    from .spec import parse_pipeline

    root, out = Path(input_dir), Path(out_dir)
    if not root.is_dir():
        raise FileNotFoundError(2, "no such folder" if not root.exists() else "not a folder", str(root))
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}")
    files = find_images(root)
    if not files:
        raise ValueError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in it or its sub-folders")
    pipe = parse_pipeline(spec)
    good, bad = [], []
    for path, label in files:  # read all first: bad files are listed, the good ones still augmented
        try:
            good.append((path, label, read_image(path)))
        except (OSError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, OSError) and exc.strerror:
                reason = exc.strerror
            bad.append((path, reason.removeprefix(f"{path}: ")))
    for path, reason in bad:
        print(f"gpuml augment: skipped {path}: {reason}", file=sys.stderr)
    if not good:
        raise ValueError(f"{root}: none of its {len(files)} image files could be read")
    out.mkdir(parents=True, exist_ok=True)
    device = device_for("augment")  # where pipe() runs host images
    print(f"backend {device.name}: {device.adapter}")
    print(f"pipeline: {pipe!r}")
    rows, sheet_rows = [], []
    for index, (path, label, img) in enumerate(good):
        variants = pipe([img] * n, seed=seed, step=index)  # one batch: n different per-image draws
        params = _per_image(pipe.params_, n)
        stem = path.relative_to(root).with_suffix("").as_posix().replace("/", "_")
        for k, v in enumerate(variants):
            name = f"{stem}_{k}.png"
            v.save(out / name)
            rows.append({"file": name, "source": str(path), "label": label, "variant": k, "params": params[k]})
        sheet_rows.append([img, *variants])
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "source", "label", "variant", "params"])
        writer.writeheader()
        writer.writerows(rows)
    contact_sheet(sheet_rows).save(out / "contact_sheet.png")
    skipped = f"; skipped {len(bad)} unreadable file(s) listed above" if bad else ""
    print(f"wrote {len(rows)} images, {out / 'labels.csv'} and {out / 'contact_sheet.png'}{skipped}")
    return 0


def _per_image(params, n: int) -> list[str]:
    """Per-image slices of a (nested) parameter structure, as JSON strings for the CSV."""

    def pick(p, i):
        if isinstance(p, dict):
            return {k: pick(v, i) for k, v in p.items()}
        if isinstance(p, list) and len(p) == n and all(isinstance(e, dict) for e in p):
            return p[i]
        if isinstance(p, list) and len(p) == n and not any(isinstance(e, list | dict) for e in p):
            return p[i]
        if isinstance(p, list):
            return [pick(e, i) for e in p]
        return p

    return [json.dumps(pick(params, i), default=str) for i in range(n)]
