"""Cold start (issue 20.1): ``gpuml bench cold``'s JSON, the warm-up thread, compiling outside the device lock,
tuning deferred to a shape class's second use, and wgpu-py's C types parsed in one batch."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import gpuml
from gpuml import bench_cold
from gpuml.backends.variants import DeviceCaps, TuneCache, Variant, VariantTable


def test_bench_cold_json_and_warmup_give_the_same_result(tmp_path):
    """One tiny case in fresh processes, plain and with device.warm: the JSON has every field, the times are
    positive, and the first result is bit-identical with and without the warm-up."""
    path = tmp_path / "cold.json"
    assert bench_cold.main(["matmul"], repeat=1, json_path=str(path), warmup=0.0, tunes=("cold",)) == 0
    data = json.loads(path.read_text())
    assert set(data) == {"environment", "targets_s", "summary", "runs"}
    assert "llvmpipe" in data["environment"]["adapter"] or data["environment"]["adapter"]
    assert data["targets_s"]["predict"] == ["after_device_s", 0.15]
    runs = data["runs"]
    assert [(r["case"], r["tune"], r["mode"]) for r in runs] == [
        ("matmul", "cold", "plain"),
        ("matmul", "cold", "warm-up"),
    ]
    for r in runs:
        for key in ("import_s", "device_s", "prepare_s", "first_s", "second_s", "warm_s", "first_cpu_s"):
            assert r[key] > 0, key
        assert r["adapter"] == data["environment"]["adapter"]
    plain, warm = runs
    assert plain["pipelines_first"] >= 1 and plain["compile_first_s"] > 0
    assert warm["warmup_done"] is not None and warm["warmup_s"] > 0
    assert plain["digest"] == warm["digest"]
    rows = {row["mode"]: row for row in data["summary"]}
    assert set(rows) == {"plain", "warm-up"} and rows["plain"]["target_s"] is None and rows["plain"]["n"] == 1


def test_bench_cold_rejects_an_unknown_case_and_tree(tmp_path):
    with pytest.raises(ValueError, match="unknown cold-start case 'nope'"):
        bench_cold._prepare("nope", np, gpuml)
    with pytest.raises(ValueError, match="not a gpuml source tree"):
        bench_cold.main(["matmul"], compare=str(tmp_path))


def test_warm_compiles_what_the_call_then_reuses(native_device):
    """device.warm runs work on a thread; the call afterwards compiles nothing new and returns the same values
    as on a device path that never warmed (the numpy reference)."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((37, 29)).astype(np.float32)
    b = rng.standard_normal((29, 41)).astype(np.float32)
    x = gpuml.tensor(a, device=native_device)

    def example():
        gpuml.ops.matmul(gpuml.tensor(np.zeros_like(a), device=native_device), b).numpy()

    warm = native_device.warm(example)
    assert warm.wait(60) and warm.done() and warm.seconds > 0
    before = native_device.stats["pipelines_created"]
    got = gpuml.ops.matmul(x, b).numpy()
    assert native_device.stats["pipelines_created"] == before
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


def test_warm_reraises_the_error_of_its_work(native_device):
    def broken():
        raise ValueError("bad example")

    with pytest.raises(ValueError, match="bad example"):
        native_device.warm(broken).wait(10)


def test_concurrent_first_uses_compile_a_kernel_once(native_device):
    """Threads asking for one new kernel at once share a single compile (the others wait for it)."""
    variant = {"WG": 96}  # a workgroup size no op uses: a kernel not compiled yet
    key = ("elementwise/fill.wgsl", tuple(sorted(variant.items())))
    native_device._kernels.pop(key, None)
    before = native_device.stats["pipelines_created"]
    got, start = [], threading.Barrier(4)

    def ask():
        start.wait()
        got.append(native_device.kernel("elementwise/fill.wgsl", **variant))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 4 and all(k is got[0] for k in got)
    assert native_device.stats["pipelines_created"] == before + 1


class _FakeDevice:
    caps = DeviceCaps(backend="fake", software=True, subgroup_size=8, f16=False, timestamps=False)
    adapter = "fake adapter [cold]"

    def __init__(self, path):
        self.tune_cache = TuneCache(self.adapter)
        self.tune_cache.path = path

    def sync(self):
        pass

    def can_block(self):
        return True


