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
