"""Trainer without numpy (issue 18.2, the page's way): gpuml.train imports with numpy blocked and fits, predicts and
scores on shaped memoryviews and device tensors on the pure-Python backend; the same steps give the same losses on
the cpu, python and native backends; labels are checked on every backend; fit_steps is fit a step at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gpuml
from gpuml.playground.training import fit_subset
from gpuml.train import FitStep, TrainConfig, Trainer


def _bars(n: int, seed: int = 0):
    """(n, 8, 8) uint8 images of three classes (a vertical bar, a horizontal bar, a diagonal) with noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (rng.random((n, 8, 8)) * 60).astype(np.uint8)
    for i, c in enumerate(y):
        if c == 0:
            x[i, :, 2] = 255
        elif c == 1:
            x[i, 3, :] = 255
        else:
            x[i][np.eye(8, dtype=bool)] = 255
    return x, y.astype(np.int32)


MLP = "flatten | fc 16 relu | fc 3"


def _cfg(**kw):
    return TrainConfig(**{"model": MLP, "epochs": 3, "batch_size": 16, "lr": 1e-2, "schedule": "none", **kw})


_NO_NUMPY = r"""
import json, sys
sys.modules["numpy"] = None  # any "import numpy" now raises ImportError
import gpuml
from gpuml.train import TrainConfig, Trainer

data, labels = json.loads(sys.argv[1])
n = len(labels)
x = memoryview(bytes(data)).cast("B", (n, 8, 8))
dev = gpuml.get_device()
assert dev.name == "python", dev
t = Trainer(TrainConfig(model="flatten | fc 16 relu | fc 3", epochs=6, batch_size=16, lr=1e-2, schedule="none"))
history = t.fit(x, labels, validation_split=0.25, patience=1, progress=True)
pred = t.predict(x).tolist()
out = {"history": history, "best": t.best_epoch, "score": t.score(x, labels),
       "agree": sum(p == v for p, v in zip(pred, labels)) / n, "rows": [sum(r) for r in t.predict_proba(x).tolist()]}
for bad in ([3] + labels[1:], [-1] + labels[1:], [0.5] + labels[1:]):
    try:
        t.fit(x, bad)
    except ValueError as e:
        out.setdefault("errors", []).append(str(e))
try:
    t.fit(bytes(data), labels)
except ValueError as e:
    out["flat"] = str(e)
print(json.dumps(out))
"""


