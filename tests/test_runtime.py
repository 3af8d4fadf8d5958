"""The runtime under the ops: shader composition, compile errors, device selection, recording and submission,
the buffer pool, bad input. Native tests run on lavapipe where there is no GPU."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gpuml
from gpuml import wgsl
from gpuml.ops.linalg import GEMM_KERNELS
from gpuml.testing import assert_close

# --- shader composition ------------------------------------------------------------------------------


@pytest.fixture
def shader_dir(tmp_path, monkeypatch):
    """A private shaders/ folder for composition tests."""
    monkeypatch.setattr(wgsl, "shader_root", lambda: tmp_path)
    wgsl.read_shader.cache_clear()
    wgsl._compose_cached.cache_clear()
    yield tmp_path
    wgsl.read_shader.cache_clear()
    wgsl._compose_cached.cache_clear()


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_unknown_placeholder_is_an_error(shader_dir):
    write(shader_dir, "k.wgsl", "const A = {{WG}};\nconst B = {{TYPO}};\n")
    with pytest.raises(gpuml.ShaderTemplateError, match=r"unknown template name 'TYPO' at shaders/k.wgsl:2"):
        wgsl.compose("k.wgsl", WG=64)


def test_unused_template_value_is_an_error(shader_dir):
    write(shader_dir, "k.wgsl", "const A = {{WG}};\n")
    with pytest.raises(gpuml.ShaderTemplateError, match="unused template names"):
        wgsl.compose("k.wgsl", WG=64, WGG=3)


def test_include_once_and_cycles(shader_dir):
    write(shader_dir, "common/a.wgsl", '#include "common/b.wgsl"\nfn a() {}\n')
    write(shader_dir, "common/b.wgsl", "fn b() {}\n")
    write(shader_dir, "k.wgsl", '#include "common/a.wgsl"\n#include "common/b.wgsl"\nfn main() {}\n')
    composed = wgsl.compose("k.wgsl")
    assert composed.source.count("fn b()") == 1
    assert composed.origin(1) == ("common/b.wgsl", 1)
    assert composed.origin(3) == ("k.wgsl", 3)
    write(shader_dir, "loop.wgsl", '#include "loop2.wgsl"\n')
    write(shader_dir, "loop2.wgsl", '#include "loop.wgsl"\n')
    with pytest.raises(gpuml.ShaderTemplateError, match="cycle"):
        wgsl.compose("loop.wgsl")
    with pytest.raises(gpuml.ShaderTemplateError, match=r"no shader file shaders/missing\.wgsl"):
        wgsl.compose("missing.wgsl")


def test_reflection_and_uniform_packing(shader_dir):
    write(
        shader_dir,
        "k.wgsl",
        """
        struct Params { n: u32, alpha: f32, dims: array<vec4<u32>, 2>, }
        @group(0) @binding(0) var<uniform> p: Params;
        @group(0) @binding(1) var<storage, read> x: array<f32>;
        @group(0) @binding(2) var<storage, read_write> y: array<f32>;
        """,
    )
    s = wgsl.compose("k.wgsl")
    assert [(b.index, b.name, b.kind) for b in s.bindings] == [
        (0, "p", "uniform"),
        (1, "x", "read"),
        (2, "y", "read_write"),
    ]
    assert [(f[0], f[2]) for f in s.uniform.fields] == [("n", 0), ("alpha", 4), ("dims", 16)]
    assert s.uniform.size == 48
    packed = s.uniform.pack({"n": 7, "alpha": 0.5, "dims": [1, 2, 3]})
    assert np.frombuffer(packed[:4], np.uint32)[0] == 7 and np.frombuffer(packed[4:8], np.float32)[0] == 0.5
    with pytest.raises(TypeError, match="needs field 'alpha'"):
        s.uniform.pack({"n": 1, "dims": []})
    with pytest.raises(TypeError, match="no field"):
        s.uniform.pack({"n": 1, "alpha": 0, "dims": [], "bogus": 1})
    with pytest.raises(ValueError, match="cannot hold"):
        s.uniform.pack({"n": -1, "alpha": 0, "dims": []})


def test_compile_error_names_file_and_line(shader_dir, native_device):
    write(shader_dir, "common/helpers.wgsl", "fn helper() -> f32 {\n    return 1.0;\n}\n")
    write(
        shader_dir,
        "broken.wgsl",
        '// a kernel with a type error on line 6\n#include "common/helpers.wgsl"\n'
        "@group(0) @binding(1) var<storage, read_write> y: array<f32>;\n"
        "@compute @workgroup_size(64)\nfn main(@builtin(global_invocation_id) g: vec3<u32>) {\n"
        "    y[g.x] = helper() + 1u;\n}\n",
    )
    with pytest.raises(gpuml.ShaderCompileError) as info:
        native_device.kernel("broken.wgsl")
    assert info.value.file == "broken.wgsl" and info.value.line == 6, str(info.value)
    assert "shaders/broken.wgsl:6" in str(info.value)


# --- devices and selection -------------------------------------------------------------------------


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "GPUML_EXPECT_GPU": "0", **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)


def test_backend_override_and_cpu_fallback_notice():
    code = "import gpuml; print(gpuml.get_device().name)"
    forced = run_python(code, GPUML_BACKEND="cpu")
    assert forced.stdout.strip() == "cpu" and forced.stderr.count("gpuml:") == 0
    # No adapter matches -> native is unavailable -> one clear notice, then the numpy backend.
    fallback = run_python(code, GPUML_ADAPTER="no-such-adapter", GPUML_BACKEND="")
    assert fallback.stdout.strip() == "cpu", fallback.stderr
    assert fallback.stderr.count("gpuml:") == 1 and "numpy CPU backend" in fallback.stderr
    strict = run_python(code, GPUML_ADAPTER="no-such-adapter", GPUML_BACKEND="", GPUML_EXPECT_GPU="1")
    assert strict.returncode != 0 and "GPUML_EXPECT_GPU=1" in strict.stderr
    bad = run_python(code, GPUML_BACKEND="cuda")
    assert bad.returncode != 0 and "unknown backend 'cuda'" in bad.stderr


def test_fallback_without_numpy_is_the_python_backend():
    """No adapter and no numpy (Pyodide core offline): the pure-Python backend, with one notice saying so; a
    LeNet-5 forward pass and Grad-CAM run there and agree with the numpy backend."""
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import gpuml\n"
        "from gpuml.nn import from_spec\n"
        "from gpuml.explain import grad_cam_device\n"
        "d = gpuml.get_device(); print(d.name)\n"
        "m = from_spec('lenet5', (1, 28, 28), d, 0)\n"
        "x = gpuml.tensor([(i % 29) / 29 for i in range(784)], device=d).reshape(1, 1, 28, 28)\n"
        "print(m.forward(x).tolist()[0]); print(grad_cam_device(m, x)['cam'].tolist())"
    )
    out = run_python(code, GPUML_ADAPTER="no-such-adapter", GPUML_BACKEND="")
    assert out.returncode == 0, out.stderr
    name, logits, cam = out.stdout.strip().splitlines()
    assert name == "python"
    assert out.stderr.count("gpuml:") == 1 and "pure-Python backend" in out.stderr
    from gpuml.explain import grad_cam_device
    from gpuml.nn import from_spec

    cpu = gpuml.get_device("cpu")
    m = from_spec("lenet5", (1, 28, 28), cpu, 0)
    x = gpuml.tensor(np.array([(i % 29) / 29 for i in range(784)], np.float32).reshape(1, 1, 28, 28), device=cpu)
    assert_close(np.array(json.loads(logits), np.float32), m.forward(x).numpy()[0].astype(np.float64), "matmul")
    cam_ref = grad_cam_device(m, x)["cam"].numpy().astype(np.float64)
    assert_close(np.array(json.loads(cam), np.float32), cam_ref, "matmul")


def test_native_device_reports_adapter(native_device):
    info = native_device.summary()
    assert info["backend"] == "native" and info["adapter"]
    assert info["limits"]["max_storage_buffer_binding_size"] >= 128 << 20
    if "llvmpipe" in info["adapter"]:  # lavapipe: what PLATFORM.md promises
        assert {"subgroup", "timestamp-query", "shader-f16"} <= set(info["features"])


# --- recording, submission, readback ---------------------------------------------------------------


def test_op_chain_is_one_submit_and_one_readback(native_device):
    dev = native_device
    gpuml.set_device(dev)
    x = gpuml.tensor(np.linspace(-1, 1, 1000, dtype=np.float32))
    dev.flush()
    before = dict(dev.stats)
    y = gpuml.ops.sum(gpuml.ops.exp(gpuml.ops.relu(x) * 2.0 + x))
    assert dev.stats["submits"] == before["submits"], "ops must not submit"
    value = float(y.numpy())
    assert dev.stats["submits"] == before["submits"] + 1
    assert dev.stats["readbacks"] == before["readbacks"] + 1
    assert dev.stats["dispatches"] - before["dispatches"] == 5
    x64 = np.linspace(-1, 1, 1000)
    assert abs(value - np.exp(np.maximum(x64, 0) * 2 + x64).sum()) < 1e-4 * value


def run_async(coroutine_fn):
    """asyncio.run in a fresh thread: Playwright's sync API (browser tests) keeps a loop in the main thread."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_fn())).result()


