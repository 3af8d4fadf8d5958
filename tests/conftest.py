"""Backend fixtures. GPU tests run on the native (wgpu-py) backend; where no adapter exists they skip with
the reason, unless GPUML_EXPECT_GPU=1 (CI), where a missing adapter fails the run."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
# Kernel variants by the static order (reproducible); tests of the tuner turn it on. Its cache stays out of ~.
os.environ.setdefault("GPUML_TUNE", "0")
os.environ.setdefault("GPUML_TUNE_CACHE", os.path.join(tempfile.mkdtemp(prefix="gpuml-tune-"), "tune.json"))

import gpuml
from gpuml.backends import open_device

EXPECT_GPU = os.environ.get("GPUML_EXPECT_GPU") == "1"

# The kernels stay tested: on a software adapter `auto` would run some workloads on numpy (gpuml.backends.auto).
# Subprocesses inherit it; tests of the automatic choice set GPUML_BACKEND="" themselves.
if "GPUML_BACKEND" not in os.environ:
    try:
        open_device("native")
        os.environ["GPUML_BACKEND"] = "native"
    except RuntimeError:  # no adapter: tests that need one skip (or fail under GPUML_EXPECT_GPU=1)
        pass


def _native():
    try:
        return open_device("native")
    except RuntimeError as exc:
        if EXPECT_GPU:
            pytest.fail(f"GPUML_EXPECT_GPU=1 but the native backend is unavailable: {exc}")
        pytest.skip(f"no WebGPU adapter: {exc}")


@pytest.fixture(scope="session")
def native_device():
    return _native()


@pytest.fixture
def app_for(native_device):
    """make(name, **options): an offscreen demo App on the native device (closed after the test)."""
    import gpuml
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    previous = gpuml.get_device()
    gpuml.set_device(native_device)
    apps = []

    def make(name, **options):
        app = App(load_demo(name), options, offscreen=True)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
    gpuml.set_device(previous)


@pytest.fixture(scope="session")
def cpu_device():
    return open_device("cpu")


@pytest.fixture(params=["native", "cpu"], scope="session")
def device(request):
    """Each backend-agnostic test runs on the native GPU backend and on the numpy backend."""
    dev = _native() if request.param == "native" else open_device("cpu")
    previous = gpuml.get_device()
    gpuml.set_device(dev)
    yield dev
    gpuml.set_device(previous)


@pytest.fixture(scope="session")
def python_device():
    return open_device("python")


@pytest.fixture(params=["native", "cpu", "python"], scope="session")
def any_device(request):
    """Tests of ops that have pure-Python twins also run on the python backend (no numpy, no WebGPU)."""
    dev = _native() if request.param == "native" else open_device(request.param)
    previous = gpuml.get_device()
    gpuml.set_device(dev)
    yield dev
    gpuml.set_device(previous)


@pytest.fixture
def halves(monkeypatch):
    """The numpy backend's two halves at once, on for this test (tests/halves_support.py)."""
    from halves_support import halves as setup

    return setup(monkeypatch)
