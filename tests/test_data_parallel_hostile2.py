"""Second hostile review of the two-halves batches on the numpy backend (gpuml/nn/data_parallel.py,
data_parallel_process.py, data_parallel_helper.py): reproductions of the defects it found (all fixed since) and what
held."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from halves_support import helper_up, mlp, where

import gpuml
from gpuml import nn
from gpuml.impl.cpu import threads
from gpuml.nn import data_parallel as dp
from gpuml.nn import data_parallel_process as process
from gpuml.testing import assert_close

pytestmark = pytest.mark.skipif(os.name != "posix", reason="no helper processes on this platform")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def own_helper(monkeypatch):
    """A helper of this test's own (its state may be left broken), closed after the test."""
    monkeypatch.setattr(process, "_HELPERS", [])
    yield helper_up
    for h in process._HELPERS:
        if h is not None and h.proc.poll() is None:
            h.proc.kill()
            h.proc.wait()


def _data(device, n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = gpuml.tensor(rng.standard_normal((n, 20)).astype(np.float32), device=device)
    g = gpuml.tensor(rng.standard_normal((n, 5)).astype(np.float32), device=device)
    return x, g


# --- defects --------------------------------------------------------------------------------------------------------
def test_a_numpy_gradient_is_taken_alike_split_or_whole(cpu_device, halves):
    """The same script must not work at 40 samples and fail at the epoch's last 20 (or on one core): a numpy array
    as the gradient is taken by the halves and refused by the whole batch ('copy_into: tensors on native and cpu')."""
    x, g = _data(cpu_device)
    outcomes = {}
    for mode in ("here", "whole"):
        halves(mode)
        model = mlp(cpu_device, 1)
        model(x)
        try:
            model.backward(g.numpy())
            outcomes[mode] = "ok"
        except (ValueError, TypeError) as e:
            outcomes[mode] = type(e).__name__
    assert outcomes["here"] == outcomes["whole"], outcomes


def test_a_helper_that_cannot_start_under_warnings_as_errors(cpu_device, halves, own_helper, monkeypatch):
    """``-W error`` / pytest's filterwarnings=error: the start's warning may raise once, but then the halves must run
    here; now every split forward raises again and tries to start another helper."""
    tries = []

    class NoHelper:
        def __init__(self):
            tries.append(1)
            raise OSError("no memfd here")

    monkeypatch.setattr(process, "Helper", NoHelper)
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    model = mlp(cpu_device, 1)
    x, _ = _data(cpu_device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="no helper process"):
            model(x)
        model(x)  # raises UserWarning again now
    assert where(model) == "here"
    assert len(tries) == 1


def test_a_helper_given_up_under_warnings_as_errors_is_closed(cpu_device, halves, own_helper, monkeypatch):
    """A silent helper given up on (TimeoutError) while warnings are errors: the helper must still be closed (its
    pipe closed, the process ended), not left stopped until this process exits."""
    helper = own_helper()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    monkeypatch.setattr(process, "WAIT_S", 0.3)
    model = mlp(cpu_device, 1)
    x, _ = _data(cpu_device)
    os.kill(helper.proc.pid, signal.SIGSTOP)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(UserWarning, match="helper process stopped"):
                model(x)
        assert helper.failed
        assert helper.send.closed
    finally:
        os.kill(helper.proc.pid, signal.SIGCONT)


def test_ctrl_c_between_sending_and_the_guard(cpu_device, halves, own_helper, monkeypatch):
    """A Ctrl-C landing after the command went out and before ``with _answered(job)`` took over: the job's lock is
    never released, and every later batch silently runs both halves here."""
    own_helper()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    model = mlp(cpu_device, 1)
    x, _ = _data(cpu_device)
    answered = dp._answered

    def ctrl_c(job):
        monkeypatch.setattr(dp, "_answered", answered)
        raise KeyboardInterrupt

    monkeypatch.setattr(dp, "_answered", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        model(x)
    model(x)
    assert where(model) == "helper"  # "here" now, for good


class _ReadThenCtrlC:
    """The reply connection, whose next recv() reads the answer and then raises KeyboardInterrupt (a Ctrl-C landing
    inside Connection.recv after the bytes were read, before ``owed -= 1``)."""

    def __init__(self, conn, helper):
        self.conn, self.helper = conn, helper

    def poll(self, *a):
        return self.conn.poll(*a)

    def recv(self):
        self.conn.recv()
        self.helper.recv = self.conn
        raise KeyboardInterrupt


def test_ctrl_c_inside_reading_the_answer(cpu_device, halves, own_helper, monkeypatch):
    """Was: the next command waited WAIT_S (120 s; 1 s here) for an answer that would not come, then gave up on the
    helper. An exception inside a read may leave the stream out of step (a message's header read, its body not),
    so the helper is given up at once, with its warning then; the next batch runs here without waiting or warning,
    with the same bits."""
    helper = own_helper()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    monkeypatch.setattr(process, "WAIT_S", 1.0)
    model = mlp(cpu_device, 1)
    x, _ = _data(cpu_device)
    model(x)
    assert where(model) == "helper"
    helper.recv = _ReadThenCtrlC(helper.recv, helper)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match="interrupted while reading an answer"):
        model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, no wait
        y = model(x).numpy()
    assert where(model) == "here"
    halves("whole")
    np.testing.assert_allclose(y, model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_a_child_forked_while_the_helper_starts(cpu_device, halves, own_helper):
    """Another thread holds ``_START`` (it is starting the helper: Popen, ~ms) when this one forks: the child's first
    split forward blocks on the copied, held lock forever (here: killed by an alarm after 3 s)."""
    process._START.acquire()
    try:
        pid = os.fork()
        if pid == 0:
            try:
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                signal.alarm(3)
                process.helper()
            finally:
                os._exit(0)
    finally:
        process._START.release()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status:#x}"


_FLAGS_SCRIPT = """
import os, sys, time, warnings
sys.path.insert(0, {root!r})
os.environ["GPUML_CPU_THREADS"] = "2"
os.environ["GPUML_CPU_HALVES"] = "1"
import numpy as np, gpuml
from gpuml import nn
from gpuml.backends import open_device
from gpuml.impl.cpu import threads
from gpuml.nn import data_parallel as dp, data_parallel_process as process
dp.SPLIT_MACS = 0
threads.cpu_to_spare = lambda: True
dev = open_device("cpu")
t0 = time.monotonic()
while process.helper() is None and not process.failed() and time.monotonic() - t0 < 30:
    time.sleep(0.05)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5)).build((20,), device=dev, seed=1)
x = gpuml.tensor(np.ones((40, 20), np.float32), device=dev)
for _ in range(2):
    model(x)
    model.backward(gpuml.tensor(np.ones((40, 5), np.float32), device=dev))
print("where", model._split.pending.where, "failed", process.failed())
"""


def test_the_helper_loads_what_the_parent_loads(tmp_path):
    """``python -E`` (or -I, -s) ignores PYTHONPATH / the user site; the helper, started as plain ``python -c``, does
    not, so it imports other packages than its parent (here a broken numpy: it dies; a different numpy would give
    other bits silently)."""
    shadow = tmp_path / "shadow" / "numpy"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not the parent numpy')\n")
    script = tmp_path / "run.py"
    script.write_text(_FLAGS_SCRIPT.format(root=ROOT))
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "shadow"))
    out = subprocess.run(
        [sys.executable, "-E", str(script)], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "where helper failed False" in out.stdout, out.stdout + out.stderr[-2000:]


# --- what held ------------------------------------------------------------------------------------------------------
def test_a_dev_mode_warnings_as_errors_run_is_clean(tmp_path):
    """``python -X dev -W error``, the working folder removed after the helper started: the helper runs the halves, no
    warning (ResourceWarning included) and nothing on stderr."""
    script = tmp_path / "run.py"
    gone = tmp_path / "gone"
    gone.mkdir()
    chdir = f"os.chdir({str(gone)!r}); os.rmdir({str(gone)!r})\nfor _ in"  # the working folder deleted
    script.write_text(_FLAGS_SCRIPT.format(root=ROOT).replace("for _ in", chdir))
    out = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", str(script)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "where helper failed False" in out.stdout
    assert out.stderr == ""


def test_a_second_cpu_device(halves):
    """A model on a CPUDevice of its own: the same bits here and in the helper, float32 rounding from whole."""
    from gpuml.backends.cpu import CPUDevice

    dev = CPUDevice()
    x, g = _data(dev)
    got = {}
    for mode in ("whole", "here", "helper"):
        halves(mode)
        model = mlp(dev, 1)
        y = model(x).numpy()
        gx = model.backward(g).numpy()
        assert where(model) == (None if mode == "whole" else mode)
        got[mode] = (y, gx, model.store.grad.host().copy())
    for a, b in zip(got["here"], got["helper"], strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(got["here"], got["whole"], strict=True):
        assert_close(a, b, "matmul")


def test_settings_flipped_between_forward_and_backward(cpu_device, halves, monkeypatch):
    """GPUML_CPU_THREADS=1, GPUML_CPU_HALVES=0 and a busy machine after a forward the helper ran: its backward still
    finishes the split (the helper's half), the same bits as here."""
    x, g = _data(cpu_device)
    halves("helper")
    model = mlp(cpu_device, 1)
    model(x)
    assert where(model) == "helper"
    monkeypatch.setenv("GPUML_CPU_THREADS", "1")
    monkeypatch.setenv("GPUML_CPU_HALVES", "0")
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: False)
    gx = model.backward(g).numpy()
    monkeypatch.setenv("GPUML_CPU_THREADS", "2")
    halves("here")
    ref = mlp(cpu_device, 1)
    ref(x)
    assert np.array_equal(gx, ref.backward(g).numpy())
    assert np.array_equal(model.store.grad.host(), ref.store.grad.host())


def test_a_helper_killed_while_it_runs_its_half(cpu_device, halves, own_helper, monkeypatch):
    """Killed after it got the command, while this process runs its half: one warning, the half here, the same
    bits (the helper is stopped first so that it cannot answer before it is killed)."""
    helper = own_helper()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    model, ref = nn.lenet5(device=cpu_device, seed=0), nn.lenet5(device=cpu_device, seed=0)
    rng = np.random.default_rng(2)
    x = gpuml.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32), device=cpu_device)
    g = gpuml.tensor(rng.standard_normal((64, 10)).astype(np.float32), device=cpu_device)
    run = dp.run_forward

    def kill_then_run(layers, t):
        monkeypatch.setattr(dp, "run_forward", run)
        os.kill(helper.proc.pid, signal.SIGKILL)
        helper.proc.wait()
        return run(layers, t)

    os.kill(helper.proc.pid, signal.SIGSTOP)
    monkeypatch.setattr(dp, "run_forward", kill_then_run)
    with pytest.warns(UserWarning, match="helper process stopped"):
        y = model(x).numpy()
    assert where(model) == "here"
    model.backward(g)
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: False)
    assert np.array_equal(y, ref(x).numpy())
    ref.backward(g)
    assert np.array_equal(model.store.grad.host(), ref.store.grad.host())


