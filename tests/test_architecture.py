"""The package's shape: layers respected and no import cycles (a module-graph walk in a subprocess), and every
backend implementing the ops the public API dispatches to."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_layers_and_no_import_cycles():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "layers.py"), str(ROOT / "gpuml")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 layer violation(s), 0 import cycle(s)" in proc.stdout


def test_layer_walk_catches_a_violation(tmp_path):
    """The checker itself: a runtime module importing an op, and a two-module cycle, are both reported."""
    pkg = tmp_path / "gpuml"
    (pkg / "backends").mkdir(parents=True)
    (pkg / "ops").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "backends" / "__init__.py").write_text("def f():\n    from ..ops import conv\n")
    (pkg / "ops" / "__init__.py").write_text("")
    (pkg / "ops" / "conv.py").write_text("from ..backends import f\n")
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "layers.py"), str(pkg)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "gpuml.backends (runtime) imports gpuml.ops.conv (ops)" in proc.stdout
    assert "cycle of 2: gpuml.backends <-> gpuml.ops.conv" in proc.stdout


# Above the runtime nothing asks which backend it is on: ops validate, then call device.impl.
_BRANCH = re.compile(r"\.(pure|is_gpu|numpy_host)\b|\.name\s*[=!]=\s*[\"'](cpu|python|native|browser)[\"']")
_ABOVE_RUNTIME = ("ops", "nn", "optim", "cluster", "augment", "explain.py")


def test_no_backend_branches_above_the_runtime():
    found = []
    for top in _ABOVE_RUNTIME:
        path = ROOT / "gpuml" / top
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for n, line in enumerate(file.read_text().splitlines(), 1):
                if _BRANCH.search(line.split("#")[0]):
                    found.append(f"{file.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "backend branches outside gpuml/backends and gpuml/impl:\n" + "\n".join(found)
