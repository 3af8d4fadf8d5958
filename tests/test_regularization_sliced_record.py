"""The native regularization window records an epoch one run per frame (``WindowModel.record``): the history and
weights equal the playground model's record of all four runs at once."""

from __future__ import annotations

import pytest


def _data(n, seed):
    import random

    rng = random.Random(seed)
    labels = [rng.randrange(10) for _ in range(n)]
    images = bytes(min(255, (lab * 25 + rng.randrange(60)) if (i % 7) == lab % 7 else rng.randrange(40))
                   for lab in labels for i in range(784))  # fmt: skip
    return images, labels


def test_window_record_one_run_per_call_equals_the_whole_record(native_device):
    pytest.importorskip("rendercanvas")
    from gpuml.demos.regularization import WindowModel
    from gpuml.playground.regularization import RegularizationModel

    train, test = _data(128, 0), _data(64, 1)
    whole = RegularizationModel(train, test, n_train=128, device=native_device)
    parts = WindowModel(train, test, n_train=128, device=native_device)
    calls = 0
    while parts.record_due:
        parts.record()
        calls += 1
    assert calls == 4
    for _ in range(2):
        whole.train_epoch()
        parts.train_epoch()
        assert parts.record_due and parts.epoch == whole.epoch
        for k in range(4):
            assert parts.record_due
            parts.record()
            assert len(parts.history["none"]["epoch"]) == (whole.epoch + 1 if k == 3 else whole.epoch)
    assert not parts.record_due
    for name, h in whole.history.items():
        assert parts.history[name]["epoch"] == h["epoch"] == [0, 1, 2]
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert parts.history[name][key] == pytest.approx(h[key], rel=1e-5, abs=1e-6), (name, key)
    assert [len(w) for w in parts.weights] == [len(w) for w in whole.weights]
    for got, want in zip(parts.weights, whole.weights, strict=True):
        assert list(got) == pytest.approx(list(want), abs=1e-6)
    assert 0 < whole.history["none"]["train_loss"][-1] < whole.history["none"]["train_loss"][0]
