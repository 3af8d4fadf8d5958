"""Optimizer update rules: hand-computed values, torch.optim (when importable), native vs numpy twin."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpuml
from gpuml.nn import ParameterStore
from gpuml.optim import SGD, Adam, AdamW, CosineAnnealingLR, RMSprop, StepLR

W0 = np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.25]], np.float32)
B0 = np.array([0.1, -0.2], np.float32)


def make_store(device, w=W0, b=B0):
    store = ParameterStore(device)
    store.add("w", w, decay=True)
    store.add("b", b, decay=False)
    return store.build()


def set_grads(store, gw, gb):
    store["w"].grad.assign(gw)
    store["b"].grad.assign(gb)


GW = np.array([[0.3, -0.6, 0.9], [1.2, 0.0, -0.3]], np.float32)
GB = np.array([0.5, -1.5], np.float32)


def test_store_layout(any_device):
    device = any_device
    store = make_store(device)
    assert store.n_decay == 64 and store["w"].offset == 0 and store["b"].offset == 64
    np.testing.assert_array_equal(store["w"].data.numpy(), W0)
    np.testing.assert_array_equal(store["b"].data.numpy(), B0)
    assert store.size == 8
    state = store.state_dict()
    np.testing.assert_array_equal(state["b"], B0)


def test_sgd_plain_with_penalties_by_hand(any_device):
    device = any_device
    store = make_store(device)
    set_grads(store, GW, GB)
    SGD(store, lr=0.1, l1=0.01, l2=0.1).step()
    # weights: w - lr * (g + l2 * w + l1 * sign(w)); biases: w - lr * g (never penalised)
    expected_w = W0 - 0.1 * (GW + 0.1 * W0 + 0.01 * np.sign(W0))
    np.testing.assert_allclose(store["w"].data.numpy(), expected_w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(store["b"].data.numpy(), B0 - 0.1 * GB, rtol=1e-6)


def test_sgd_momentum_and_nesterov_by_hand(any_device):
    device = any_device
    for nesterov in (False, True):
        store = make_store(device)
        opt = SGD(store, lr=0.1, momentum=0.9, nesterov=nesterov)
        w = W0.astype(np.float64)
        buf = None
        for step in range(3):
            g = GW * (step + 1)
            set_grads(store, g, GB)
            opt.step()
            buf = g if buf is None else 0.9 * buf + g
            w = w - 0.1 * ((g + 0.9 * buf) if nesterov else buf)
        np.testing.assert_allclose(store["w"].data.numpy(), w, rtol=1e-5, atol=1e-6)


def test_adam_first_step_by_hand(any_device):
    device = any_device
    store = make_store(device)
    set_grads(store, GW, GB)
    Adam(store, lr=0.01).step()
    # step 1: m_hat = g, v_hat = g^2 -> w - lr * g / (|g| + eps)
    expected = W0 - 0.01 * GW / (np.abs(GW) + 1e-8)
    np.testing.assert_allclose(store["w"].data.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_adamw_decays_weights_only(any_device):
    device = any_device
    store = make_store(device)
    set_grads(store, np.zeros_like(GW), np.zeros_like(GB))
    AdamW(store, lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(store["w"].data.numpy(), W0 * (1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_array_equal(store["b"].data.numpy(), B0)


def test_gradient_clipping_by_global_norm(any_device):
    device = any_device
    store = make_store(device)
    set_grads(store, GW, GB)
    SGD(store, lr=1.0, max_grad_norm=0.5).step()
    norm = math.sqrt(float((GW.astype(np.float64) ** 2).sum() + (GB.astype(np.float64) ** 2).sum()))
    scale = 0.5 / (norm + 1e-6)
    np.testing.assert_allclose(store["w"].data.numpy(), W0 - scale * GW, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(store["b"].data.numpy(), B0 - scale * GB, rtol=1e-5, atol=1e-6)


def test_native_matches_numpy_twin(native_device, cpu_device):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((37, 11)).astype(np.float32)
    b = rng.standard_normal(11).astype(np.float32)
    grads = [
        (rng.standard_normal(w.shape).astype(np.float32), rng.standard_normal(b.shape).astype(np.float32))
        for _ in range(5)
    ]
    for make in (
        lambda s: SGD(s, lr=0.05, momentum=0.9, nesterov=True, l2=1e-3),
        lambda s: Adam(s, lr=1e-2, l1=1e-3, max_grad_norm=1.0),
        lambda s: AdamW(s, lr=1e-2, weight_decay=0.1),
        lambda s: RMSprop(s, lr=1e-2, momentum=0.5, l2=1e-2),
    ):
        finals = []
        for dev in (native_device, cpu_device):
            store = make_store(dev, w, b)
            opt = make(store)
            for gw, gb in grads:
                set_grads(store, gw, gb)
                opt.step()
            finals.append(store.data.numpy())
        np.testing.assert_allclose(finals[0], finals[1], rtol=1e-5, atol=1e-6, err_msg=type(opt).__name__)


def test_matches_torch_optim(any_device):
    device = any_device
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((6, 5)).astype(np.float32)
    b0 = rng.standard_normal(5).astype(np.float32)
    grads = [
        (rng.standard_normal(w0.shape).astype(np.float32), rng.standard_normal(b0.shape).astype(np.float32))
        for _ in range(6)
    ]
    configs = [
        (lambda s: SGD(s, lr=0.1, momentum=0.9, l2=0.01), lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9), 0.01, 0),
        (
            lambda s: SGD(s, lr=0.1, momentum=0.9, nesterov=True),
            lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, nesterov=True),
            0,
            0,
        ),
        (lambda s: Adam(s, lr=1e-2, weight_decay=0.1), lambda g: torch.optim.Adam(g, lr=1e-2), 0.1, 0),
        (lambda s: AdamW(s, lr=1e-2, weight_decay=0.1), lambda g: torch.optim.AdamW(g, lr=1e-2), 0, 0.1),
        (lambda s: RMSprop(s, lr=1e-2, momentum=0.3), lambda g: torch.optim.RMSprop(g, lr=1e-2, momentum=0.3), 0, 0),
        (lambda s: RMSprop(s, lr=1e-2, l2=0.05), lambda g: torch.optim.RMSprop(g, lr=1e-2), 0.05, 0),
    ]
    for ours, theirs, coupled, decoupled in configs:
        store = make_store(device, w0, b0)
        opt = ours(store)
        tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
        # weights take the penalty, biases none: two torch param groups
        group_w = {"params": [tw], "weight_decay": coupled or decoupled}
        topt = theirs([group_w, {"params": [tb], "weight_decay": 0.0}])
        for gw, gb in grads:
            set_grads(store, gw, gb)
            opt.step()
            tw.grad, tb.grad = torch.tensor(gw), torch.tensor(gb)
            topt.step()
        np.testing.assert_allclose(
            store["w"].data.numpy(), tw.detach().numpy(), rtol=2e-5, atol=2e-6, err_msg=type(opt).__name__
        )
        np.testing.assert_allclose(
            store["b"].data.numpy(), tb.detach().numpy(), rtol=2e-5, atol=2e-6, err_msg=type(opt).__name__
        )


def test_clipping_matches_torch(any_device):
    device = any_device
    torch = pytest.importorskip("torch")
    store = make_store(device)
    set_grads(store, GW, GB)
    Adam(store, lr=0.01, max_grad_norm=0.7).step()
    tw, tb = torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)
    tw.grad, tb.grad = torch.tensor(GW), torch.tensor(GB)
    torch.nn.utils.clip_grad_norm_([tw, tb], 0.7)
    torch.optim.Adam([tw, tb], lr=0.01).step()
    np.testing.assert_allclose(store["w"].data.numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_one_dispatch_per_step(native_device):
    store = make_store(native_device)
    opt = Adam(store, lr=1e-3)
    clipped = SGD(store, lr=0.1, max_grad_norm=1.0)
    native_device.flush()
    before = native_device.stats["dispatches"]
    opt.step()
    assert native_device.stats["dispatches"] - before == 1
    before = native_device.stats["dispatches"]
    clipped.step()  # square, sum of squares (1-2 reduction passes), update
    assert native_device.stats["dispatches"] - before <= 4
    # the norm binding of unclipped steps is one placeholder per device (device.op_state), not one per optimizer
    placeholder = native_device.op_state["optim.no_norm"]
    SGD(store, lr=0.1).step()
    assert native_device.op_state["optim.no_norm"] is placeholder


def test_schedules_and_state_roundtrip(any_device):
    device = any_device
    store = make_store(device)
    opt = Adam(store, lr=0.1)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    assert [round(sched.step(), 6) for _ in range(4)] == [0.1, 0.05, 0.05, 0.025]
    cos = CosineAnnealingLR(Adam(store, lr=1.0), t_max=4, eta_min=0.0)
    assert [round(cos.step(), 6) for _ in range(4)] == [
        round((1 + math.cos(math.pi * k / 4)) / 2, 6) for k in (1, 2, 3, 4)
    ]
    set_grads(store, GW, GB)
    opt.step()
    state = opt.state_dict()
    other = Adam(make_store(device), lr=0.5)
    other.load_state_dict(state)
    assert other.steps == 1 and other.lr == opt.lr
    np.testing.assert_array_equal(other.state["exp_avg"].numpy(), opt.state["exp_avg"].numpy())
    with pytest.raises(ValueError, match="holds Adam state"):
        SGD(make_store(device), lr=0.1).load_state_dict(state)


def test_bad_hyperparameters():
    store = make_store(gpuml.get_device("cpu"))
    with pytest.raises(ValueError, match="learning rate must be positive"):
        SGD(store, lr=0)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(store, lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="ParameterStore"):
        Adam([np.zeros(3)], lr=0.1)
