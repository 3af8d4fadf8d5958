"""gpuml.augment on the python backend (gpuml/impl/python/augment.py, no numpy) against the cpu backend's numpy twin.

Both read the same packed parameters (same seed), and the pure twin rounds to float32 after every step, so the
outputs agree bit for bit in practice; the tests allow 1e-5 (float32) and no difference for uint8 pixels, on odd
sizes and 1, 3 and 4 channels. The last test runs the page's pipelines in a subprocess where numpy cannot be
imported, to prove the apply_batch path of the python backend needs no numpy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpuml
import gpuml.augment as A
from gpuml.augment.io import U8Batch
from gpuml.backends import open_device
from gpuml.impl.python import augment as pure

ROOT = Path(__file__).resolve().parents[1]
ATOL = 1e-5

# The presets of the browser page's augmentation gallery (web/site/index.html).
PAGE_SPECS = [
    "rotate 20, crop 24 24, brightness 0.3, noise 0.05",
    "elastic 2 4, cutout 8",
    "hflip, rotate 25, saturation 0.6, hue 0.1, contrast 0.4",
]
# One item per transform (spec syntax), then a few fused pipelines.
SPECS = [
    "hflip",
    "vflip 1",
    "rotate 30",
    "rotate 40 nearest fill=0.25",
    "translate 2.5",
    "zoom 0.3",
    "affine 20 3 0.2 10",
    "crop 7 5",
    "centercrop 6 9",
    "resize 7 12",
    "resize 19 23 nearest",
    "rrc 8 6",
    "brightness 0.4",
    "contrast 0.6",
    "saturation 0.8",
    "hue 0.3",
    "grayscale",
    "noise 0.1",
    "cutout 5 2",
    "erase 1",
    "elastic 3 3",
    "elastic 2 2 nearest",
    "rotate 15 p=0.5, brightness 0.2 p=0.5",
    "contrast 0.5, brightness 0.2, contrast 0.3",
    "vflip 1, elastic 2 3, rotate 10, zoom 0.2, noise 0.05, contrast 0.5",
    "rrc 9 8 nearest, hflip, saturation 0.5, cutout 3",
    "translate 3, noise 0.2, rotate 20, hue 0.2, resize 6 5",
    "rotate 10, brightness 0.3, normalize 0.45 0.22",
    "contrast 0.5, normalize 0.45 0.22, hflip 1",
]
SHAPES = [(2, 1, 13, 17), (3, 3, 11, 9), (2, 4, 10, 12)]


@pytest.fixture(scope="module")
def devices():
    return open_device("cpu"), open_device("python")


def _both(pipe_fn, x: np.ndarray, devices, seed=5, **kw):
    cpu, py = devices
    a = pipe_fn().apply_batch(gpuml.tensor(x, device=cpu), seed=seed, **kw)
    b = pipe_fn().apply_batch(gpuml.tensor(x, device=py), seed=seed, **kw)
    return a, b


def _check(a, b):
    assert b.device.pure and b.shape == a.shape and b.dtype_name == a.dtype_name
    ref = a.numpy()
    got = np.asarray(b.values(), ref.dtype).reshape(ref.shape)
    np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL)


def _uses_colour(spec):
    return any(k in spec for k in ("brightness", "contrast", "saturation", "hue", "grayscale", "normalize"))


# Every spec on 1 and 3 channels; on 4 channels (RGBA: colour ops leave alpha alone) the colour ones and two more.
CASES = [
    (spec, shape)
    for shape in SHAPES
    for spec in SPECS
    if shape[1] != 4 or _uses_colour(spec) or spec in ("rotate 30", "noise 0.1")
]


@pytest.mark.parametrize(("spec", "shape"), CASES, ids=[f"{s}-{'x'.join(map(str, sh))}" for s, sh in CASES])
def test_transform_matches_cpu(devices, spec, shape):
    x = np.random.default_rng(sum(spec.encode())).random(shape, dtype=np.float32)
    _check(*_both(lambda: A.parse_pipeline(spec), x, devices))


@pytest.mark.parametrize("spec", PAGE_SPECS)
def test_page_presets_match_cpu(devices, spec):
    """The gallery's inputs: 16 MNIST-sized digits and the 48 x 48 RGB card (a smaller batch here)."""
    rng = np.random.default_rng(1)
    for shape in ((4, 1, 28, 28), (3, 3, 48, 48)):
        _check(*_both(lambda: A.parse_pipeline(spec), rng.random(shape, dtype=np.float32), devices, seed=0))


def test_compose_options_and_pipelines_match_cpu(devices):
    rng = np.random.default_rng(2)
    x = rng.random((3, 3, 15, 11), dtype=np.float32) * 2 - 1
    pipelines = [
        lambda: A.Compose([A.Rotate(30, fill=-1.0), A.Brightness(0.5), A.Contrast(0.5)], value_range=(-1.0, 1.0)),
        lambda: A.Compose([A.Zoom(0.3), A.GaussianNoise((0.1, 0.5)), A.Saturation(0.9)], clip=False),
        lambda: A.Compose([A.OneOf([A.Rotate(20), A.ElasticTransform((1.0, 3.0), 2.0)]), A.Hue(0.4)]),
        lambda: A.Compose([A.RandomApply(A.Affine(10, 2, (0.8, 1.2), 5), 0.5), A.Cutout((3, 5), 3, fill=0.5)]),
        lambda: A.Compose([A.Grayscale(0.5), A.RandomCrop((9, 7)), A.Resize(8, "nearest"), A.RandomErasing(1.0)]),
    ]
    for make in pipelines:
        _check(*_both(make, x, devices, seed=11))


