"""The training and regularization windows train where ``auto`` runs the "train" family
(:func:`gpuml.backends.device_for`) and draw with WebGPU: numpy where a software adapter measured slower than numpy,
WebGPU where the adapter was kept or ``GPUML_BACKEND=native`` forces it; the window says which. The stored choice
is put in the adapter's tune cache (no measuring here); a real GPU is never measured (tests/test_auto_backend.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gpuml import backends
from gpuml.backends import auto, open_device

pytest.importorskip("rendercanvas")

NUMPY_FASTER = {"choice": "cpu", "adapter_ms": 14.0, "cpu_ms": 5.6, "unit": "4 steps", "load": 0.5, "cores": 2}


@pytest.fixture
def auto_window(native_device, monkeypatch):
    """make(name, choice, **options): an offscreen App under ``auto`` (no GPUML_BACKEND, no set_device) on the
    native adapter, with ``choice`` stored as the train family's measurement; the drawn texts are recorded."""
    from gpuml.demos import load_demo
    from gpuml.demos.app import App

    monkeypatch.delenv("GPUML_BACKEND", raising=False)
    monkeypatch.setattr(auto, "load", lambda: 0.25)

    def no_measuring(*args):
        raise AssertionError("measured although a choice is stored")

    monkeypatch.setattr(auto, "measure", no_measuring)
    native_device.tune_cache.get((auto.KEY, "train"))  # loads the stored choices first
    saved = backends._current, backends._chosen
    backends._current, backends._chosen = native_device, False
    apps = []

    def make(name, choice, **options):
        monkeypatch.setitem(native_device.tune_cache.choices, (auto.KEY, "train"), dict(choice))
        app = App(load_demo(name), options, offscreen=True)
        apps.append(app)
        texts = app.texts = []
        draw_text = app.renderer.text

        def text(s, *args, **kwargs):
            texts.append(s)
            return draw_text(s, *args, **kwargs)

        app.renderer.text = text
        return app

    yield make
    for app in apps:
        app.close()
    backends._current, backends._chosen = saved


def adapter(device) -> str:
    return device.adapter.split(" (")[0].split(" [")[0]  # "llvmpipe"


def frames(app, n):
    image = None
    for _ in range(n):
        image = app.canvas.draw()
    return np.asarray(image)[:, :, :3]


def test_train_window_trains_on_numpy_where_auto_chose_it(auto_window, native_device):
    app = auto_window("train", NUMPY_FASTER, steps_per_frame=2, eval_every=4)
    m = app.demo.model
    assert m.device is open_device("cpu") and m.net.device is m.device and app.device is native_device
    assert m.test[0].device is m.device and m.test_steps == [0]  # the evaluation at step 0 ran, on numpy
    img = frames(app, 12)
    s = app.demo.state()
    assert s["train_backend"] == "cpu" and s["step"] >= 4 and len(m.test_steps) >= 2, (s, m.test_steps)
    text = f"training on numpy (2.5x {adapter(native_device)}'s speed here), drawing on WebGPU"
    assert s["backend_text"] == text and text in app.texts
    assert 0 < m.losses[-1] < m.losses[0] and all(0 <= a <= 1 for a in m.test_accs)
    filters = img[460:630, 60:1205]  # drawn from the numpy model's weights
    red = ((filters[..., 0] > 120) & (filters[..., 2] < 90)).sum()
    blue = ((filters[..., 2] > 120) & (filters[..., 0] < 90)).sum()
    assert red > 500 and blue > 500, "first-layer filters not drawn"
    w = m.net.parameters()["0.weight"].data.to_array().tolist()
    assert np.allclose(np.concatenate(app.demo.view()["filters"]), w)