def _two_variants():
    from gpuml.backends.variants import TABLES

    table = VariantTable("cold-test", [Variant("a", "t/a.wgsl"), Variant("b", "t/b.wgsl")], lambda g: (g,))
    TABLES.pop("cold-test")
    return table


def test_tuning_waits_for_the_second_use(tmp_path, monkeypatch):
    """GPUML_TUNE_AFTER=2 (the default): a shape class's first use runs the static default untimed, the second
    times the variants; uses on a warm-up thread do not count."""
    monkeypatch.setenv("GPUML_TUNE", "1")
    monkeypatch.delenv("GPUML_TUNE_AFTER", raising=False)
    table, dev, calls = _two_variants(), _FakeDevice(tmp_path / "t.json"), []
    run = calls.append
    from gpuml.backends.warmup import Warmup

    chosen = []
    Warmup([lambda: chosen.append(table.choose(dev, 3, run).name)]).wait(10)
    assert chosen == ["a"] and calls == []
    assert table.choose(dev, 3, run).name == "a" and calls == []
    table.choose(dev, 3, run)
    assert {v.name for v in calls} == {"a", "b"}  # timed at the second use
    assert ("cold-test", 3) in dev.tune_cache.choices
    monkeypatch.setenv("GPUML_TUNE_AFTER", "soon")
    with pytest.raises(ValueError, match="GPUML_TUNE_AFTER='soon'"):
        table.choose(dev, 4, run)


def test_cffi_types_primed_in_one_batch_match_cffi_own_parse():
    """The batch parse gives each type string exactly the ctype cffi's own (lazy) parse gives."""
    pytest.importorskip("wgpu")
    from cffi import FFI

    from gpuml.backends.cffi_types import WGPU_TYPES, prime

    header = "typedef struct Foo { int a; float b; } Foo; typedef void (*Cb)(Foo *, int);"
    fresh, lazy = FFI(), FFI()
    fresh.cdef(header)
    lazy.cdef(header)
    types = ("Foo *", "Foo[]", "int *", "void(Foo *, int)", "Cb")
    assert prime(fresh, types) == len(types)
    assert prime(fresh, types) == 0  # already there
    for cdecl in types:  # (function types are what ffi.callback parses: as function pointers)
        ours, theirs = (f._typeof(cdecl, consider_function_as_funcptr=True) for f in (fresh, lazy))
        assert ours.cname == theirs.cname and fresh._parsed_types[cdecl][1] == lazy._parsed_types[cdecl][1]
    assert fresh.sizeof(fresh.new("Foo[]", 3)) == 3 * lazy.sizeof("Foo")
    # a string the header does not declare: nothing changes, cffi parses lazily (and raises) as before
    broken = FFI()
    broken.cdef(header)
    assert prime(broken, ("Foo *", "Nope *")) == 0 and "Foo *" not in broken._parsed_types
    from wgpu.backends.wgpu_native._ffi import ffi

    assert all(t in ffi._parsed_types for t in WGPU_TYPES)  # primed when the native backend imported wgpu


def test_two_pass_sum_reuses_its_first_pass_kernel(native_device):
    """A sum with few outputs over a long axis runs reduce_cols twice (chunked, then the partials) with ONE
    pipeline (its combine ignores indices); values as float64 numpy, argmax still exact."""
    x = np.random.default_rng(9).standard_normal((3, 5000, 2)).astype(np.float32)
    t = gpuml.tensor(x, device=native_device)
    got = gpuml.ops.sum(t, axis=1).numpy()
    np.testing.assert_allclose(got, x.astype(np.float64).sum(axis=1), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(gpuml.ops.mean(t, axis=1).numpy(), x.astype(np.float64).mean(axis=1), atol=1e-6)
    sums = [k for k in native_device._kernels if k[0] == "reduce/reduce_cols.wgsl" and "a.v + b.v" in str(k[1])]
    assert len(sums) == 1 and ("INDEXED", False) in sums[0][1]
    np.testing.assert_array_equal(gpuml.ops.argmax(t, axis=1).numpy(), x.argmax(axis=1))
