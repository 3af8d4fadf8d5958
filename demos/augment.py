"""Data augmentation on the device: one pipeline over a batch of photos, six seeded draws, a contact sheet
(augment.png: the original, then the variants); replayed exactly from its parameters, and equal on numpy.

Consecutive geometric transforms fuse into one resampling pass per image; colour ops run in the same kernel.

    python demos/augment.py [--out DIR]    (default: $DEMO_OUT or the temp folder)
"""

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_image

import gpuml
import gpuml.augment as A

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default=os.environ.get("DEMO_OUT", tempfile.gettempdir()), help="folder for the PNG")
out = Path(parser.parse_args().out)
print(f"device: {gpuml.get_device()}")

china, flower = (Image.fromarray(load_sample_image(f"{n}.jpg")) for n in ("china", "flower"))
photos = [china.resize((160, 120)), flower.resize((160, 120)), china.crop((150, 20, 470, 260)).resize((160, 120))]
pipeline = A.Compose(
    [
        A.HorizontalFlip(),
        A.Rotate(25),
        A.RandomResizedCrop((120, 160), scale=(0.4, 1.0)),
        A.Brightness(0.3),
        A.Contrast(0.3),
        A.Saturation(0.6),
        A.Hue(0.08),
        A.Cutout(24),
    ]
)
print(pipeline)

variants = [pipeline(photos, seed=0, step=step) for step in range(6)]  # PIL images in, PIL images out
rows = [[photo] + [v[i] for v in variants] for i, photo in enumerate(photos)]
A.contact_sheet(rows, pad=3).save(out / "augment.png")
print(f"wrote {out / 'augment.png'}: {len(photos)} photos x (original + {len(variants)} variants)")

last = np.stack([np.asarray(im) for im in variants[-1]])
replay = np.stack([np.asarray(im) for im in pipeline(photos, params=pipeline.params_)])
print(f"replay from pipeline.params_: max |difference| {np.abs(replay.astype(int) - last).max()}")

# The same seed on the numpy backend: parameters come from Python's random, the apply is deterministic.
gpuml.set_device("cpu")
on_cpu = np.stack([np.asarray(im) for im in pipeline(photos, seed=0, step=5)])
diff = np.abs(on_cpu.astype(int) - last)
print(f"numpy backend, same seed: max |difference| {diff.max()} levels, {(diff > 0).mean():.4%} of values differ")

assert last.shape == (3, 120, 160, 3) and last.dtype == np.uint8
assert (replay == last).all()
assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())
assert not all((np.asarray(v[0]) == np.asarray(variants[0][0])).all() for v in variants[1:])  # draws differ
print("ok")
