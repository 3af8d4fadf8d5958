"""``auto`` per op family (gpuml.backends.device_for): a GPU always, numpy on a software adapter where it measured
faster, the forced settings over both; the choice is stored per adapter and reused by later processes; gpuml info
says what it chose and why. Fake adapters make the logic independent of this machine's hardware."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpuml
from gpuml import backends
from gpuml.backends import auto, device_for, open_device
from gpuml.backends.base import Device

ROOT = Path(__file__).resolve().parents[1]
CHOICE = {"choice": "cpu", "adapter_ms": 14.0, "cpu_ms": 5.5, "unit": "4 steps", "load": 0.5, "cores": 2}


class FakeAdapter(Device):
    """A WebGPU device as far as the choice looks: adapter info, is_gpu, can_block, a tune cache."""

    name = "native"
    is_gpu = True

    def __init__(self, kind: str, device: str = "FakeAdapter 1.0"):
        self.adapter_info = {"device": device, "backend_type": "Vulkan", "adapter_type": kind}
        self.limits = {}

    def subgroup_size(self) -> int:
        return 0


@pytest.fixture
def auto_mode(monkeypatch, tmp_path):
    """No GPUML_BACKEND, no set_device(); a private tune cache file; a calm machine. Restores the device after."""
    monkeypatch.delenv("GPUML_BACKEND", raising=False)
    monkeypatch.setenv("GPUML_TUNE_CACHE", str(tmp_path / "tune.json"))
    monkeypatch.setattr(auto, "load", lambda: 0.25)
    saved = backends._current, backends._chosen
    backends._chosen = False

    def use(device):
        backends._current = device
        return device

    yield use
    backends._current, backends._chosen = saved


class Clock:
    """auto's clock, advanced only by the fake workloads: timings exact whatever the machine's load."""

    def __init__(self, monkeypatch):
        self.now = 0.0
        monkeypatch.setattr(auto, "_clock", lambda: self.now)

    def workload(self, seconds: dict):
        """setup(device) whose run() takes ``seconds[device.name]``."""
        return lambda device: lambda: setattr(self, "now", self.now + seconds[device.name])


def no_measuring(*args):
    raise AssertionError("measured although it should not")


def test_software_adapter_with_stored_choice_runs_numpy_without_measuring(auto_mode, monkeypatch):
    fake = auto_mode(FakeAdapter("CPU"))
    assert fake.caps.software
    fake.tune_cache.put((auto.KEY, "train"), dict(CHOICE))
    fake.tune_cache.put((auto.KEY, "kmeans"), dict(CHOICE, choice="adapter", adapter_ms=3.0))
    monkeypatch.setattr(auto, "measure", no_measuring)
    assert device_for("train") is open_device("cpu")
    assert device_for("kmeans") is fake
    assert gpuml.get_device() is fake  # tensors' default device is still the adapter


def test_real_gpu_is_chosen_without_measuring(auto_mode, monkeypatch):
    fake = auto_mode(FakeAdapter("DiscreteGPU", "FakeGPU 9000"))
    fake.tune_cache.put((auto.KEY, "train"), dict(CHOICE))  # even a stored numpy choice does not apply to a GPU
    monkeypatch.setattr(auto, "measure", no_measuring)
    assert not fake.caps.software
    for family in auto.FAMILIES:
        assert device_for(family) is fake
    rows = backends.auto_choices(measure=True)
    assert {r["backend"] for r in rows} == {"native"} and "GPU" in rows[0]["why"]


def test_forced_setting_and_set_device_win(auto_mode, monkeypatch):
    fake = auto_mode(FakeAdapter("CPU"))
    fake.tune_cache.put((auto.KEY, "train"), dict(CHOICE, choice="adapter"))
    monkeypatch.setattr(auto, "measure", no_measuring)
    monkeypatch.setenv("GPUML_BACKEND", "cpu")
    assert device_for("train") is open_device("cpu")
    assert backends.auto_choices()[0]["why"] == "GPUML_BACKEND=cpu"
    monkeypatch.delenv("GPUML_BACKEND")
    assert device_for("train") is fake
    python = open_device("python")
    gpuml.set_device(python)
    assert device_for("train") is python and device_for("kmeans") is python
    monkeypatch.setenv("GPUML_BACKEND", "cpu")  # set_device() wins over the setting, as for get_device()
    assert device_for("train") is python and gpuml.get_device() is python
    assert "set_device" in backends.auto_choices()[0]["why"]


def test_unmeasured_family_is_measured_once_and_stored(auto_mode, monkeypatch):
    fake = auto_mode(FakeAdapter("CPU"))
    calls = []
    run = Clock(monkeypatch).workload({"native": 0.004, "cpu": 0.0005})  # the adapter 8x slower than numpy

    def setup(device):
        calls.append(device.name)
        return run(device)

    monkeypatch.setitem(auto._WORKLOADS, "augment", (setup, "sleep"))
    rows = {r["family"]: r for r in backends.auto_choices()}
    assert rows["augment"]["backend"] is None and "not measured yet" in rows["augment"]["why"]
    assert device_for("augment") is open_device("cpu")
    assert calls == ["native", "cpu"]
    result = fake.tune_cache.get((auto.KEY, "augment"))
    assert result["choice"] == "cpu" and result["cpu_ms"] < result["adapter_ms"]
    assert (result["cpu_ms"], result["adapter_ms"]) == (0.5, 4.0)
    assert device_for("augment") is open_device("cpu") and len(calls) == 2  # reused, not measured again
    stored = json.loads(Path(os.environ["GPUML_TUNE_CACHE"]).read_text())
    assert stored[fake.tune_cache.scope][json.dumps([auto.KEY, "augment"])]["choice"] == "cpu"


def test_close_timings_keep_the_adapter_and_busy_measurements_are_redone_when_calm(auto_mode, monkeypatch):
    fake = auto_mode(FakeAdapter("CPU"))
    clock = Clock(monkeypatch)
    monkeypatch.setitem(auto._WORKLOADS, "predict", (clock.workload({"native": 0.01, "cpu": 0.0092}), "x"))
    assert device_for("predict") is fake  # numpy 8% faster: not the 10% it takes
    # a choice stored by a process that ran while the machine was busy is measured again once it is calm
    fake.tune_cache.put((auto.KEY, "kmeans"), dict(CHOICE, load=9.0, cores=2))
    assert "busy machine" in auto.explain(fake.tune_cache.get((auto.KEY, "kmeans")))
    assert auto.stored(fake, "kmeans") is None
    monkeypatch.setattr(auto, "load", lambda: 9.0)
    assert auto.stored(fake, "kmeans")["choice"] == "cpu"  # still busy: the stored choice is used


def test_a_workload_numpy_cannot_run_keeps_the_adapter(auto_mode, monkeypatch):
    fake = auto_mode(FakeAdapter("CPU"))

    def setup(device):
        if device.name == "cpu":
            raise NotImplementedError("no twin")
        return lambda: None

    monkeypatch.setitem(auto._WORKLOADS, "explain", (setup, "x"))
    assert device_for("explain") is fake
    assert "no twin" in {r["family"]: r for r in backends.auto_choices()}["explain"]["why"]


SUBPROCESS = """
import json, sys, time
import gpuml
from gpuml import backends
from gpuml.backends import auto
from gpuml.backends.base import Device