def test_async_read(native_device):
    t = gpuml.tensor(np.arange(5, dtype=np.float32), device=native_device)
    assert run_async(t.numpy_async).tolist() == [0, 1, 2, 3, 4]
    assert run_async(t.tolist_async) == [0, 1, 2, 3, 4]


def test_upload_into_buffer_in_use_keeps_program_order(native_device):
    """A host write into a buffer that recorded commands still read must not overtake them."""
    dev = native_device
    a = gpuml.tensor(np.ones(64, np.float32), device=dev)
    b = gpuml.ops.scale(a, 3.0)  # recorded, not yet run
    dev.write(a._storage.buffer, np.full(64, 5, np.float32).tobytes())
    assert b.numpy().tolist() == [3.0] * 64
    assert a.numpy().tolist() == [5.0] * 64


def test_freed_tensor_cannot_be_read(any_device):
    t = gpuml.tensor(np.arange(8, dtype=np.float32))
    view = t.reshape(2, 4)
    t.free()
    # the pooled buffer is handed to someone else; reads must raise, never return their data
    other = gpuml.tensor(np.full(8, 7, np.float32))
    with pytest.raises(RuntimeError, match="freed"):
        t.numpy()
    with pytest.raises(RuntimeError, match="freed"):
        view.numpy()
    with pytest.raises(RuntimeError, match="freed"):
        gpuml.ops.relu(view)
    assert other.numpy().tolist() == [7.0] * 8


