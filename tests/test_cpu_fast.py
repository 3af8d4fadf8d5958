"""The numpy backend's fast paths (issue 20.3): chunked tap-column and row-column im2col convolutions, the forward's
columns kept for the backward, 2x2 max pooling on window planes, Adam in place. Each against an independent float64
reference or the plain expression it replaces; small shapes, values asserted."""

from __future__ import annotations

import numpy as np
import pytest
from test_conv import ref_backward, ref_conv

import gpuml
from gpuml import ops
from gpuml.impl.cpu import im2col, optim, pool
from gpuml.ops.conv.geometry import conv_geometry
from gpuml.testing import assert_close

# (x shape, w shape, stride, padding, dilation, groups, which im2col layout the plan picks)
SHAPES = [
    ((5, 1, 12, 12), (6, 1, 5, 5), 1, 2, 1, 1, "rows"),  # LeNet conv1 shape, small batch
    ((6, 6, 9, 9), (16, 6, 5, 5), 1, 0, 1, 1, "rows"),  # LeNet conv2 shape
    ((4, 8, 9, 9), (12, 4, 3, 3), 1, 1, 1, 2, "rows"),  # groups
    ((3, 4, 12, 11), (8, 4, 5, 3), 1, (2, 1), 2, 1, "rows"),  # dilation, uneven padding
    ((3, 3, 10, 9), (5, 3, 3, 3), 2, 1, 1, 1, "taps"),  # stride 2
    ((7, 2, 6, 6), (3, 2, 1, 1), 1, 0, 1, 1, "taps"),  # 1x1
    ((5, 1, 12, 12), (6, 1, 3, 3), 1, 1, 1, 1, "taps"),  # Cg*KH + KW*OCg = 21 >= 2 K
]


