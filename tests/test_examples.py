"""The runnable scripts in demos/: each runs headless in a subprocess (its PNGs into a temporary folder) and prints
what it checked; each stays short and uses only gpuml's public API. A new script in demos/ is tested by being
there."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMOS = Path(__file__).resolve().parent.parent / "demos"
SCRIPTS = sorted(DEMOS.glob("*.py"))
MAX_LINES = 80

# A line each script prints once its result is checked (every script also ends by printing "ok").
EXPECTED = {
    "augment.py": "replay from pipeline.params_: max |difference| 0",
    "backends.py": "python  vs cpu: max |d logits|",
    "conv_algorithms.py": "ok: every algorithm matches the float64 reference",
    "gradcam.py": "digit 8: predicted 8",
    "kmeans.py": "adjusted Rand index vs gpuml 1.0000",
    "tensors.py": "matmul (256, 128) @ (128, 64): max |gpuml - numpy|",
    "train_digits.py": "test accuracy 0.9",
}
PNGS = {
    "augment.py": ["augment.png"],
    "gradcam.py": ["gradcam.png"],
    "kmeans.py": ["kmeans.png"],
    "train_digits.py": ["train_digits.png"],
}
PRIVATE_MODULES = ("gpuml.impl", "gpuml.backends")


def test_demos_are_there():
    assert {p.name for p in SCRIPTS} >= set(EXPECTED), "a script listed in EXPECTED is missing from demos/"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_demo_runs(script, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(
        GPUML_TUNE="0",
        GPUML_TUNE_CACHE=str(tmp_path / "tune.json"),
        DEMO_OUT=str(tmp_path),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(tmp_path / "mpl"),
        XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"),
    )
    before = sorted(p.name for p in DEMOS.iterdir())
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{script.name} exited {proc.returncode}:\n{output[-4000:]}"
    lines = proc.stdout.splitlines()
    assert lines and lines[-1].startswith("ok"), f"{script.name} did not finish with 'ok':\n{output[-2000:]}"
    expected = EXPECTED.get(script.name)
    assert expected is None or expected in proc.stdout, f"{script.name}: no line with {expected!r}:\n{proc.stdout}"
    for name in PNGS.get(script.name, []):
        png = tmp_path / name
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{script.name} did not write {name}"
        assert f"wrote {png}" in proc.stdout
    assert sorted(p.name for p in DEMOS.iterdir()) == before, f"{script.name} wrote into demos/"


def public_api_violations(source: str) -> list[str]:
    """What in a script's source reaches past gpuml's public API: private modules or names, internals."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for module in modules:
            if module.split(".")[0] != "gpuml":
                continue
            if any(part.startswith("_") for part in module.split(".")):
                problems.append(f"line {node.lineno}: imports private {module}")
            if module.startswith(PRIVATE_MODULES):
                problems.append(f"line {node.lineno}: imports internal {module}")
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_") and not (node.attr.startswith("__") and node.attr.endswith("__")):
                problems.append(f"line {node.lineno}: private attribute .{node.attr}")
            if isinstance(node.value, ast.Name) and node.value.id == "gpuml" and node.attr in ("impl", "backends"):
                problems.append(f"line {node.lineno}: reaches into gpuml.{node.attr}")
    return problems


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_demo_is_short_and_public(script):
    source = script.read_text()
    tree = ast.parse(source)
    assert len(source.splitlines()) <= MAX_LINES, f"{script.name}: {len(source.splitlines())} lines > {MAX_LINES}"
    doc = ast.get_docstring(tree)
    assert doc and len(doc.splitlines()[0]) > 20, f"{script.name}: needs a docstring saying what it shows"
    assert any(isinstance(node, ast.Assert) for node in tree.body), f"{script.name}: no top-level assert"
    assert public_api_violations(source) == []


def test_public_api_check_catches_internals():
    bad = (
        "import gpuml.backends.gpu\n"
        "from gpuml.impl import cpu\n"
        "from gpuml.cluster import _engine\n"
        "from gpuml.ops._common import operands\n"
        "import gpuml\n"
        "t = gpuml.tensor([1.0])\n"
        "h = t._storage.buffer\n"
        "d = gpuml.backends.get_device()\n"
    )
    found = "\n".join(public_api_violations(bad))
    for needle in (
        "line 1: imports internal gpuml.backends.gpu",
        "line 2: imports internal gpuml.impl",
        "line 3: imports private gpuml.cluster._engine",
        "line 4: imports private gpuml.ops._common",
        "line 7: private attribute ._storage",
        "line 8: reaches into gpuml.backends",
    ):
        assert needle in found, f"{needle!r} not in:\n{found}"
    good = "import gpuml\nimport gpuml.nn\nfrom gpuml.cluster import KMeans\nprint(gpuml.get_device().adapter)\n"
    assert public_api_violations(good) == []