def test_trainer_with_a_validation_split_and_early_stopping(cpu_device, halves):
    """Trainer.fit(validation_split=, patience=): the same history and weights with the helper as here, float32
    rounding from whole batches."""
    from gpuml.train import Trainer
    from gpuml.train_config import TrainConfig

    rng = np.random.default_rng(3)
    images, labels = rng.random((160, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 160)
    got = {}
    for mode in ("whole", "here", "helper"):
        halves(mode)
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3))
        model.build((1, 8, 8), device=cpu_device, seed=0)
        cfg = TrainConfig(epochs=4, batch_size=64, lr=0.05, optimizer="sgd", schedule="none", input_shape=(1, 8, 8),
                          num_classes=3)  # fmt: skip
        t = Trainer(cfg, device=cpu_device, model=model)
        t.fit(images, labels, validation_split=0.25, patience=1, progress=False, log=None)
        assert where(model) == (None if mode == "whole" else mode)
        got[mode] = ([h["val_loss"] for h in t.history], t.best_epoch, model.store.data.host().copy())
    assert got["here"][:2] == got["helper"][:2]
    assert np.array_equal(got["here"][2], got["helper"][2])
    assert got["here"][1] == got["whole"][1]
    assert_close(got["here"][2], got["whole"][2], "matmul")


