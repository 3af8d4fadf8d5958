"""Augmentation throughput: flip + rotate + crop + brightness + contrast on a batch of 256 images, as
28x28 grayscale and 224x224 RGB, on the native (lavapipe) backend, the numpy backend and Pillow (per-image loop
over uint8 images with the same per-image parameters), in one run. Prints a table with the adapter string and
writes JSON.

Rows: native / cpu time ``apply_batch`` on a device-resident uint8 batch (io.U8Batch: one u32 word per RGB
pixel, 4 gray pixels per word; float32 out; parameter generation, the parameter upload and 3 dispatches
included; GPU time from timestamp queries where available); ``native u8 out`` the same with ``out="uint8"`` (the
last kernel writes uint8 pixels, as Pillow's output); ``native+io`` is the host API ``pipe(uint8_array)``: the
uint8 upload, the kernels with uint8 output and the uint8 download; Pillow runs its enhancers on uint8.

    python benchmarks/bench_augment.py [--repeat 7] [--json benchmarks/augment.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np
from PIL import Image, ImageEnhance

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import gpuml
import gpuml.augment as A
from gpuml.augment.io import U8Batch
from gpuml.bench import Row, environment, format_table, gpu_devices, time_device, time_host, write_json

CASES = {"28x28 gray": (1, 28, 28, 24), "224x224 RGB": (3, 224, 224, 200)}


def pipeline(crop: int) -> A.Compose:
    return A.Compose([A.HorizontalFlip(), A.Rotate(15), A.RandomCrop(crop), A.Brightness(0.2), A.Contrast(0.2)])


def pillow_loop(images: list[Image.Image], params, crop: int) -> list[Image.Image]:
    flips, rots, crops, bright, contrast = params
    out = []
    for i, img in enumerate(images):
        if flips[i]["flip"]:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        img = img.rotate(rots[i]["angle"], resample=Image.Resampling.BILINEAR)
        t, left, s = crops[i]["top"], crops[i]["left"], crop
        img = img.crop((left, t, left + s, t + s))
        img = ImageEnhance.Brightness(img).enhance(bright[i]["factor"])
        out.append(ImageEnhance.Contrast(img).enhance(contrast[i]["factor"]))
    return out


def _row(case, impl, samples, n, gpu=None, extra=None) -> Row:
    med = statistics.median(samples)
    secs = statistics.median(gpu) if gpu else med
    return Row(
        "augment", case, impl, med * 1e3, min(samples) * 1e3, max(samples) * 1e3, n / secs / 1e3, "kimg/s",
        statistics.median(gpu) * 1e3 if gpu else None, extra or {},
    )  # fmt: skip


def augment_rows(case: str, n: int, repeat: int, backends=("native", "cpu")) -> list[Row]:
    """One CASES entry: each backend's ``apply_batch`` (native also with upload/download) and the Pillow loop."""
    c, h, w, crop = CASES[case]
    rows = []
    u8 = (np.random.default_rng(0).random((n, c, h, w)) * 255).astype(np.uint8)
    pipe = pipeline(crop)
    for device in gpu_devices(list(backends)):
        t = U8Batch.from_numpy(u8, device)  # uint32 words: 256 x 3 x 224 x 224 f32 exceeds 128 MiB
        work = {"bytes": t.words.nbytes + 4 * n * c * crop * crop}  # packed uint8 in, float32 crops out
        step = iter(range(10**6))
        walls, gpus = time_device(device, lambda: pipe.apply_batch(t, seed=0, step=next(step)), repeat)  # noqa: B023
        rows.append(_row(case, device.name, walls, n, gpus if device.is_gpu else None, dict(work)))
        if device.is_gpu:
            u8_out = lambda: pipe.apply_batch(t, seed=0, step=next(step), out="uint8")  # noqa: B023, E731
            walls, gpus = time_device(device, u8_out, repeat)
            work = {"bytes": t.words.nbytes + 4 * n * crop * crop}  # one u32 word per output pixel
            rows.append(_row(case, f"{device.name} u8 out", walls, n, gpus, work))
            gpuml.set_device(device)
            samples = time_host(lambda: pipe(u8, seed=0), max(3, repeat // 2))
            rows.append(_row(case, f"{device.name}+io", samples, n))
    images = [Image.fromarray(im[0] if c == 1 else im.transpose(1, 2, 0)) for im in u8]
    params = pipe.generate(n, (c, h, w), A.make_rng(0))
    samples = time_host(lambda: pillow_loop(images, params, crop), max(3, repeat // 2))
    rows.append(_row(case, "pillow", samples, n))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    backends = ["native", "cpu"]
    rows = []
    for case in CASES:
        rows += augment_rows(case, args.n, args.repeat, backends)
    env = environment(backends)
    env["pillow"] = Image.__version__
    print(format_table(rows, env))
    by = {(r.case, r.impl): r for r in rows}
    for case in CASES:
        p = by[(case, "pillow")].rate
        for impl in ("native", "native u8 out", "native+io", "cpu"):
            if (case, impl) in by:
                print(f"ratio {case}: {impl} / pillow = {by[(case, impl)].rate / p:.2f}")
    if args.json:
        write_json(args.json, rows, env)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
