"""The variant machinery (gpuml.backends.variants): static order, forcing, measured choice, the on-disk cache."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import gpuml
from gpuml.backends.variants import TABLES, DeviceCaps, TuneCache, Variant, VariantTable, describe

CAPS = DeviceCaps(backend="fake", software=True, subgroup_size=8, f16=False, timestamps=False)


class FakeDevice:
    """What VariantTable.choose uses of a device: caps, adapter, tune_cache, sync."""

    def __init__(self, cache_path):
        self.caps = CAPS
        self.adapter = "fake adapter [test]"
        self.tune_cache = TuneCache(self.adapter)
        self.tune_cache.path = cache_path

    def sync(self):
        pass

    def can_block(self):
        return True


def _table(family="test-family", seconds=None):
    seconds = seconds or {}
    variants = [
        Variant("slow", "t/slow.wgsl", {"A": 1}),
        Variant("fast", "t/fast.wgsl", {"A": 2}),
        Variant("never", "t/never.wgsl", applies=lambda caps, g: g > 100),
    ]
    table = VariantTable(family, variants, shape_class=lambda g: (g,), force_setting="GPUML_GEMM")
    TABLES.pop(family)  # keep the test table out of gpuml info --kernels
    calls = []

    def run(v):
        calls.append(v.name)
        time.sleep(seconds.get(v.name, 0.0))

    return table, run, calls


def test_static_order_without_tuning(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUML_TUNE", "0")
    monkeypatch.delenv("GPUML_GEMM", raising=False)
    table, run, calls = _table()
    dev = FakeDevice(tmp_path / "tune.json")
    assert table.choose(dev, 5, run).name == "slow"
    assert calls == []  # nothing timed
    assert [v.name for v in table.applicable(CAPS, 5)] == ["slow", "fast"]
    assert [v.name for v in table.applicable(CAPS, 500)] == ["slow", "fast", "never"]


def test_measured_choice_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUML_TUNE", "1")
    monkeypatch.setenv("GPUML_TUNE_AFTER", "1")  # tune on the first use
    monkeypatch.delenv("GPUML_GEMM", raising=False)
    table, run, calls = _table(seconds={"slow": 0.02, "fast": 0.0})
    path = tmp_path / "tune.json"
    dev = FakeDevice(path)
    assert table.choose(dev, 5, run).name == "fast"
    assert set(calls) == {"slow", "fast"}  # "never" does not apply to 5 and is not timed
    stored = json.loads(path.read_text())
    assert stored == {"fake adapter [test] | gpuml 0.1.0": {'["test-family", 5]': "fast"}}
    # a new process (fresh cache object) reads the choice instead of timing again
    calls.clear()
    dev2 = FakeDevice(path)
    assert table.choose(dev2, 5, run).name == "fast"
    assert calls == []
    assert "chosen for (5,): fast" in describe_fake(dev2)


def describe_fake(dev):
    return "\n".join(f"chosen for {k[1:]}: {v}" for k, v in dev.tune_cache.choices.items())


def test_default_keeps_its_place_within_the_margin(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUML_TUNE", "1")
    monkeypatch.setenv("GPUML_TUNE_AFTER", "1")  # tune on the first use
    table, run, _ = _table(seconds={"slow": 0.010, "fast": 0.0095})  # 5% faster: noise, not a win
    assert table.choose(FakeDevice(tmp_path / "t.json"), 7, run).name == "slow"


def test_forced_variant_and_bad_name(tmp_path, monkeypatch):
    table, run, _ = _table()
    monkeypatch.setenv("GPUML_GEMM", "fast")
    assert table.choose(FakeDevice(tmp_path / "t.json"), 5, run).name == "fast"
    monkeypatch.setenv("GPUML_GEMM", "nope")
    with pytest.raises(ValueError, match="GPUML_GEMM='nope': choose one of slow, fast, never"):
        table.choose(FakeDevice(tmp_path / "t.json"), 5, run)
    with pytest.raises(ValueError, match="unknown variant 'x'"):
        table["x"]


def test_matmul_tunes_on_first_use(native_device, tmp_path, monkeypatch):
    """With tuning on, the first matmul of a shape class times the GEMM variants and records the winner for this
    adapter; the result is right whichever wins."""
    monkeypatch.setenv("GPUML_TUNE", "1")
    monkeypatch.setenv("GPUML_TUNE_AFTER", "1")  # tune on the first use
    monkeypatch.delenv("GPUML_GEMM", raising=False)
    monkeypatch.setattr(native_device.tune_cache, "path", tmp_path / "tune.json")
    native_device.tune_cache.clear()
    rng = np.random.default_rng(3)
    a = rng.standard_normal((96, 40)).astype(np.float32)
    b = rng.standard_normal((40, 72)).astype(np.float32)
    got = gpuml.ops.matmul(gpuml.tensor(a, device=native_device), b).numpy()
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    key = ("gemm", 128, 128, 64, False, False)
    assert native_device.tune_cache.choices[key] in ("subgroup", "register", "tiled")
    stored = json.loads((tmp_path / "tune.json").read_text())
    assert any(native_device.adapter in scope for scope in stored)
    text = describe(native_device)
    assert "gemm" in text and "chosen for (128, 128, 64, False, False)" in text
    native_device.tune_cache.clear()


def test_no_timing_where_the_device_cannot_wait(tmp_path, monkeypatch):
    """A browser page without JSPI cannot wait for the GPU: the static order applies, nothing is timed."""
    monkeypatch.setenv("GPUML_TUNE", "1")
    monkeypatch.setenv("GPUML_TUNE_AFTER", "1")  # tune on the first use
    monkeypatch.delenv("GPUML_GEMM", raising=False)
    table, run, calls = _table(seconds={"slow": 0.02})
    dev = FakeDevice(tmp_path / "t.json")
    dev.can_block = lambda: False
    assert table.choose(dev, 5, run).name == "slow"
    assert calls == []