def test_trains_without_numpy_on_the_python_backend():
    x, y = _bars(96)
    arg = json.dumps([x.reshape(-1).tolist(), y.tolist()])
    env = {**os.environ, "GPUML_BACKEND": "", "GPUML_ADAPTER": "no-such-adapter", "GPUML_EXPECT_GPU": "0"}
    run = subprocess.run([sys.executable, "-c", _NO_NUMPY, arg], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    history = out["history"]
    assert 1 <= len(history) <= 6 and [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert all({"train_loss", "val_loss", "val_accuracy", "lr"} <= h.keys() for h in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"] and out["score"] > 0.9
    assert out["agree"] == pytest.approx(out["score"]) and all(abs(r - 1) < 1e-5 for r in out["rows"])
    assert out["best"] in range(1, len(history) + 1)
    e_over, e_neg, e_frac = out["errors"]
    assert "must be in [0, 3) for 3 classes, got 3 (1 label(s), first at index 0)" in e_over
    assert "must be >= 0, got negative values -1 (1 label(s), first at index 0)" in e_neg
    assert "must be integers, got non-integer values 0.5 (1 label(s), first at index 0)" in e_frac
    assert "without numpy give images as a gpuml tensor or a memoryview with a shape" in out["flat"]


def test_device_tensors_memoryviews_and_arrays_train_alike(cpu_device):
    """Device tensors and shaped memoryviews take the same (numpy-free) path: identical histories; labels in a
    tensor are checked too; predict gives a device tensor agreeing with score."""
    x, y = _bars(64)
    runs = []
    for images, labels in (
        (gpuml.tensor(x.astype(np.float32) / np.float32(255), device=cpu_device), gpuml.tensor(y, device=cpu_device)),
        (memoryview(x.tobytes()).cast("B", x.shape), list(y)),
    ):
        t = Trainer(_cfg(), cpu_device)
        runs.append(t.fit(images, labels, progress=False, log=None))
        pred = t.predict(images)
        assert isinstance(pred, gpuml.Tensor) and pred.shape == (64,)
        assert float(np.mean(pred.numpy() == y)) == pytest.approx(t.score(images, labels))
    assert [h["train_loss"] for h in runs[0]] == pytest.approx([h["train_loss"] for h in runs[1]], rel=1e-6)
    bad = gpuml.tensor(np.where(np.arange(64) == 5, 7, y).astype(np.int32), device=cpu_device)
    with pytest.raises(ValueError, match=r"got 7 \(1 label\(s\), first at index 5\)"):
        Trainer(_cfg(), cpu_device).fit(gpuml.tensor(x.astype(np.float32), device=cpu_device), bad)
    nan = x.astype(np.float32)
    nan[3, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"contain 1 NaN or infinite"):
        Trainer(_cfg(), cpu_device).fit(gpuml.tensor(nan, device=cpu_device), y)


def test_fit_steps_yields_each_step_and_epoch_and_matches_fit(cpu_device):
    x, y = _bars(40)
    mv = memoryview(x.tobytes()).cast("B", x.shape)
    t = Trainer(_cfg(epochs=2), cpu_device)
    events = list(t.fit_steps(mv, list(y)))
    steps = [e for e in events if e.record is None]
    ends = [e for e in events if e.record is not None]
    assert all(isinstance(e, FitStep) for e in events)
    sizes = [(1, 1, 3, 16), (1, 2, 3, 16), (1, 3, 3, 8), (2, 1, 3, 16), (2, 2, 3, 16), (2, 3, 3, 8)]
    assert [(e.epoch, e.step, e.steps, e.size) for e in steps] == sizes
    assert [e.record for e in ends] == t.history and len(t.history) == 2
    epoch1 = sum(float(e.loss.item()) for e in steps[:3]) / 40
    assert t.history[0]["train_loss"] == pytest.approx(epoch1, rel=1e-6)
    again = Trainer(_cfg(epochs=2), cpu_device).fit(mv, list(y), progress=False, log=None)
    assert [h["train_loss"] for h in again] == [h["train_loss"] for h in t.history]
    with pytest.raises(ValueError, match="early stopping"):
        t.fit_steps(mv, list(y), patience=1)  # checked at the call, before any step


def test_same_steps_same_losses_on_every_backend(cpu_device):
    """fit_subset (what the page's worker runs) on 96 MNIST-sized images: cpu, python and native agree."""
    rng = np.random.default_rng(0)
    y = (np.arange(96) % 10).astype(np.uint8)
    x = (rng.random((96, 28, 28)) * 40).astype(np.uint8)
    for i, c in enumerate(y):  # class c: a bright 4 x 4 block at its own place
        x[i, 2 + 2 * c : 6 + 2 * c, 4 + c : 8 + c] = 250
    opts = {"n": 96, "epochs": 1, "batch": 16}
    ref = fit_subset(x.tobytes(), y.tobytes(), device=cpu_device, **opts)
    assert len(ref["losses"]) == 5 and len(ref["history"]) == 1  # 72 training images after the 25 % split
    assert ref["predict_accuracy"] == pytest.approx(ref["score"]) and ref["proba_argmax_agrees"]
    assert ref["bad_label_error"].endswith("got 10 (1 label(s), first at index 0)")
    py = fit_subset(x.tobytes(), y.tobytes(), device=gpuml.get_device("python"), **opts)
    assert py["losses"] == pytest.approx(ref["losses"], rel=1e-5)
    try:
        from gpuml.backends import open_device

        native = open_device("native")
    except RuntimeError:
        return
    nat = fit_subset(x.tobytes(), y.tobytes(), device=native, **opts)
    assert nat["losses"] == pytest.approx(ref["losses"], rel=1e-4)