class Fake(Device):
    name, is_gpu = "native", True
    adapter_info = {"device": "FakeAdapter 1.0", "backend_type": "Vulkan", "adapter_type": "CPU"}
    limits = {}

auto.load = lambda: 0.25
clock = [0.0]
auto._clock = lambda: clock[0]
backends._current = fake = Fake()
if sys.argv[1] == "measure":
    step = lambda d: clock.__setitem__(0, clock[0] + (0.003 if d is fake else 0.0003))
    auto._WORKLOADS["train"] = (lambda d: (lambda: step(d)), "steps")
else:
    def refuse(*a):
        raise AssertionError("measured again")
    auto.measure = refuse
print(backends.device_for("train").name)
"""


def test_the_choice_is_reused_by_later_processes(tmp_path):
    env = {**os.environ, "GPUML_BACKEND": "", "GPUML_TUNE_CACHE": str(tmp_path / "t.json"), "PYTHONPATH": str(ROOT)}

    def run(mode):
        out = subprocess.run([sys.executable, "-c", SUBPROCESS, mode], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out

    first = run("measure")
    assert first.stdout.strip() == "cpu" and "train runs on numpy" in first.stderr
    second = run("reuse")
    assert second.stdout.strip() == "cpu" and second.stderr == ""


def test_trainer_and_kmeans_take_the_family_device_and_move_a_default_built_model(
    auto_mode, monkeypatch, native_device
):
    auto_mode(native_device)
    cpu = open_device("cpu")
    monkeypatch.setattr(auto, "stored", lambda adapter, family: dict(CHOICE) if family != "predict" else None)
    monkeypatch.setattr(auto, "measure", no_measuring)
    if not native_device.caps.software:
        pytest.skip("a real GPU: auto never picks numpy")
    model = gpuml.nn.from_spec("conv 4 3 relu | flatten | fc 3", (1, 6, 6), seed=1)
    assert model.device is native_device
    before = model.state_dict()
    trainer = gpuml.Trainer(gpuml.TrainConfig(input_shape=(1, 6, 6), batch_size=8, epochs=1), model=model)
    assert trainer.device is cpu and model.device is cpu and trainer.model is model
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    x = np.random.default_rng(0).random((16, 1, 6, 6), dtype=np.float32)
    y = np.arange(16) % 3
    trainer.fit(x, y, progress=False, log=None)
    assert np.isfinite(trainer.history[-1]["train_loss"])
    # a device given, or a model built elsewhere on purpose, is kept
    assert gpuml.Trainer(gpuml.TrainConfig(), device=native_device).device is native_device
    on_native = gpuml.nn.from_spec("flatten | fc 3", (1, 6, 6), device=native_device)
    backends._current = cpu
    assert gpuml.Trainer(gpuml.TrainConfig(input_shape=(1, 6, 6)), model=on_native).device is native_device
    backends._current = native_device
    km = gpuml.cluster.KMeans(n_clusters=2, n_init=1, random_state=0)
    pts = np.r_[np.zeros((10, 2)), np.ones((10, 2)) * 5].astype(np.float32)
    labels = km.fit_predict(gpuml.tensor(pts, device=native_device))  # a tensor on the adapter, fit on numpy
    assert km._device() is cpu and len(set(labels[:10])) == 1 and labels[0] != labels[-1]
    assert gpuml.cluster.KMeans(n_clusters=2, device="native")._device() is native_device


def gpuml_info(*args, **env):
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "gpuml", "info", *args], env=full, capture_output=True, text=True)


def test_gpuml_info_says_per_workload_what_auto_chose_and_why(tmp_path, native_device):
    cache = tmp_path / "tune.json"
    scope = f"{native_device.adapter} | gpuml {gpuml.__version__}"
    entries = {
        json.dumps([auto.KEY, "train"]): dict(CHOICE, adapter_ms=56.5, cpu_ms=22.25),
        json.dumps([auto.KEY, "kmeans"]): dict(CHOICE, choice="adapter", adapter_ms=3.0, cpu_ms=4.0),
    }
    cache.write_text(json.dumps({scope: entries}))
    out = gpuml_info(GPUML_BACKEND="", GPUML_TUNE_CACHE=str(cache))
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.split("workloads")[1].splitlines()[1:]}
    assert set(rows) == set(auto.FAMILIES)
    if native_device.caps.software:
        assert rows["train"].split()[1] == "cpu"
        assert "adapter 56.50 ms, numpy 22.25 ms per 4 steps: numpy faster" in rows["train"]
        assert rows["kmeans"].split()[1] == "native" and "adapter kept" in rows["kmeans"]
        assert rows["predict"].split()[1] == "-" and "not measured yet" in rows["predict"]
    else:
        assert all(r.split()[1] == "native" and "GPU" in r for r in rows.values())
    js = json.loads(gpuml_info("--json", "--backend", "python", GPUML_BACKEND="", GPUML_TUNE_CACHE=str(cache)).stdout)
    assert [r["family"] for r in js["auto"]] == list(auto.FAMILIES)
    assert {r["why"] for r in js["auto"]} == {"chosen with set_device() or --backend"}
