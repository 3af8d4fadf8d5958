"""Models that ship with gpuml, trained by gpuml's own CLI (see ``lenet5_mnist.json`` for how and how well)."""

from __future__ import annotations

import json
from importlib import resources

DEFAULT = "lenet5_mnist"


def path(name: str = DEFAULT):
    """A path-like to the shipped model ``name`` (an npz written by ``gpuml train``)."""
    node = resources.files(__name__).joinpath(f"{name}.npz")
    if not node.is_file():
        raise FileNotFoundError(f"no shipped model {name!r}")
    return node


def info(name: str = DEFAULT) -> dict:
    """How the shipped model was trained and its measured test accuracy."""
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text())
