"""Training loop, checkpoints, resume, allocation-free steps, CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import gpuml
from gpuml.datasets import digits
from gpuml.train import TrainConfig, Trainer, load_model, save_npz_atomic

MLP = "flatten | fc 32 relu | fc 10"


def config(**kw):
    base = dict(model=MLP, dataset="digits", epochs=2, batch_size=64, lr=3e-3, input_shape=(1, 8, 8), seed=1)
    base.update(kw)
    return TrainConfig(**base)


def test_resume_continues_identically(device, tmp_path):
    train = digits("train").subset(512)
    straight = Trainer(config(optimizer="adamw", weight_decay=0.01), device)
    straight.fit(train, progress=False, log=None)
    first = Trainer(config(optimizer="adamw", weight_decay=0.01), device)
    first.cfg.epochs = 1  # interrupted after one of the two planned epochs
    first.fit(train, progress=False, log=None, checkpoint=str(tmp_path / "ckpt.npz"))
    resumed = Trainer.load(tmp_path / "ckpt.npz", device, epochs=2)
    assert resumed.epoch == 1 and resumed.optimizer.steps == first.optimizer.steps
    resumed.fit(train, progress=False, log=None)
    np.testing.assert_array_equal(resumed.model.parameters().data.numpy(), straight.model.parameters().data.numpy())
    np.testing.assert_array_equal(
        resumed.optimizer.state["exp_avg_sq"].numpy(), straight.optimizer.state["exp_avg_sq"].numpy()
    )
    assert [h["train_loss"] for h in resumed.history] == pytest.approx([h["train_loss"] for h in straight.history])


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save_npz_atomic(path, {"a": np.ones(3)}, {"format": 1})
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_npz_atomic(path, {"a": np.zeros(3)}, {"format": 1})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left behind


def test_training_step_allocates_no_buffers(native_device):
    trainer = Trainer(config(optimizer="adam"), native_device)
    train = digits("train")
    xb, yb = train.images[:64], train.labels[:64]
    for _ in range(3):  # first steps fill the pool and caches
        trainer.train_step(xb, yb)
    native_device.flush()
    created = native_device.stats["buffers_created"]
    for _ in range(20):
        trainer.train_step(xb, yb)
    native_device.sync()
    assert native_device.stats["buffers_created"] == created


def test_numpy_backend_gives_the_same_first_step_loss(native_device, cpu_device):
    train = digits("train")
    xb, yb = train.images[:64], train.labels[:64]
    losses = []
    for dev in (native_device, cpu_device):
        trainer = Trainer(config(), dev)
        s, _ = trainer.train_step(xb, yb)
        losses.append(float(s.numpy()) / 64)
    assert abs(losses[0] - losses[1]) <= 1e-5


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "gpuml", *args], capture_output=True, text=True, timeout=300)


def test_every_subcommand_has_help():
    import argparse

    from gpuml.cli import build_parser

    top = run_cli("--help")
    assert top.returncode == 0
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    commands = list(action.choices)
    assert {"info", "bench", "train", "predict"} <= set(commands)
    for command in commands:
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "usage: gpuml" in result.stdout, command


def test_cli_train_and_predict(tmp_path):
    from PIL import Image

    out = tmp_path / "run"
    result = run_cli(
        "train", "digits", "--model", MLP, "--epochs", "6", "--lr", "1e-2", "--out", str(out), "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    assert (out / "model.npz").exists() and (out / "history.json").exists()
    _, meta = load_model(out / "model.npz", gpuml.get_device("cpu"))
    assert meta["history"][-1]["test_accuracy"] > 0.85
    test = digits("test")
    image = Image.fromarray((test.images[0, 0] * 255).astype(np.uint8)).resize((80, 80))
    image.save(tmp_path / "digit.png")
    result = run_cli("predict", str(out / "model.npz"), str(tmp_path / "digit.png"))
    assert result.returncode == 0, result.stderr
    assert "digit.png:" in result.stdout and "p=" in result.stdout


def test_on_the_fly_augmentation_trains(device):
    train = digits("train").subset(256)
    plain = Trainer(config(epochs=3), device)
    augmented = Trainer(config(epochs=3, augment="rotate 10, translate 1"), device)
    assert augmented.augment is not None
    plain.fit(train, progress=False, log=None)
    augmented.fit(train, progress=False, log=None)
    a, p = augmented.history, plain.history
    assert a[-1]["train_loss"] < a[0]["train_loss"]  # it learns
    assert a[-1]["train_loss"] != p[-1]["train_loss"]  # and really saw different (augmented) images


def _trained_one_epoch(device, tmp_path, **kw):
    """A trainer after one clean epoch whose checkpoint is on disk; returns (trainer, data, path, bytes)."""
    train = digits("train").subset(512)
    trainer = Trainer(config(epochs=1, schedule="none", **kw), device)
    path = tmp_path / "ckpt.npz"
    trainer.fit(train, progress=False, log=None, checkpoint=str(path))
    return trainer, train, path, path.read_bytes()


def _checkpoint_is_the_good_one(path, before: bytes, trainer_params: np.ndarray, device):
    assert path.read_bytes() == before  # not overwritten by the failed epoch
    restored = Trainer.load(path, device)
    params = restored.model.parameters().data.numpy()
    assert np.isfinite(params).all() and restored.epoch == 1
    np.testing.assert_array_equal(params, trainer_params)


def test_nan_image_stops_training_with_a_clear_error(device, tmp_path):
    from gpuml.datasets import Dataset
    from gpuml.train import NonFiniteError

    trainer, train, path, before = _trained_one_epoch(device, tmp_path)
    good = trainer.model.parameters().data.numpy().copy()
    images = train.images.copy()
    images[300, 0, 4, 4] = np.nan
    bad = Dataset(images, train.labels)
    # a NaN in arrays handed to fit is refused before training starts
    with pytest.raises(ValueError, match="NaN or infinite"):
        trainer.fit(images, train.labels, progress=False, log=None)
    # one that reaches the training loop stops it at the step of its batch (epoch 2: batches of 64, seeded order)
    order = np.random.default_rng([trainer.cfg.seed, 1]).permutation(len(train))
    step = int(np.flatnonzero(order == 300)[0]) // 64 + 1
    trainer.cfg.epochs = 2
    with pytest.raises(NonFiniteError, match=rf"epoch 2, step {step}: ") as err:
        trainer.train_epoch(bad)
    assert isinstance(err.value, ValueError) and (err.value.epoch, err.value.step) == (2, step)
    # the NaN reaches the loss, or (where a ReLU drops it) the first layer's weights through their gradient
    assert err.value.what in ("loss", "parameter 1.weight"), err.value
    assert "training images 300" in str(err.value)
    assert trainer.epoch == 1 and len(trainer.history) == 1
    _checkpoint_is_the_good_one(path, before, good, device)


def test_absurd_learning_rate_stops_training_and_keeps_the_checkpoint(device, tmp_path):
    from gpuml.train import NonFiniteError

    trainer, train, path, before = _trained_one_epoch(device, tmp_path, optimizer="sgd")
    good = trainer.model.parameters().data.numpy().copy()
    trainer.cfg.epochs = 3
    trainer.optimizer.lr = 1e30
    with pytest.raises(NonFiniteError, match=r"training stopped at epoch 2, step \d+: .*lr 1e\+30") as err:
        trainer.fit(train, progress=False, log=None, checkpoint=str(path))
    e = err.value
    assert e.epoch == 2 and 1 <= e.step <= 8 and (e.what == "loss" or e.what.startswith("parameter"))
    assert "non-finite" in str(e) or "nan" in str(e) or "inf" in str(e)
    assert trainer.epoch == 1 and len(trainer.history) == 1  # the failed epoch is not recorded
    _checkpoint_is_the_good_one(path, before, good, device)


def test_a_parameter_made_non_finite_is_named(device):
    from gpuml.train import NonFiniteError

    train = digits("train").subset(128)
    trainer = Trainer(config(epochs=1, schedule="none"), device)
    store = trainer.model.parameters()
    state = store.state_dict()
    name = next(iter(state))
    state[name] = np.full_like(state[name], np.inf)
    store.load_state_dict(state)
    with pytest.raises(NonFiniteError, match=rf"before epoch 1: parameter {name} non-finite") as err:
        trainer.fit(train, progress=False, log=None)
    assert (err.value.epoch, err.value.step, err.value.what) == (1, 0, f"parameter {name}")