def test_three_dim_input_and_params_replay(devices):
    cpu, py = devices
    x = np.random.default_rng(3).random((2, 9, 14), dtype=np.float32)
    pipe = A.parse_pipeline("rotate 30, noise 0.1")
    a = pipe.apply_batch(gpuml.tensor(x, device=cpu), seed=4)
    b = pipe.apply_batch(gpuml.tensor(x, device=py), params=pipe.params_)
    assert b.shape == (2, 9, 14)
    _check(a, b)


@pytest.mark.parametrize("layout", ["u8", "u8px"])
@pytest.mark.parametrize("shape", [(2, 1, 13, 17), (3, 3, 11, 9)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("out", ["float32", "uint8"])
def test_uint8_in_and_out_match_cpu(devices, layout, shape, out):
    arr = (np.random.default_rng(4).random(shape) * 256).astype(np.uint8)
    spec = "hflip, rotate 25, saturation 0.6, hue 0.1, contrast 0.4, noise 0.03"
    res = []
    for dev in devices:
        batch = U8Batch.from_numpy(arr, dev, layout)
        res.append(A.parse_pipeline(spec).apply_batch(batch, seed=9, out=out))
    a, b = res
    if out == "float32":
        _check(a, b)
    else:
        assert isinstance(b, U8Batch) and b.shape == a.shape and b.layout == a.layout == "u8px"
        assert b.words.values() == a.words.numpy().tolist()


def test_uint8_output_from_float_input(devices):
    x = np.random.default_rng(6).random((2, 4, 7, 9), dtype=np.float32) * 1.2 - 0.1  # some values clip
    a, b = _both(lambda: A.parse_pipeline("rotate 10, brightness 0.3"), x, devices, out="uint8")
    assert b.words.values() == a.words.numpy().tolist()


def test_pairwise_sum_is_numpys():
    rng = np.random.default_rng(8)
    for n in (0, 1, 7, 8, 9, 100, 128, 129, 784, 2304, 5001):
        v = rng.random(n) * 3 - 1
        assert pure.pairwise_sum(v.tolist()) == float(np.add.reduce(v)), n


def test_page_gallery_batches_on_the_python_backend(devices):
    """The gallery's batches (16 x 1 x 28 x 28 and 16 x 3 x 48 x 48) run on the pure-Python backend and stay in the
    value range. Their speed is a benchmark figure (benchmarks/bench_augment.py), not asserted here."""
    _, py = devices
    for shape, spec in zip(((16, 1, 28, 28), (16, 1, 28, 28), (16, 3, 48, 48)), PAGE_SPECS, strict=True):
        x = gpuml.tensor(np.random.default_rng(0).random(shape, dtype=np.float32), device=py)
        y = A.parse_pipeline(spec).apply_batch(x, seed=0, step=0).numpy()
        assert y.shape[:2] == shape[:2], spec
        assert np.isfinite(y).all() and y.min() >= 0.0 and y.max() <= 1.0, spec


_NO_NUMPY = r"""
import array, json, sys
sys.modules["numpy"] = None  # any "import numpy" now raises ImportError
import gpuml
import gpuml.augment as A
from gpuml.augment.io import U8Batch

dev = gpuml.get_device()
assert dev.pure and dev.name == "python", dev
specs, shapes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = []
for spec, shape in zip(specs, shapes):
    n, c, h, w = shape
    vals = array.array("f", [((k * 37) % 101) / 100.0 for k in range(n * c * h * w)])
    x = gpuml.tensor(vals, device=dev).reshape(n, c, h, w)
    out.append(A.parse_pipeline(spec).apply_batch(x, seed=3, step=0).values())
# uint8 in ("u8px": one word per pixel) and out
n, c, h, w = 2, 3, 9, 11
words = array.array("I", [(k * 2654435761) & 0xFFFFFF for k in range(n * h * w)])
batch = U8Batch(gpuml.tensor(words, device=dev), (n, c, h, w), "u8px")
out.append(A.parse_pipeline(specs[-1]).apply_batch(batch, seed=3, out="uint8").words.values())
print(json.dumps(out))
"""


def test_numpy_free_subprocess(devices):
    cpu, _ = devices
    specs = [*PAGE_SPECS, "elastic 2 3 nearest, resize 9 8, grayscale, cutout 3"]
    shapes = [(2, 1, 28, 28), (2, 1, 28, 28), (2, 3, 48, 48), (2, 3, 9, 11)]
    env = {**os.environ, "GPUML_BACKEND": "python", "PYTHONPATH": str(ROOT)}
    env.setdefault("XDG_RUNTIME_DIR", "/tmp")
    proc = subprocess.run(
        [sys.executable, "-c", _NO_NUMPY, json.dumps(specs), json.dumps(shapes)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for spec, shape, vals in zip(specs, shapes, got, strict=False):
        n, c, h, w = shape
        x = (np.arange(n * c * h * w) * 37 % 101 / 100.0).astype(np.float32).reshape(shape)
        ref = A.parse_pipeline(spec).apply_batch(gpuml.tensor(x, device=cpu), seed=3, step=0).numpy()
        np.testing.assert_allclose(np.asarray(vals, np.float32).reshape(ref.shape), ref, rtol=0, atol=ATOL)
    k = np.arange(2 * 9 * 11, dtype=np.uint64)
    px = ((k * 2654435761) & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(2, 9, 11, 4)[..., :3]
    ref = A.parse_pipeline(specs[-1]).apply_batch(
        U8Batch.from_numpy(px.transpose(0, 3, 1, 2), cpu), seed=3, out="uint8"
    )
    assert got[-1] == ref.words.numpy().tolist()
