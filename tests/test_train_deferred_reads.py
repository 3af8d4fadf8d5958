"""The native training window reads a frame's summed loss/correct on the next frame (``TrainModel.defer_reads``):
the curves get the same values as reading at once, one call later, and nothing is left unread once paused or
done."""

from __future__ import annotations

import numpy as np
import pytest


def _data(device):
    import gpuml

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 192).astype(np.int32)
    x = np.zeros((192, 1, 28, 28), np.float32)
    x[y == 0, :, 4:24, 8:12] = 1
    x[y == 1, :, 12:16, 4:24] = 1
    x += rng.normal(0, 0.6, x.shape).astype(np.float32)
    return gpuml.tensor(x, device=device), gpuml.tensor(y, device=device)


def test_deferred_reads_give_the_same_curves_one_call_later(native_device):
    from gpuml.playground.training import TrainModel, device_batches

    xt, yt = _data(native_device)

    def model(defer):
        m = TrainModel(*device_batches(xt, yt, 32), (xt, yt), batch=32, lr=2e-3, eval_every=None, epochs=1)
        m.defer_reads = defer
        return m

    now, later = model(False), model(True)
    for n in (2, 1, 2):
        now.train_steps(n)
        later.train_steps(n)
        assert later.loss_steps == now.loss_steps[:-1]  # the last call's values are still on the device
    later.read_pending()
    later.read_pending()  # nothing twice
    assert later.loss_steps == now.loss_steps == [2, 3, 5]
    assert later.losses == now.losses and later.accs == now.accs
    now.train_steps(16)
    later.train_steps(16)  # the run's end (6 steps an epoch): read at once, then its test evaluation
    assert later.done and later.loss_steps == now.loss_steps == [2, 3, 5, 6]
    assert later.losses == now.losses and later.test_steps == now.test_steps == [6]
    assert later.test_accs == pytest.approx(now.test_accs)


def test_train_window_reads_pending_steps_when_paused(app_for):
    app = app_for("train", steps_per_frame=1, eval_every=1000)
    m = app.demo.model
    app.canvas.draw()
    assert m.steps == 1 and m.loss_steps == []  # read on the next frame
    m.set("playing", False)
    app.canvas.draw()
    assert m.loss_steps == [1] and 0 < m.losses[0] < 10
    assert len(app.demo.view()["filters"]) == 6
