"""The page's Python package (installed into Pyodide's site-packages by worker.js from the site's ``py/`` files).

worker.js calls the functions re-exported here by name. ``core`` and ``pad`` (what Ready runs) are imported with
the package; every other demo's module on its first call (PEP 562 ``__getattr__``), so a first visit imports
less before Ready. A new demo adds a module with an ``__all__`` and one entry in ``_DEMOS``.
"""

import importlib

import js

from .core import *  # noqa: F403
from .pad import *  # noqa: F403

# module -> the prefixes of the names in its __all__ (a name matching none imports every module to find it)
_DEMOS = {
    "augment": ("augment_",),
    "builder": ("builder_",),
    "convbench": ("cb_",),
    "kmeans": ("kmeans_",),
    "race": ("race_",),
    "regularization": ("reg_",),
    "train": ("train_", "trainer_", "evaluate"),
}


def _load(module):
    mod = importlib.import_module(f"{__name__}.{module}")
    globals().update({name: getattr(mod, name) for name in mod.__all__})
    return mod


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    owners = [m for m, prefixes in _DEMOS.items() if name.startswith(prefixes)] or list(_DEMOS)
    for module in owners:
        if name in _load(module).__all__:
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_all():
    """Import every demo's module (the build's bytecode job and tests)."""
    for module in _DEMOS:
        _load(module)


js.console.log("gpuml web app loaded")
