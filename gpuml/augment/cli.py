"""``gpuml augment INPUT_DIR --pipeline ... --n 9 --out DIR``: augmented PNGs, labels CSV, contact sheet."""

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
    from PIL import Image

    import gpuml

    from .io import contact_sheet
    from .spec import parse_pipeline

    root, out = Path(input_dir), Path(out_dir)
    files = find_images(root)
    if not files:
        raise SystemExit(f"gpuml augment: no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    if n < 1:
        raise SystemExit("gpuml augment: --n must be at least 1")
    pipe = parse_pipeline(spec)
    out.mkdir(parents=True, exist_ok=True)
    device = gpuml.get_device()
    print(f"backend {device.name}: {device.adapter}")
    print(f"pipeline: {pipe!r}")
    rows, sheet_rows = [], []
    for index, (path, label) in enumerate(files):
        img = Image.open(path)
        img = img.convert("L" if img.mode in ("L", "1", "I", "I;16", "F", "P") and img.mode != "P" else "RGB")
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
    print(f"wrote {len(rows)} images, {out / 'labels.csv'} and {out / 'contact_sheet.png'}")
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
