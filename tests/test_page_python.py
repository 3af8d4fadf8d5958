"""The page's Python package (web/site/py/gpuml_web) imported on the host with stand-ins for Pyodide's ``js`` and
``pyodide.ffi``: what it imports before Ready, its lazy demo modules, and the build's bytecode step without node."""

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from gpuml.webbuild import pyc

ROOT = Path(__file__).resolve().parents[1]

_PROBE = textwrap.dedent(
    """
    import json, sys, types
    sys.path.insert(0, {py!r})
    js = types.ModuleType("js")
    js.console = types.SimpleNamespace(log=lambda *a: None)
    ffi = types.ModuleType("pyodide.ffi")
    ffi.to_js = lambda x, **k: x
    pyodide = types.ModuleType("pyodide")
    pyodide.ffi = ffi
    sys.modules.update({{"js": js, "pyodide": pyodide, "pyodide.ffi": ffi}})
    import gpuml_web
    out = {{"eager": sorted(m for m in sys.modules if m.startswith("gpuml_web."))}}
    out["kmeans_start"] = gpuml_web.kmeans_start.__module__  # a demo's first call imports its module only
    out["after_kmeans"] = sorted(m for m in sys.modules if m.startswith("gpuml_web."))
    out["evaluate"] = gpuml_web.evaluate.__module__  # a name without its module's prefix
    try:
        gpuml_web.no_such_function
    except AttributeError as e:
        out["missing"] = str(e)
    gpuml_web.load_all()
    out["all"] = {{m: sys.modules[f"gpuml_web.{{m}}"].__all__ for m in gpuml_web._DEMOS}}
    out["prefixes"] = gpuml_web._DEMOS
    print(json.dumps(out))
    """
)


def _probe():
    code = _PROBE.format(py=str(ROOT / "web" / "site" / "py"))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_page_imports_only_the_pad_before_ready_and_demos_on_first_call():
    out = _probe()
    assert out["eager"] == ["gpuml_web.core", "gpuml_web.pad"]
    assert out["kmeans_start"] == "gpuml_web.kmeans"
    assert out["after_kmeans"] == ["gpuml_web.core", "gpuml_web.kmeans", "gpuml_web.pad"]
    assert out["evaluate"] == "gpuml_web.train"
    assert "no attribute 'no_such_function'" in out["missing"]
    # every demo module's names carry one of its prefixes (the fast path: no other module is imported to find them)
    for module, names in out["all"].items():
        prefixes = tuple(out["prefixes"][module])
        assert names and all(n.startswith(prefixes) for n in names), (module, names)
    files = {p.stem for p in (ROOT / "web" / "site" / "py" / "gpuml_web").glob("*.py")}
    assert files == {"__init__", "core", "pad", *out["all"]}, "a page module missing from _DEMOS"


def test_bytecode_step_without_node_ships_source(tmp_path, monkeypatch):
    wheel = tmp_path / "gpuml.whl"
    wheel.write_bytes(b"wheel bytes")
    lines = []
    monkeypatch.setattr(pyc.shutil, "which", lambda name: None)
    result = pyc.precompile(tmp_path, wheel, lines.append)
    assert result["ok"] is False and "node not found" in result["why"]
    assert lines == [result["why"]] and wheel.read_bytes() == b"wheel bytes"


def test_bytecode_job_is_importable_on_the_host():
    job = importlib.import_module("gpuml.webbuild.pyc_job")
    assert "gpuml_web" in job.PRELOAD and "unittest/" in job.DROP and "gpuml/demos/" in job.NATIVE_ONLY
    assert job._module("asyncio/__init__.py") == "asyncio" and job._module("json/decoder.py") == "json.decoder"