def test_timer_uses_timestamp_queries(native_device):
    a = gpuml.tensor(np.random.default_rng(0).standard_normal((256, 256), dtype=np.float32), device=native_device)
    with native_device.timer() as t:
        gpuml.ops.matmul(a, a)
    assert t.wall_seconds > 0
    if "timestamp-query" in native_device.features:
        assert t.gpu_seconds is not None and 0 < t.gpu_seconds <= t.wall_seconds


# --- GEMM variants ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(GEMM_KERNELS))
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 7), (33, 65, 17), (100, 31, 257), (64, 128, 64)])
def test_every_gemm_variant(native_device, variant, shape):
    if variant == "subgroup" and "subgroup" not in native_device.features:
        pytest.skip("adapter has no subgroup feature")
    m, k, n = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, m, k)).astype(np.float32)
    b = rng.standard_normal((2, k, n)).astype(np.float32)
    out = gpuml.ops.matmul(gpuml.tensor(a, device=native_device), b, kernel=variant)
    assert_close(out.numpy(), a.astype(np.float64) @ b, "matmul", f"{variant} {shape}")


@pytest.mark.parametrize("variant", ["subgroup", "tiled"])
@pytest.mark.parametrize("n", [12, 10, 70])
def test_gemm_transposed_b_and_epilogue(native_device, variant, n):
    """gemm(trans_b=nb, bias=, relu=) on the kernels that have them: B read as stored transposed (nb x k), batched
    with strides, the bias and ReLU applied before the store; columns past nb are padding and not compared."""
    from gpuml.ops.linalg import gemm
    from gpuml.tensor import Tensor

    if variant == "subgroup" and "subgroup" not in native_device.features:
        pytest.skip("adapter has no subgroup feature")
    rng = np.random.default_rng(5)
    batch, m, k, n4 = 3, 37, 20, -(-n // 4) * 4
    a = rng.standard_normal((batch, m, k)).astype(np.float32)
    bt = rng.standard_normal((batch, n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    for relu, with_bias in ((False, False), (False, True), (True, True)):
        c = Tensor.empty((batch, m, n4), "float32", native_device)
        gemm(
            gpuml.tensor(a, device=native_device),
            gpuml.tensor(bt, device=native_device),
            c,
            m,
            n4,
            k,
            batch=batch,
            stride_b=n * k,
            trans_b=n,
            bias=gpuml.tensor(bias, device=native_device) if with_bias else None,
            relu=relu,
            kernel=variant,
        )
        ref = a.astype(np.float64) @ bt.transpose(0, 2, 1) + (bias if with_bias else 0.0)
        if relu:
            ref = np.maximum(ref, 0)
        assert_close(c.numpy()[..., :n], ref, "matmul", f"relu={relu} bias={with_bias}")
    with pytest.raises(ValueError, match="options of the subgroup and tiled kernels"):
        gemm(gpuml.tensor(a[0], device=native_device), gpuml.tensor(bt[0], device=native_device), c, m, n4, k,
             trans_b=n, kernel="register")  # fmt: skip


@pytest.mark.parametrize("variant", list(GEMM_KERNELS))
def test_linear_on_every_gemm_kernel(native_device, variant, monkeypatch):
    """ops.linear past the small-batch kernel: one fused GEMM (subgroup, tiled) or transpose + GEMM + bias/ReLU
    (register) — the same values on each."""
    if variant == "subgroup" and "subgroup" not in native_device.features:
        pytest.skip("adapter has no subgroup feature")
    monkeypatch.setenv("GPUML_GEMM", variant)
    rng = np.random.default_rng(6)
    for m, k, n, relu in ((64, 400, 120, True), (37, 84, 10, False)):
        x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((m, k), (n, k), (n,)))
        got = gpuml.ops.linear(gpuml.tensor(x, device=native_device), w, b, relu=relu).numpy()
        ref = x.astype(np.float64) @ w.T + b
        assert_close(got, np.maximum(ref, 0) if relu else ref, "matmul", f"{variant} {m}x{k}x{n}")


def test_gemm_selection_by_adapter(native_device, monkeypatch):
    """The gemm variant table's static order: subgroup on CPU adapters with subgroups, tiled on GPUs, register
    without subgroups; GPUML_GEMM forces one and names the choices when wrong."""
    import dataclasses

    from gpuml.ops.linalg import GEMM, gemm_kernel_for

    caps = native_device.caps
    if caps.software and caps.subgroup_size:
        assert gemm_kernel_for(native_device) == "subgroup"
    assert GEMM.applicable(dataclasses.replace(caps, software=False), None)[0].name == "tiled"
    assert GEMM.applicable(dataclasses.replace(caps, software=True, subgroup_size=0), None)[0].name == "register"
    monkeypatch.setenv("GPUML_GEMM", "register")
    assert gemm_kernel_for(native_device) == "register"
    monkeypatch.setenv("GPUML_GEMM", "fast")
    with pytest.raises(ValueError, match="GPUML_GEMM='fast'"):
        gemm_kernel_for(native_device)


# --- bad input ----------------------------------------------------------------------------------------


def test_bad_input_names_the_problem(any_device):
    a = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"shapes \(3, 4\) and \(5,\) cannot be broadcast"):
        gpuml.ops.add(a, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"shapes \(3, 4\) and \(5, 2\) do not align"):
        gpuml.ops.matmul(a, np.zeros((5, 2), np.float32))
    with pytest.raises(TypeError, match="exp needs float32 tensors, got int32"):
        gpuml.ops.exp(np.arange(3, dtype=np.int32))
    with pytest.raises(TypeError, match="complex128"):
        gpuml.tensor(np.zeros(3, np.complex128))
    with pytest.raises(ValueError, match="do not fit int32"):
        gpuml.tensor(np.array([2**40]))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        gpuml.ops.sum(a, axis=2)
    with pytest.raises(ValueError, match="not a permutation"):
        gpuml.ops.transpose(a, (0, 0))
    with pytest.raises(ValueError, match="cannot reshape"):
        gpuml.tensor(a).reshape(5, -1)


def test_tensor_over_binding_limit_is_refused(native_device, monkeypatch):
    monkeypatch.setitem(native_device.limits, "max_storage_buffer_binding_size", 1 << 20)
    with pytest.raises(ValueError, match=r"exceeds this adapter's max_storage_buffer_binding_size \(1,048,576"):
        gpuml.tensor(np.zeros(300_000, np.float32), device=native_device)


def test_kernel_bindings_are_checked_by_name(native_device):
    k = native_device.kernel("elementwise/unary.wgsl", OP="x", WG=64)
    t = gpuml.tensor(np.zeros(4, np.float32), device=native_device)
    with pytest.raises(TypeError, match=r"missing \['out'\], unknown \['y'\]"):
        k(1, {"n4": 1, "alpha": 0, "beta": 0}, x_in=t, y=t)


# --- no allocation on hot paths -------------------------------------------------------------------------


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_ten_thousand_op_chains_reuse_memory(native_device, capsys):
    dev = native_device
    gpuml.set_device(dev)
    rng = np.random.default_rng(2)
    x = gpuml.tensor(rng.standard_normal((64, 33), dtype=np.float32))
    w = gpuml.tensor(rng.standard_normal((33, 17), dtype=np.float32))

    def chain():
        h = gpuml.ops.relu(gpuml.ops.matmul(x, w))
        return gpuml.ops.sum(h * 0.5 + h, axis=1)

    def run(n):
        out = None
        for i in range(n):
            out = chain()
            if i % 1000 == 999:
                out.numpy()
        return out.numpy()

    run(1000)  # warm up: pipelines, bind groups, pool
    gc.collect()
    created, groups, rss0 = dev.stats["buffers_created"], dev.stats["bind_groups_created"], rss_mib()
    result = run(10_000)
    gc.collect()
    rss1 = rss_mib()
    new_buffers = dev.stats["buffers_created"] - created
    new_groups = dev.stats["bind_groups_created"] - groups
    with capsys.disabled():
        print(
            f"\n10,000 chains: {new_buffers} buffers and {new_groups} bind groups created, "
            f"RSS {rss0:.1f} -> {rss1:.1f} MiB, pool {dev.memory_stats()['pooled_buffers']} buffers"
        )
    assert new_buffers == 0
    # Bind groups are cached per (kernel, buffers); when the pool hands buffers out in a new order (a tensor
    # kept alive across iterations), a few new combinations appear once, then the cycle repeats.
    assert new_groups <= 8
    assert rss1 - rss0 < 25, f"process memory grew {rss1 - rss0:.1f} MiB over 10,000 op chains"
    expected = np.maximum(x.numpy().astype(np.float64) @ w.numpy(), 0).sum(axis=1) * 1.5
    assert_close(result, expected, "matmul")


def test_numpy_backend_keeps_freed_memory_warm():
    """The cpu backend asks glibc to reuse freed memory (gpuml.backends.cpu.keep_freed_memory): after warm-up a
    LeNet-5 training step at batch 64 page-faults almost nothing (glibc's defaults: ~740 faults per step, 1.5-2.5
    ms of an 8 ms step); GPUML_CPU_MALLOPT=0 turns it off."""
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc mallopt is Linux-only")
    code = (
        "import resource, numpy as np, gpuml\n"
        "from gpuml.train import TrainConfig, Trainer\n"
        "dev = gpuml.get_device()\n"
        "t = Trainer(TrainConfig(model='lenet5', optimizer='adam', batch_size=64, seed=0), dev)\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.random((64, 1, 28, 28), dtype=np.float32); y = rng.integers(0, 10, 64).astype(np.int32)\n"
        "for _ in range(10): t.train_step(x, y)\n"
        "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(20): loss, _ = t.train_step(x, y)\n"
        "float(loss.numpy())\n"
        "print(dev.malloc_tuned, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 20)\n"
    )
    tuned = run_python(code, GPUML_BACKEND="cpu", OPENBLAS_NUM_THREADS="1")
    assert tuned.returncode == 0, tuned.stderr
    applied, faults = tuned.stdout.split()
    untuned = run_python(code, GPUML_BACKEND="cpu", OPENBLAS_NUM_THREADS="1", GPUML_CPU_MALLOPT="0")
    assert untuned.returncode == 0, untuned.stderr
    off, faults_off = untuned.stdout.split()
    print(f"page faults per step: {float(faults):.1f} tuned, {float(faults_off):.1f} with glibc's defaults")
    assert applied == "True" and off == "False"
    assert float(faults) < 50 < float(faults_off)


# --- settings and the command line -------------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_settings_table_is_config_settings():
    """README's Settings table lists exactly config.SETTINGS, in order, with the same defaults."""
    from gpuml.config import SETTINGS

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        rows = re.findall(r"^\| `(GPUML_\w+)` \| (—|`[^`]*`) \|", f.read(), re.M)
    assert [name for name, _ in rows] == list(SETTINGS)
    assert {n: "" if d == "—" else d.strip("`") for n, d in rows} == {n: v[0] for n, v in SETTINGS.items()}


def test_settings_are_read_only_through_config():
    """No module reads a GPUML_* variable from the environment itself, and every name it mentions is known."""
    from gpuml.config import SETTINGS

    direct, unknown = [], set()
    package = os.path.join(ROOT, "gpuml")
    for folder, _, files in os.walk(package):
        for name in files:
            path = os.path.join(folder, name)
            if not name.endswith(".py") or path == os.path.join(package, "config.py"):
                continue
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if re.search(r"(environ|getenv)\b.*GPUML_", line):
                        direct.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
                    unknown |= set(re.findall(r"GPUML_[A-Z][A-Z0-9_]*", line)) - set(SETTINGS)
    assert not direct, "read GPUML_* through gpuml.config.setting()/flag():\n" + "\n".join(direct)
    assert not unknown, f"settings missing from gpuml.config.SETTINGS: {sorted(unknown)}"


def run_gpuml(*args, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "GPUML_EXPECT_GPU": "0", **env}
    return subprocess.run(
        [sys.executable, "-m", "gpuml", *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_cli_backend_option_picks_the_device():
    for name in ("cpu", "python"):
        out = run_gpuml("info", "--backend", name, "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["backend"] == name


def test_cli_unavailable_backend_is_one_line():
    out = run_gpuml("info", "--backend", "native", GPUML_ADAPTER="no-such-adapter")
    assert out.returncode == 2 and out.stdout == ""
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith("gpuml info: gpuml backend 'native' is unavailable:")
    assert "GPUML_ADAPTER='no-such-adapter' matches none of the adapters" in out.stderr


def test_info_kernels_prints_the_tables_and_stored_choices(native_device, tmp_path):
    """`gpuml info --kernels`: every GEMM variant with its shader, the static default on this adapter, and a
    choice stored on disk by an earlier process (GPUML_TUNE_CACHE) for this adapter and gpuml version."""
    from gpuml.config import VERSION
    from gpuml.ops.linalg import gemm_kernel_for

    cache = tmp_path / "tune.json"
    scope = f"{native_device.adapter} | gpuml {VERSION}"
    cache.write_text(json.dumps({scope: {json.dumps(["gemm", 64, 64, 64, False, False]): "register"}}))
    out = run_gpuml("info", "--backend", "native", "--kernels", GPUML_TUNE_CACHE=str(cache), GPUML_TUNE="0")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"kernel variants on {native_device.adapter}" in text
    assert "gemm  (force with GPUML_GEMM)" in text
    for name, shader in [("subgroup", "matmul_subgroup"), ("tiled", "matmul_tiled"), ("register", "matmul_register")]:
        assert re.search(rf"^  {name} +shaders/linalg/{shader}\.wgsl", text, re.M), name
    assert "chosen for (64, 64, 64, False, False): register" in text
    assert f"static default for gemm here: {gemm_kernel_for(native_device)}" in text
    assert f"tuning (GPUML_TUNE): off; choices kept in {cache}" in text
    listing = run_gpuml("info", "--backend", "native", "--kernels", "--json", GPUML_TUNE_CACHE=str(cache))
    data = json.loads(listing.stdout)
    assert data["kernels"]["gemm"]["chosen"] == {"[64, 64, 64, false, false]": "register"}
    assert data["kernels"]["gemm"]["variants"] == list(GEMM_KERNELS)