def test_a_pickled_model_after_a_split_forward(cpu_device, halves):
    """pickle drops the runner (Halves.__reduce__): the loaded model makes its own and trains in the helper."""
    import pickle

    halves("helper")
    model = mlp(cpu_device, 1)
    x, g = _data(cpu_device)
    model(x)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.__dict__.get("_split") is None
    lx, lg = gpuml.tensor(x.numpy(), device=loaded.device), gpuml.tensor(g.numpy(), device=loaded.device)
    loaded(lx)
    assert where(loaded) == "helper"
    loaded.backward(lg)
    model.backward(g)
    assert np.array_equal(loaded.store.grad.host(), model.store.grad.host())


def test_a_late_answer_does_not_overwrite_the_next_batch(cpu_device, halves, own_helper, monkeypatch):
    """Ctrl-C while the helper runs a half, then at once a batch of another size: this process writes the new half's
    input into the shared file while the helper, still on the old half, has yet to write its output there; that output
    lands inside the new input, and the helper runs the new half on it (silently wrong values). Here the helper is held
    stopped so that it finishes the old half right after the new input is written, before the owed answer is read."""
    helper = own_helper()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    model = nn.lenet5(device=cpu_device, seed=0)
    rng = np.random.default_rng(7)
    small = gpuml.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32), device=cpu_device)
    big = gpuml.tensor(rng.standard_normal((128, 1, 28, 28)).astype(np.float32), device=cpu_device)
    spin = process.spin

    def ctrl_c(ready, seconds):
        monkeypatch.setattr(process, "spin", spin)
        raise KeyboardInterrupt

    os.kill(helper.proc.pid, signal.SIGSTOP)  # slow: it has not even read the command yet
    monkeypatch.setattr(process, "spin", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        model(small)
    import threading

    # the helper finishes the old half a moment later, while this process starts the next batch: that batch must
    # read the owed answer before it writes the shared file (it waits for it)
    threading.Timer(0.3, os.kill, (helper.proc.pid, signal.SIGCONT)).start()
    y = model(big).numpy()
    assert where(model) == "helper"
    halves("here")
    wrong = np.flatnonzero((y != model(big).numpy()).any(axis=1))
    assert wrong.size == 0, f"samples {wrong} differ"  # [96]: the new half's 33rd, where the old output landed


def test_a_users_alarm_while_waiting_for_the_helper(cpu_device, halves, own_helper, monkeypatch):
    """A script's own time limit (a SIGALRM handler raising TimeoutError) fires while this process waits for the
    helper: the TimeoutError must reach the script, as a Ctrl-C does. Now it is taken for the helper's silence: the
    helper is given up on ("helper process stopped (TimeoutError: ...)") and the forward goes on, the limit lost."""
    helper = own_helper()
    monkeypatch.setattr(threads, "cpu_to_spare", lambda: True)
    model = mlp(cpu_device, 1)
    x, _ = _data(cpu_device)

    def alarm(signum, frame):
        raise TimeoutError("the script's own 0.2 s limit")

    previous = signal.signal(signal.SIGALRM, alarm)
    os.kill(helper.proc.pid, signal.SIGSTOP)  # a slow half
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(TimeoutError, match="own"):
                model(x)
        assert not helper.failed, [str(w.message) for w in caught]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.kill(helper.proc.pid, signal.SIGCONT)


def test_input_grad_turned_on_between_forward_and_backward(cpu_device, halves):
    """``layers[0].input_grad = True`` after the forward (an input gradient wanted for this batch: adversarial
    examples, saliency): the whole batch returns it; the halves return None (the helper's copy and the replica still
    skip it, the first half computes it and throws it away)."""
    rng = np.random.default_rng(8)
    x = gpuml.tensor(rng.standard_normal((40, 1, 8, 8)).astype(np.float32), device=cpu_device)
    g = gpuml.tensor(rng.standard_normal((40, 3)).astype(np.float32), device=cpu_device)
    got = {}
    for mode in ("whole", "here", "helper"):
        halves(mode)
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3))
        model.build((1, 8, 8), device=cpu_device, seed=0)
        model.layers[0].input_grad = False  # as Trainer trains
        model(x)
        model.layers[0].input_grad = True
        gx = model.backward(g)
        got[mode] = None if gx is None else gx.numpy()
    assert got["whole"] is not None
    assert got["here"] is not None and got["helper"] is not None
    assert_close(got["here"], got["whole"], "matmul")