def test_regularization_window_trains_on_numpy_where_auto_chose_it(auto_window):
    app = auto_window("regularization", NUMPY_FASTER, subset=128)  # 2 batches an epoch
    m = app.demo.model
    assert m.device is open_device("cpu") and all(run["net"].device is m.device for run in m.runs)
    n = 0
    while (m.epoch < 2 or m.record_due) and n < 80:
        app.canvas.draw()
        n += 1
    s = app.demo.state()
    assert s["train_backend"] == "cpu" and any(t.startswith("training on numpy (") for t in app.texts)
    assert all(h["epoch"][:3] == [0, 1, 2] for h in m.history.values()), m.history["none"]["epoch"]
    hist = app.demo.view["histograms"]
    assert all(abs(sum(run["shares"]) - 1) < 1e-9 for run in hist["runs"])
    # L1 pushes weights to zero: more near-zero weights than without a penalty, after two epochs already
    runs = {run["name"]: run for run in hist["runs"]}
    assert runs["L1"]["near_zero"] > runs["none"]["near_zero"]


def test_numpy_trains_the_regularization_runs_as_webgpu_does(native_device):
    """The same epoch on numpy and on the adapter: the same accuracies (float rounding apart)."""
    from gpuml.playground.regularization import RegularizationModel

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 128)
    images = (rng.random((128, 784)) * 60).astype(np.uint8)
    images[np.arange(128), labels * 70 + 20] = 255  # a class-dependent bright pixel: learnable
    data = (images.tobytes(), labels.tolist())
    models = [RegularizationModel(data, data, n_train=128, device=d) for d in (native_device, open_device("cpu"))]
    for model in models:
        model.train_epoch()
        model.train_epoch()
    a, b = (model.history for model in models)
    for name in a:
        assert b[name]["train_loss"] == pytest.approx(a[name]["train_loss"], rel=1e-3), name
        assert b[name]["test_acc"] == pytest.approx(a[name]["test_acc"], abs=2 / 128), name


def test_adapter_kept_or_forced_trains_on_webgpu(auto_window, native_device, monkeypatch):
    kept = dict(NUMPY_FASTER, choice="adapter", adapter_ms=5.0)
    app = auto_window("train", kept, steps_per_frame=1, eval_every=1000)
    assert app.demo.model.device is native_device and app.demo.state()["train_backend"] == "native"
    assert app.demo.backend_text == f"training on WebGPU ({adapter(native_device)}): measured faster than numpy"
    monkeypatch.setenv("GPUML_BACKEND", "native")  # forces the adapter over a stored numpy choice
    app = auto_window("regularization", NUMPY_FASTER, subset=128)
    frames(app, 2)
    assert app.demo.model.device is native_device and app.demo.state()["train_backend"] == "native"
    assert app.demo.backend_text == f"training on WebGPU ({adapter(native_device)}): GPUML_BACKEND=native"


def test_window_record_in_chunks_equals_the_whole_record(native_device):
    """The window's epoch record forwards RECORD_CHUNK images at a time (one BLAS thread on numpy): the same
    losses and accuracies as the model's forward of all 600 training and 300 test images at once."""
    from gpuml.demos.regularization import RECORD_CHUNK, WindowModel
    from gpuml.playground.regularization import RegularizationModel

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 900)
    images = (rng.random((900, 784)) * 60).astype(np.uint8)
    images[np.arange(900), labels * 70 + 20] = 255
    train = (images[:600].tobytes(), labels[:600].tolist())
    test = (images[600:].tobytes(), labels[600:].tolist())
    assert 600 > 2 * RECORD_CHUNK  # three chunks of the training images, two of the test images
    for device in (native_device, open_device("cpu")):
        whole = RegularizationModel(train, test, n_train=600, device=device)
        parts = WindowModel(train, test, n_train=600, device=device)
        while parts.record_due:
            parts.record()
        whole.train_epoch()
        parts.train_epoch()
        while parts.record_due:
            parts.record()
        for name, h in whole.history.items():
            assert parts.history[name]["epoch"] == h["epoch"] == [0, 1]
            for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
                assert parts.history[name][key] == pytest.approx(h[key], rel=1e-5, abs=1e-6), (device.name, name, key)
