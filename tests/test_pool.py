"""max_pool2d / avg_pool2d forward and backward on the native and cpu backends against float64 loops written
here, against torch when importable, and their argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import gpuml
from gpuml.testing import assert_close

CONFIGS = [
    ((2, 3, 8, 8), 2, None, 0),  # LeNet pooling (rows of a multiple of 4: two windows per invocation)
    ((3, 5, 6, 10), 2, None, 0),  # LeNet's second pool (rows of 10: one window per invocation)
    ((1, 7, 10, 12), 2, None, 0),  # two windows per invocation, odd window rows and planes
    ((1, 5, 9, 11), 3, 2, 1),  # overlapping windows, padding, odd sizes
    ((2, 2, 7, 10), (2, 3), (1, 2), (1, 1)),
    ((1, 1, 5, 5), 5, 1, 2),
    ((2, 3, 9, 8), 2, None, 0),  # 2x2 windows that do not tile the input (odd height): gather kernel
    ((1, 2, 6, 9), (2, 3), None, 0),  # non-square windows tiling the input: one invocation per window
]


def _p(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def ref_pool(x, kernel, stride, padding, kind, count_include_pad=True):
    """float64 (out, argmax flat index or None, input gradient of sum(out * gy) as a function of gy)."""
    (kh, kw), (ph, pw) = _p(kernel), _p(padding)
    sh, sw = _p(kernel if stride is None else stride)
    n, c, h, w = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, c, oh, ow))
    idx = np.zeros((n, c, oh, ow), np.int32)
    windows = {}
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * sh - ph, j * sw - pw
            ys = [y for y in range(y0, y0 + kh) if 0 <= y < h]
            xs = [xx for xx in range(x0, x0 + kw) if 0 <= xx < w]
            cells = [(y, xx) for y in ys for xx in xs]
            if kind == "max":
                vals = np.stack([x[:, :, y, xx] for y, xx in cells], -1)
                best = vals.argmax(-1)
                out[:, :, i, j] = vals.max(-1)
                flat = np.array([y * w + xx for y, xx in cells])
                idx[:, :, i, j] = flat[best]
            else:
                if count_include_pad:
                    div = (min(y0 + kh, h + ph) - y0) * (min(x0 + kw, w + pw) - x0)
                else:
                    div = len(cells)
                out[:, :, i, j] = sum(x[:, :, y, xx] for y, xx in cells) / div
                windows[i, j] = (cells, div)

    def grad(gy):
        gx = np.zeros((n, c, h * w))
        if kind == "max":
            for a in range(n):
                for b in range(c):
                    np.add.at(gx[a, b], idx[a, b].ravel(), gy[a, b].ravel())
            return gx.reshape(n, c, h, w)
        gx = gx.reshape(n, c, h, w)
        for (i, j), (cells, div) in windows.items():
            for y, xx in cells:
                gx[:, :, y, xx] += gy[:, :, i, j] / div
        return gx

    return out, idx, grad


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_max_pool_forward_backward(any_device, cfg):
    device = any_device
    shape, kernel, stride, padding = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    out, idx = gpuml.ops.max_pool2d(x, kernel, stride, padding, return_indices=True)
    ref, ref_idx, grad = ref_pool(x.astype(np.float64), kernel, stride, padding, "max")
    assert out.device is device and idx.dtype == np.int32
    assert_close(out.numpy(), ref, "exact")
    assert_close(idx.numpy(), ref_idx, "exact")
    assert isinstance(gpuml.ops.max_pool2d(x, kernel, stride, padding), gpuml.Tensor)
    gy = rng.standard_normal(ref.shape).astype(np.float32)
    gx = gpuml.ops.max_pool2d_backward(gy, idx, shape, kernel, stride, padding)
    assert_close(gx.numpy(), grad(gy.astype(np.float64)), "reduction")


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_max_pool_backward_fused_relu(any_device, cfg):
    """relu_out= fuses the backward of a ReLU before the pool: the same as relu_grad of the plain backward."""
    shape, kernel, stride, padding = cfg
    rng = np.random.default_rng(3)
    x = np.maximum(rng.standard_normal(shape), 0).astype(np.float32)  # a ReLU's output: many zeros, some windows
    x[0, 0] = 0.0  # a whole plane of zero windows
    out, idx = gpuml.ops.max_pool2d(x, kernel, stride, padding, return_indices=True)
    gy = rng.standard_normal(out.shape).astype(np.float32)
    _, _, grad = ref_pool(x.astype(np.float64), kernel, stride, padding, "max")
    want = np.where(x > 0, grad(gy.astype(np.float64)), 0.0)
    gx = gpuml.ops.max_pool2d_backward(gy, idx, shape, kernel, stride, padding, relu_out=out)
    assert_close(gx.numpy(), want, "reduction")


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
@pytest.mark.parametrize("include", [True, False])
def test_avg_pool_forward_backward(any_device, cfg, include):
    shape, kernel, stride, padding = cfg
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    out = gpuml.ops.avg_pool2d(x, kernel, stride, padding, count_include_pad=include)
    ref, _, grad = ref_pool(x.astype(np.float64), kernel, stride, padding, "avg", include)
    assert_close(out.numpy(), ref, "reduction")
    gy = rng.standard_normal(ref.shape).astype(np.float32)
    gx = gpuml.ops.avg_pool2d_backward(gy, shape, kernel, stride, padding, count_include_pad=include)
    assert_close(gx.numpy(), grad(gy.astype(np.float64)), "reduction")


def test_against_torch(any_device):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(2)
    for shape, kernel, stride, padding in CONFIGS:
        x = rng.standard_normal(shape).astype(np.float32)
        tx = torch.from_numpy(x).double().requires_grad_()
        ty, tidx = F.max_pool2d(tx, kernel, stride, padding, return_indices=True)
        gy = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
        ty.backward(torch.from_numpy(gy).double())
        out, idx = gpuml.ops.max_pool2d(x, kernel, stride, padding, return_indices=True)
        assert_close(out.numpy(), ty.detach().numpy(), "exact")
        assert_close(idx.numpy(), tidx.numpy(), "exact")
        gx = gpuml.ops.max_pool2d_backward(gy, idx, shape, kernel, stride, padding)
        assert_close(gx.numpy(), tx.grad.numpy(), "reduction")
        tx.grad = None
        ta = F.avg_pool2d(tx, kernel, stride, padding)
        ta.backward(torch.from_numpy(gy).double())
        assert_close(gpuml.ops.avg_pool2d(x, kernel, stride, padding).numpy(), ta.detach().numpy(), "reduction")
        gx = gpuml.ops.avg_pool2d_backward(gy, shape, kernel, stride, padding)
        assert_close(gx.numpy(), tx.grad.numpy(), "reduction")


def test_errors(any_device):
    x = np.zeros((1, 2, 6, 6), np.float32)
    with pytest.raises(ValueError, match="NCHW"):
        gpuml.ops.max_pool2d(x[0], 2)
    with pytest.raises(ValueError, match="at most half"):
        gpuml.ops.avg_pool2d(x, 2, 2, 2)
    with pytest.raises(ValueError, match="does not fit"):
        gpuml.ops.max_pool2d(x, 7)
    with pytest.raises(ValueError, match="kernel"):
        gpuml.ops.max_pool2d(x, 0)
    with pytest.raises(TypeError, match="int32"):
        gpuml.ops.max_pool2d_backward(
            np.zeros((1, 2, 3, 3), np.float32), np.zeros((1, 2, 3, 3), np.float32), x.shape, 2
        )
    with pytest.raises(ValueError, match="shape"):
        gpuml.ops.avg_pool2d_backward(np.zeros((1, 2, 2, 2), np.float32), x.shape, 2)


@pytest.mark.parametrize("kernel", [2, 3])
def test_max_pool_ties_pick_the_first_maximum(any_device, kernel):
    """Windows holding their maximum more than once report the first in window order (argmax's rule), on every
    backend: tiled windows (2x2 has its own numpy path) and the general one."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, (2, 3, 6 * kernel, 4 * kernel)).astype(np.float32)  # many ties
    out, idx = gpuml.ops.max_pool2d(x, kernel, return_indices=True)
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // kernel, kernel, w // kernel, kernel).transpose(0, 1, 2, 4, 3, 5)
    arg = windows.reshape(*windows.shape[:4], -1).argmax(-1)
    dy, dx = np.divmod(arg, kernel)
    oy, ox = np.meshgrid(np.arange(h // kernel), np.arange(w // kernel), indexing="ij")
    np.testing.assert_array_equal(idx.numpy(), (oy * kernel + dy) * w + ox * kernel + dx)
    np.testing.assert_array_equal(out.numpy(), windows.max(axis=(4, 5)))


def _with_nan(shape, seed):
    """Normal values with NaN (several per window, first and last pixel), +Inf and -Inf sprinkled in."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    kind = rng.random(flat.size)
    flat[kind < 0.08] = np.nan
    flat[(kind >= 0.08) & (kind < 0.11)] = np.inf
    flat[(kind >= 0.11) & (kind < 0.14)] = -np.inf
    flat[[0, 1, -1]] = np.nan
    return x


def _torch_max_pool(x, kernel, stride, padding, gy=None):
    torch = pytest.importorskip("torch")
    tx = torch.from_numpy(x).requires_grad_()
    ty, tidx = torch.nn.functional.max_pool2d(tx, kernel, stride, padding, return_indices=True)
    if gy is not None:
        ty.backward(torch.from_numpy(gy))
    return ty.detach().numpy(), tidx.numpy(), None if gy is None else tx.grad.numpy()


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_max_pool_propagates_nan_as_torch(any_device, cfg):
    """A NaN in a window is the window's max (numpy's np.max, PyTorch's max_pool2d); its index is the last NaN of the
    window in row-major order, as PyTorch's kernel takes it, so the backward routes the gradient to that NaN."""
    shape, kernel, stride, padding = cfg
    x = _with_nan(shape, 7)
    gy = np.random.default_rng(8).standard_normal(gpuml.ops.max_pool2d(x, kernel, stride, padding).shape)
    gy = gy.astype(np.float32)
    ref, ref_idx, ref_gx = _torch_max_pool(x, kernel, stride, padding, gy)
    assert np.isnan(ref).any()
    out, idx = gpuml.ops.max_pool2d(x, kernel, stride, padding, return_indices=True)
    assert_close(out.numpy(), ref, "exact", "max_pool2d")
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    gx = gpuml.ops.max_pool2d_backward(gy, idx, shape, kernel, stride, padding)
    assert_close(gx.numpy(), ref_gx, "reduction", "max_pool2d_backward")


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_every_max_pool_variant_propagates_nan(native_device, cfg):
    """Each forward variant that applies (2x2 vec4, tiled, general window) keeps NaN and Inf as PyTorch does."""
    from gpuml.impl.webgpu import pool as impl
    from gpuml.ops.pool import _geometry

    shape, kernel, stride, padding = cfg
    x = _with_nan(shape, 9)
    ref, ref_idx, _ = _torch_max_pool(x, kernel, stride, padding)
    g = _geometry(shape, kernel, stride, padding, "test")
    names = [v.name for v in impl.POOL.applicable(native_device.caps, impl.PoolCase.of("max_pool2d", g))]
    for name in names:
        out, idx = impl.max_pool2d(gpuml.tensor(x, device=native_device), g, kernel=name)
        assert_close(out.numpy(), ref, "exact", name)
        np.testing.assert_array_equal(idx.numpy(), ref_idx, err_msg=name)


# --- the pooling variant table (gpuml/impl/webgpu/pool.py) ----------------------------------------------------------


def _previous_choice(op, g):
    """The kernel gpuml.ops.pool picked before the variant table, written out as it was: the 2x2 vec4 kernels for
    2x2 windows tiling rows of a multiple of 4, the tiled kernels for any tiling window, else the general ones."""
    tiles = (g["sh"], g["sw"], g["ph"], g["pw"]) == (g["KH"], g["KW"], 0, 0)
    tiles = tiles and g["H"] == g["OH"] * g["KH"] and g["W"] == g["OW"] * g["KW"]
    pairs = tiles and (g["KH"], g["KW"]) == (2, 2) and g["W"] % 4 == 0
    if op == "max_pool2d":
        return "pool/max_pool_2x2_vec4.wgsl" if pairs else "pool/max_pool_tiled.wgsl" if tiles else "pool/max_pool.wgsl"
    if op == "max_pool2d_backward":
        if tiles:
            return "pool/max_pool_2x2_vec4_backward.wgsl" if pairs else "pool/max_pool_backward_tiled.wgsl"
        return "pool/max_pool_backward.wgsl"
    return {"avg_pool2d": "pool/avg_pool.wgsl", "avg_pool2d_backward": "pool/avg_pool_backward.wgsl"}[op]


POOL_OPS = ("max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward")


def _grid_of_geometries():
    from gpuml.ops.pool import _geometry

    for n, c in ((1, 1), (2, 3)):
        for h in range(1, 14):
            for w in range(1, 14):
                for kernel in (1, 2, 3, (2, 3), (3, 2), 4):
                    for stride in (None, 1, 2, 3, (2, 1)):
                        for padding in (0, 1, (0, 1)):
                            try:
                                yield _geometry((n, c, h, w), kernel, stride, padding, "grid")
                            except ValueError:
                                continue


def test_pool_static_order_is_the_previous_choice():
    """With GPUML_TUNE=0 the table picks, on every device kind, the kernel the hand-written rule picked."""
    from types import SimpleNamespace

    from gpuml.backends.variants import DeviceCaps
    from gpuml.impl.webgpu.pool import POOL, PoolCase

    kinds = [
        DeviceCaps("native", software=True, subgroup_size=8, f16=True, timestamps=True),
        DeviceCaps("browser", software=False, subgroup_size=32, f16=False, timestamps=False),
        DeviceCaps("native", software=False, subgroup_size=0, f16=False, timestamps=False),
    ]
    checked = set()
    for g in _grid_of_geometries():
        for op in POOL_OPS:
            want = _previous_choice(op, g)
            for caps in kinds:
                case = PoolCase.of(op, g)
                assert POOL.applicable(caps, case)[0].shader == want, (op, g, caps)
                assert POOL.choose(SimpleNamespace(caps=caps), case, lambda v: None).shader == want
            checked.add(want)
    assert len(checked) == 8  # the grid reaches every kernel


def test_pool_runs_the_static_choice(native_device):
    """The kernel that ran (device.op_state) is the table's static choice: LeNet's pools take the vec4 kernels."""
    from gpuml.impl.webgpu.pool import last_pool_kernel

    x = np.random.default_rng(5).standard_normal((2, 6, 28, 28)).astype(np.float32)
    out, idx = gpuml.ops.max_pool2d(gpuml.tensor(x, device=native_device), 2, return_indices=True)
    gpuml.ops.max_pool2d_backward(out, idx, x.shape, 2)
    assert last_pool_kernel(native_device) == "max_2x2_vec4"
    assert last_pool_kernel(native_device, "max_pool2d_backward") == "max_backward_2x2_vec4"
    gpuml.ops.max_pool2d(gpuml.tensor(x[:, :, :, :26], device=native_device), 2)
    assert last_pool_kernel(native_device) == "max_tiled"
    gpuml.ops.max_pool2d(gpuml.tensor(x, device=native_device), 3, 2, 1)
    assert last_pool_kernel(native_device) == "max_window"


# awkward shapes: a single window, windows across workgroups, odd planes, non-square windows, padding, ties
AWKWARD = [
    ((1, 1, 2, 4), 2, None, 0),
    ((5, 67, 4, 8), 2, None, 0),  # 2680 windows: many workgroups
    ((3, 1, 6, 12), 2, None, 0),
    ((2, 3, 8, 6), 2, None, 0),  # tiling, rows of 6: no vec4
    ((1, 2, 9, 12), 3, None, 0),
    ((2, 1, 4, 8), (2, 4), None, 0),
    ((3, 2, 7, 5), 3, 2, 1),
    ((1, 3, 5, 7), (3, 1), (1, 2), (1, 0)),
    ((2, 2, 1, 9), 1, None, 0),  # 1x1 windows tile everything
]


@pytest.mark.parametrize("cfg", AWKWARD, ids=[str(c) for c in AWKWARD])
def test_every_pool_variant_matches_the_reference(native_device, cfg):
    """Each variant that applies (not only the static choice) gives the float64 reference, on awkward shapes."""
    from gpuml.impl.webgpu import pool as impl
    from gpuml.ops.pool import _geometry

    shape, kernel, stride, padding = cfg
    g = _geometry(shape, kernel, stride, padding, "test")
    rng = np.random.default_rng(6)
    x = rng.integers(-3, 4, shape).astype(np.float32)  # many ties: the first maximum must win everywhere
    xt = gpuml.tensor(x, device=native_device)
    ref, ref_idx, max_grad = ref_pool(x.astype(np.float64), kernel, stride, padding, "max")
    gy = rng.standard_normal(ref.shape).astype(np.float32)
    gyt = gpuml.tensor(gy, device=native_device)
    relu_out = gpuml.tensor(np.maximum(ref, 0).astype(np.float32), device=native_device)
    names = {op: [v.name for v in impl.POOL.applicable(native_device.caps, impl.PoolCase.of(op, g))] for op in POOL_OPS}
    assert all(names.values())
    for name in names["max_pool2d"]:
        out, idx = impl.max_pool2d(xt, g, kernel=name)
        assert_close(out.numpy(), ref, "exact")
        np.testing.assert_array_equal(idx.numpy(), ref_idx, err_msg=name)
    idx = gpuml.tensor(ref_idx, device=native_device)
    want = max_grad(gy.astype(np.float64))
    # the gate passes a window's gradient where its max is positive: the winner pixel's input is > 0
    gated = np.where(x > 0, max_grad(np.where(ref > 0, gy, 0.0)), 0.0)
    for name in names["max_pool2d_backward"]:
        assert_close(impl.max_pool2d_backward(gyt, idx, g, None, kernel=name).numpy(), want, "reduction")
        assert_close(impl.max_pool2d_backward(gyt, idx, g, relu_out, kernel=name).numpy(), gated, "reduction")
    for include in (True, False):
        ref_avg, _, avg_grad = ref_pool(x.astype(np.float64), kernel, stride, padding, "avg", include)
        for name in names["avg_pool2d"]:
            assert_close(impl.avg_pool2d(xt, g, include, kernel=name).numpy(), ref_avg, "reduction")
        for name in names["avg_pool2d_backward"]:
            got = impl.avg_pool2d_backward(gyt, g, include, kernel=name).numpy()
            assert_close(got, avg_grad(gy.astype(np.float64)), "reduction")


def test_pool_variant_that_does_not_apply_is_refused(native_device):
    from gpuml.impl.webgpu import pool as impl
    from gpuml.ops.pool import _geometry

    g = _geometry((1, 1, 6, 6), 3, 2, 1, "test")
    with pytest.raises(ValueError, match="does not apply"):
        impl.max_pool2d(gpuml.tensor(np.zeros((1, 1, 6, 6), np.float32), device=native_device), g, kernel="max_tiled")
    with pytest.raises(ValueError, match="unknown variant"):
        impl.max_pool2d(gpuml.tensor(np.zeros((1, 1, 6, 6), np.float32), device=native_device), g, kernel="nope")


def test_pool_tuning_measures_and_remembers(native_device, monkeypatch):
    """GPUML_TUNE=1: the first pooling of a shape class times the applicable variants and stores the winner; the
    result is the same whichever wins."""
    from gpuml.impl.webgpu.pool import POOL, PoolCase, last_pool_kernel
    from gpuml.ops.pool import _geometry

    monkeypatch.setenv("GPUML_TUNE", "1")
    monkeypatch.setenv("GPUML_TUNE_AFTER", "1")  # tune on the first use
    shape = (3, 4, 12, 16)
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    key = ("pool", *POOL.shape_class(PoolCase.of("max_pool2d", _geometry(shape, 2, None, 0, "test"))))
    native_device.tune_cache.choices.pop(key, None)
    out = gpuml.ops.max_pool2d(gpuml.tensor(x, device=native_device), 2)
    chosen = native_device.tune_cache.get(key)
    assert chosen in ("max_2x2_vec4", "max_tiled", "max_window") and last_pool_kernel(native_device) == chosen
    assert_close(out.numpy(), ref_pool(x.astype(np.float64), 2, None, 0, "max")[0], "exact")
    native_device.tune_cache.choices.pop(key, None)
