"""Checkpoints survive kill -9: a training process killed at any moment leaves the last complete checkpoint
loadable, and resuming gives bit-identical weights to a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import gpuml
from gpuml.train import load_npz

ROOT = Path(__file__).resolve().parent.parent
CNN = "conv 8 3 pad1 relu | maxpool 2 | flatten | fc 10"
EPOCHS = 12


def _train(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "GPUML_BACKEND": "cpu", "PYTHONPATH": str(ROOT)}
    args = ["train", "digits", "--model", CNN, "--lr", "3e-3", "--no-progress", "--out", str(out), *extra]
    cmd = [sys.executable, "-m", "gpuml", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _weights(path: Path) -> np.ndarray:
    model, _ = gpuml.load_model(path, gpuml.get_device("cpu"))
    return np.concatenate([p.data.numpy().ravel() for _, p in model.named_parameters()])


def test_kill_9_leaves_a_checkpoint_and_resume_is_bit_identical(tmp_path):
    reference = tmp_path / "reference"
    proc = _train(reference, "--epochs", str(EPOCHS))
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()

    run = tmp_path / "run"
    ckpt = run / "model.npz"
    proc = _train(run, "--epochs", str(EPOCHS))
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline:  # the first epoch's checkpoint
        time.sleep(0.02)
    time.sleep(0.05)  # somewhere in epoch 2 (or in the middle of its checkpoint write)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    _, meta = load_npz(ckpt)  # a complete file, whatever the moment of the kill
    done = meta["epoch"] if "epoch" in meta else len(meta.get("history", []))
    assert 1 <= done < EPOCHS, meta.keys()
    proc = _train(run, "--resume", str(ckpt), "--epochs", str(EPOCHS))
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()
    np.testing.assert_array_equal(_weights(ckpt), _weights(reference / "model.npz"))
