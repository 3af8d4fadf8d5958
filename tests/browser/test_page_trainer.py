"""gpuml.train.Trainer in the page's worker (issue 18.2): ``Trainer.fit`` (numpy-free: Pyodide core) on the first
192 images of the page's MNIST subset, through the worker's ``trainer_fit`` (gpuml.playground.training.fit_subset),
on WebGPU and on the pure-Python backend (?gpu=off). Asserted: the history (2 epochs with validation), accuracy far
above chance after 10 steps, predict agreeing with score and with predict_proba, the one-line ValueError of a bad
label, and the same per-step losses as native gpuml on the cpu backend with the same bytes."""

from __future__ import annotations

import json

import pytest
from page_site import console_errors, open_page, wait_ready

import gpuml
from gpuml.playground.training import fit_subset

OPTS = {"n": 192, "epochs": 2, "batch": 32}  # 144 training images after the 25 % validation split: 5 steps/epoch


@pytest.fixture(scope="module")
def native(site):
    data = site["dir"] / "data"
    images, labels = (data / "mnist_train_images.u8").read_bytes(), (data / "mnist_train_labels.u8").read_bytes()
    return fit_subset(images, labels, device=gpuml.get_device("cpu"), **OPTS)


@pytest.mark.parametrize("gpu", ["webgpu", "off"])
def test_trainer_fit_in_the_page_matches_native(chrome, site, native, gpu):
    context, page = open_page(chrome, site["url"] + ("?gpu=off" if gpu == "off" else ""))
    try:
        info = wait_ready(page, timeout=180_000)
        assert info["ready"], info
        out = page.evaluate(f"gpumlCall('trainer_fit', {json.dumps(OPTS)})")
        print(gpu, "trainer_fit:", out["backend"], f"{out['ms']:.0f} ms", out["losses"])
        assert out["backend"] == ("browser" if gpu == "webgpu" else page.evaluate("gpumlPage.backend"))
        history = out["history"]
        assert [h["epoch"] for h in history] == [1, 2]
        assert all({"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"} <= h.keys() for h in history)
        assert len(out["losses"]) == 10 and out["losses"][0] == pytest.approx(2.3, abs=0.2)
        assert history[1]["train_loss"] < history[0]["train_loss"]
        assert out["score"] > 0.35  # ten classes: chance is 0.1
        assert out["predict_accuracy"] == pytest.approx(out["score"]) and out["proba_argmax_agrees"]
        assert out["proba_row_sum"] == pytest.approx(1.0, abs=1e-5)
        err = out["bad_label_error"]
        assert "\n" not in err and err.endswith("for 10 classes, got 10 (1 label(s), first at index 0)")
        tol = 1e-5 if out["backend"] == "python" else 1e-3  # WebGPU sums in another order than numpy
        assert out["losses"] == pytest.approx(native["losses"], rel=tol)
        assert out["score"] == pytest.approx(native["score"], abs=2 / OPTS["n"])
        assert console_errors(page.console) == []
    finally:
        context.close()
