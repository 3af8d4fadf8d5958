"""The page's Python as bytecode: ``precompile(site, log)`` rewrites the built site's stdlib zip and gpuml wheel
with ``.pyc`` files compiled by the page's own CPython (Pyodide, run under node; pyc_job.py does the work).

Why: Pyodide ships its stdlib as source and a wheel of ``.py`` is source too, so every first visit compiled ~150
stdlib modules while Pyodide booted and ~110 gpuml modules while the page imported gpuml: most of the time to
interactive on a 2-core machine (benchmarks/RESULTS.md, "first-visit bytecode"). Compiling needs CPython of
Pyodide's exact version, which the host rarely has, so it runs in Pyodide itself, under node (present wherever
Pyodide's npm package is).

The result is cached by content hash in gpuml's data folder (``web-pyc/``); without node, or if compiling fails,
the site ships source as before and the build says so in one line.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["precompile"]

_KEEP = 4  # cached results kept (one per recent build input)
# node side: boot Pyodide from the site's own files, copy the inputs in, run pyc_job.main, copy the outputs out
_DRIVER = """
import fs from "node:fs";
import { pathToFileURL } from "node:url";
const [pyodideDir, jobPath] = process.argv.slice(2);
const job = JSON.parse(fs.readFileSync(jobPath, "utf8"));
const { loadPyodide } = await import(pathToFileURL(pyodideDir + "/pyodide.mjs").href);
const py = await loadPyodide({ indexURL: pyodideDir + "/", stdout: () => {}, stderr: (s) => console.error(s) });
const site = py.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
py.FS.mkdirTree("/job");
for (const [name, path] of Object.entries(job.inputs)) py.FS.writeFile(`/job/${name}`, fs.readFileSync(path));
for (const [rel, path] of Object.entries(job.page_py)) {
  const dest = `${site}/${rel}`;
  py.FS.mkdirTree(dest.slice(0, dest.lastIndexOf("/")));
  py.FS.writeFile(dest, fs.readFileSync(path));
}
const spec = { site_packages: site, stdlib_path: job.stdlib_path, stdlib: "/job/stdlib.zip", wheel: "/job/wheel.whl",
  stdlib_out: "/job/stdlib.out", wheel_out: "/job/wheel.out", stats_out: "/job/stats.json" };
py.globals.set("job_json", JSON.stringify(spec));
py.runPython(fs.readFileSync(job.script, "utf8") + "\\nimport json as _j\\nmain(_j.loads(job_json))");
for (const [name, path] of Object.entries(job.outputs)) fs.writeFileSync(path, py.FS.readFile(`/job/${name}`));
"""


def _cache_dir() -> Path:
    from ..datasets import data_dir

    return data_dir() / "web-pyc"


def _key(parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()[:24]


def _stdlib_path(pyodide: Path) -> str:
    """Where Pyodide mounts its stdlib zip (sys.path entry), e.g. /lib/python314.zip, from pyodide-lock.json."""
    lock = json.loads((pyodide / "pyodide-lock.json").read_text())
    major, minor = lock["info"]["python"].split(".")[:2]
    return f"/lib/python{major}{minor}.zip"


def _compile(site: Path, wheel: Path, page_py: dict, dest: Path, node: str) -> dict:
    pyodide = site / "pyodide"
    script = Path(__file__).with_name("pyc_job.py")
    with tempfile.TemporaryDirectory(prefix="gpuml-pyc-") as tmp:
        tmp = Path(tmp)
        (tmp / "driver.mjs").write_text(_DRIVER)
        job = {
            "script": str(script),
            "stdlib_path": _stdlib_path(pyodide),
            "inputs": {"stdlib.zip": str(pyodide / "python_stdlib.zip"), "wheel.whl": str(wheel)},
            "page_py": page_py,
            "outputs": {
                "stdlib.out": str(tmp / "stdlib.zip"),
                "wheel.out": str(tmp / "wheel.whl"),
                "stats.json": str(tmp / "stats.json"),
            },
        }
        (tmp / "job.json").write_text(json.dumps(job))
        run = subprocess.run(
            [node, str(tmp / "driver.mjs"), str(pyodide), str(tmp / "job.json")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"node exited with {run.returncode}: {last[:300]}")
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("stdlib.zip", "wheel.whl", "stats.json"):
            shutil.copyfile(tmp / name, dest / name)
    return json.loads((dest / "stats.json").read_text())


def precompile(site: Path, wheel: Path, log=print) -> dict:
    """Replace ``site/pyodide/python_stdlib.zip`` and ``wheel`` by their bytecode versions (see the module
    docstring). Returns what was done: {"ok": True, "stdlib_pyc": n, "gpuml_pyc": n, ...} or {"ok": False, "why":
    one line} (the site then keeps source)."""
    node = shutil.which("node")
    if node is None:
        why = "node not found: the page's Python ships as source (its first visit compiles it, seconds slower)"
        log(why)
        return {"ok": False, "why": why}
    stdlib = site / "pyodide" / "python_stdlib.zip"
    page_py = {p.relative_to(site / "py").as_posix(): str(p) for p in sorted((site / "py").rglob("*.py"))}
    script = Path(__file__).with_name("pyc_job.py").read_bytes()
    key = _key(
        [stdlib.read_bytes(), wheel.read_bytes(), script, _DRIVER.encode()]
        + [Path(p).read_bytes() for p in page_py.values()]
    )
    cached = _cache_dir() / key
    try:
        if (cached / "stats.json").is_file():
            stats = json.loads((cached / "stats.json").read_text())
        else:
            stats = _compile(site, wheel, page_py, cached, node)
            _prune(cached)
    except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError) as e:
        why = f"compiling the page's Python to bytecode failed ({e}); it ships as source"
        log(why)
        return {"ok": False, "why": why}
    shutil.copyfile(cached / "stdlib.zip", stdlib)
    shutil.copyfile(cached / "wheel.whl", wheel)
    return {"ok": True, **stats}


def _prune(keep: Path) -> None:
    entries = sorted((p for p in keep.parent.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[_KEEP:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