def _data(xs, ws, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    return x, w, b


@pytest.mark.parametrize("xs, ws, s, p, d, grp, layout", SHAPES)
def test_im2col_layouts_against_float64(cpu_device, xs, ws, s, p, d, grp, layout):
    g = conv_geometry(xs, ws, s, p, d, grp)
    assert ("rows" if im2col.plan(g).rows else "taps") == layout
    x, w, b = _data(xs, ws)
    kw = {"stride": s, "padding": p, "dilation": d, "groups": grp}
    for relu in (False, True):
        y = ops.conv2d(gpuml.tensor(x, device=cpu_device), w, b, algo="im2col", relu=relu, **kw).numpy()
        ref = ref_conv(x, w, b, **kw)
        assert_close(y, np.maximum(ref, 0) if relu else ref, "matmul")
    gy = np.random.default_rng(1).standard_normal(g.out_shape).astype(np.float32)
    rgx, rgw, rgb = ref_backward(x, w, gy, **kw)
    for input_grad in (True, False):
        gx, gw, gb = ops.conv2d_backward(x, w, gpuml.tensor(gy, device=cpu_device), **kw, input_grad=input_grad)
        assert_close(gw.numpy(), rgw, "matmul")
        assert_close(gb.numpy(), rgb, "reduction")
        if input_grad:
            assert_close(gx.numpy(), rgx, "matmul")
        else:
            assert gx is None


@pytest.mark.parametrize("n", [1, 7, 12, 64])
def test_chunks_are_whole_images_within_the_column_budget(n):
    g = conv_geometry((n, 1, 28, 28), (6, 1, 5, 5), 1, 2, 1, 1)
    p = im2col.plan(g)
    assert n % p.nc == 0 and p.nb * p.nc == n
    assert p.nc == 1 or p.nc * g.OH * (28 + 4) <= im2col.CHUNK_COLUMNS
    assert p.nc == max(d for d in range(1, n + 1) if n % d == 0 and d * 28 * 32 <= im2col.CHUNK_COLUMNS)


@pytest.mark.parametrize("xs, ws, s, p, d, grp, layout", SHAPES[:3])
def test_non_finite_inputs_stay_in_their_receptive_fields(cpu_device, xs, ws, s, p, d, grp, layout):
    x, w, b = _data(xs, ws, seed=2)
    x.reshape(-1)[[5, x.size // 2]] = [np.nan, np.inf]
    kw = {"stride": s, "padding": p, "dilation": d, "groups": grp}
    with np.errstate(invalid="ignore"):
        y = ops.conv2d(gpuml.tensor(x, device=cpu_device), w, b, algo="im2col", **kw).numpy()
        ref = ref_conv(x, w, b, **kw)
        gy = np.ones(ref.shape, np.float32)
        gx, gw, _ = ops.conv2d_backward(x, w, gpuml.tensor(gy, device=cpu_device), **kw)
        rgx, rgw, _ = ref_backward(x, w, gy, **kw)
    assert_close(y, ref, "matmul")  # NaN / +-Inf exactly where the float64 direct convolution has them
    assert_close(gw.numpy(), rgw, "matmul")
    assert np.array_equal(np.isnan(gx.numpy()), np.isnan(rgx))


@pytest.mark.parametrize("where", ["x", "w", "grad_out"])
def test_row_columns_fall_back_to_taps_on_non_finite_inputs(cpu_device, monkeypatch, where):
    """The row backward checks grad_w (and w), not x and grad_out: a NaN / Inf input, weight or grad_out that reaches
    the results gives exactly the tap columns' gradients, with and without the input gradient (grad_w the float64
    reference's); a non-finite weight without the input gradient reaches nothing (grad_w close to the taps')."""
    xs, ws, _s, p, *_ = SHAPES[1]
    g = conv_geometry(xs, ws, 1, p, 1, 1)
    assert im2col.plan(g).rows
    x, w, _ = _data(xs, ws, seed=6)
    gy = np.random.default_rng(7).standard_normal(g.out_shape).astype(np.float32)
    bad = {"x": x, "w": w, "grad_out": gy}[where]
    bad.reshape(-1)[[3, bad.size // 2]] = [np.nan, np.inf]
    with np.errstate(invalid="ignore"):
        rgw = ref_backward(x, w, gy, padding=p)[1]
        for input_grad in (True, False):
            got = im2col.conv2d_backward(x, w, gy, g, input_grad, np.empty_like(w), np.empty(ws[0], np.float32))
            with monkeypatch.context() as m:
                m.setattr(im2col.plan(g), "rows", False)
                taps = im2col.conv2d_backward(x, w, gy, g, input_grad, np.empty_like(w), np.empty(ws[0], np.float32))
            fell_back = not all(np.isfinite(r).all() for r in taps if r is not None)
            for a, r in zip(got, taps, strict=True):  # rows kept where grad_w alone never reads w: close, not equal
                assert (a is None and r is None) or np.array_equal(a, r, equal_nan=True) or not fell_back
                assert a is None or assert_close(a, r, "matmul") is None
            assert np.array_equal(np.isnan(got[1]), np.isnan(rgw))
            assert_close(np.nan_to_num(got[1]), np.nan_to_num(rgw), "matmul")


def test_kept_columns_follow_the_input(cpu_device):
    """The forward's columns serve the backward only for an equal input: changed in place, it is rebuilt."""
    for xs, ws, _s, p, *_ in (SHAPES[0], SHAPES[1]):
        x, w, b = _data(xs, ws, seed=3)
        xt = gpuml.tensor(x, device=cpu_device)
        ops.conv2d(xt, w, b, padding=p)
        x2 = x * 2 + 1
        xt.host()[...] = x2  # in place, after the forward
        gy = np.random.default_rng(4).standard_normal(ref_conv(x, w, padding=p).shape).astype(np.float32)
        _, gw, _ = ops.conv2d_backward(xt, w, gy, padding=p)
        assert_close(gw.numpy(), ref_backward(x2, w, gy, padding=p)[1], "matmul")


def test_max_pool_2x2_planes_match_argmax_order():
    """Ties go to the first position in window order, a NaN beats what comes before it (the last NaN wins)."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (3, 2, 6, 8)).astype(np.float32)  # many ties
    x.reshape(-1)[[1, 9, 10, 40, 41, 57]] = [np.nan, np.nan, np.nan, np.inf, -np.inf, np.nan]
    g = {"N": 3, "C": 2, "H": 6, "W": 8, "OH": 3, "OW": 4, "KH": 2, "KW": 2, "sh": 2, "sw": 2, "ph": 0, "pw": 0}
    out, idx = pool._max_pool(x, g)
    win = x.reshape(3, 2, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(3, 2, 3, 4, 4)
    nan = np.isnan(win)
    k = np.where(nan.any(-1), 3 - np.argmax(nan[..., ::-1], -1), np.argmax(np.where(nan, -np.inf, win), -1))
    a, c = np.divmod(k, 2)
    ref_idx = (np.arange(3)[:, None] * 2 + a) * 8 + np.arange(4) * 2 + c
    assert idx.dtype == np.int32 and np.array_equal(idx, ref_idx)
    assert np.array_equal(out, np.take_along_axis(win, k[..., None], -1)[..., 0], equal_nan=True)


class _Host:
    def __init__(self, a):
        self.a = a

    def host(self):
        return self.a


def test_adam_in_place_is_bitwise_the_expression_form():
    rng = np.random.default_rng(6)
    n, d = 300, 200
    w0, g = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    m0, v0 = rng.standard_normal(n).astype(np.float32), rng.random(n).astype(np.float32)
    u = {"n_decay": d, "decay": 0.99, "one_minus_beta1": 0.1, "beta2": 0.999, "one_minus_beta2": 0.001}
    u |= {"sqrt_bc2": 0.0447, "eps": 1e-8, "step_size": 3e-3, "clip": 0.0, "l1": 0.0, "l2": 0.0}
    w, m, v = w0.copy(), m0.copy(), v0.copy()
    optim.optimizer_step("adam", _Host(w), _Host(g.copy()), {"exp_avg": _Host(m), "exp_avg_sq": _Host(v)}, None, u)
    f = np.float32
    rw, rm = w0.copy(), m0 + f(0.1) * (g - m0)
    rw[:d] *= f(0.99)
    rv = f(0.999) * v0 + f(0.001) * g * g
    rw -= f(3e-3) * (rm / (np.sqrt(rv) / f(0.0447) + f(1e-8)))
    assert np.array_equal(m, rm) and np.array_equal(v, rv) and np.array_equal(w, rw)


def test_zero_penalties_still_spread_a_non_finite_weight():
    """l1 = l2 = 0 skips the penalty pass, except where a weight is non-finite (0 * Inf = NaN, as the kernels)."""
    w = np.array([1.0, np.inf, 2.0, 3.0], np.float32)
    g = np.ones(4, np.float32)
    u = {"n_decay": 4, "clip": 0.0, "l1": 0.0, "l2": 0.0, "lr": 0.1, "momentum": 0.0}
    with np.errstate(invalid="ignore"):
        optim.optimizer_step("sgd", _Host(w), _Host(g), {}, None, u)
    assert np.isnan(w[1]) and np.array_equal(w[[0, 2, 3]], np.float32([0.9, 1.9, 2.9]))
    assert np.array_equal(g, np.ones(4, np.float32))  # the gradients are not changed in place


def test_kept_columns_are_bounded(cpu_device):
    """At most the last 4 layers' columns stay alive (a deep network keeps the ones its first backwards need)."""
    rng = np.random.default_rng(7)
    for size in range(6, 13):
        x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
        ops.conv2d(gpuml.tensor(x, device=cpu_device), rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    assert 1 <= len(im2col._KEPT) <= 4
    assert {key[0].H for key in im2col._KEPT} == {9, 10, 11, 12}


def test_row_groups_follow_the_gemm_depth_and_the_bias_rides_the_grad_w_gemm(cpu_device):
    """Row columns take s taps of a kernel row per row when Cg * KH is shallower than ROW_DEPTH (LeNet's conv1: s = 3,
    Q = 2 partial outputs; conv2: s = 1); the bias gradient comes from the columns' row of ones, whether the forward
    kept its columns with that row (a bias), kept them without it (no bias) or kept none."""
    c1 = im2col.plan(conv_geometry((64, 1, 28, 28), (6, 1, 5, 5), 1, 2, 1, 1))
    c2 = im2col.plan(conv_geometry((64, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1, 1))
    assert (c1.rows, c1.s, c1.q, c1.rr) == (True, 3, 2, 15) and (c2.rows, c2.s, c2.q) == (True, 1, 5)
    for xs, ws, _s, p, *_ in (SHAPES[0], SHAPES[1]):
        x, w, b = _data(xs, ws, seed=8)
        gy = np.random.default_rng(9).standard_normal(ref_conv(x, w, padding=p).shape).astype(np.float32)
        rgx, rgw, rgb = ref_backward(x, w, gy, padding=p)
        for bias in (b, None, "none kept"):
            im2col._KEPT.clear()
            if bias is not None and not isinstance(bias, str):
                ops.conv2d(gpuml.tensor(x, device=cpu_device), w, bias, padding=p)
            elif bias is None:
                ops.conv2d(gpuml.tensor(x, device=cpu_device), w, padding=p)
            gx, gw, gb = ops.conv2d_backward(x, w, gpuml.tensor(gy, device=cpu_device), padding=p)
            assert_close(gb.numpy(), rgb, "reduction")
            assert_close(gw.numpy(), rgw, "matmul")
            assert_close(gx.numpy(), rgx, "matmul")
