"""Layers: backward vs finite differences and torch autograd; loss; dropout; specs; a short real training run."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import central, partial

import gpuml
from gpuml import nn
from gpuml.nn import functional as F


def numeric_grads(model, x, g, eps=1e-2, max_points=40, seed=0, kink=1e-2):
    """Central differences of sum(model(x) * g) w.r.t. sampled inputs and parameters (float64 accumulation)."""
    rng = np.random.default_rng(seed)

    def f(xv):
        return float((model.forward(xv).numpy().astype(np.float64) * g).sum())

    x = x.astype(np.float32)
    f0 = f(x)
    idx_x = rng.choice(x.size, min(max_points, x.size), replace=False)
    gx = {i: partial(f, x, i, eps, f0, kink) for i in idx_x}
    store = model.parameters()
    flat = store.data.numpy().copy()
    gp = {}
    for p in store:
        for j in rng.choice(p.size, min(max_points // 2, p.size), replace=False):
            k = p.offset + j
            values = []
            for sign in (1, -1):
                pert = flat.copy()
                pert[k] += sign * eps
                store.data.assign(pert)
                values.append(f(x))
            gp[k] = central(values[0], f0, values[1], eps, kink)
    store.data.assign(flat)
    return {k: v for k, v in gx.items() if v is not None}, {k: v for k, v in gp.items() if v is not None}


def check_backward(model, x, rtol=2e-2, atol=2e-3, kink=1e-2):
    """``kink``: one-sided slopes further apart than this (+5%) mark a kink, and the point is skipped; at ``atol``
    or below, a kink that goes undetected costs at most the tolerance (a leaky ReLU's small slope jump needs it)."""
    out_shape = model.forward(x).shape
    g = np.random.default_rng(1).standard_normal(out_shape)
    dx = model.backward(gpuml.tensor(g.astype(np.float32))).numpy()
    grads = model.parameters().grad.numpy()
    gx, gp = numeric_grads(model, x, g, kink=kink)
    assert len(gx) >= 5 and len(gp) >= 5, f"too few smooth points: {len(gx)} inputs, {len(gp)} parameters"
    for i, v in gx.items():
        assert abs(dx.flat[i] - v) <= atol + rtol * abs(v), f"input grad [{i}]: {dx.flat[i]} vs numeric {v}"
    for k, v in gp.items():
        assert abs(grads[k] - v) <= atol + rtol * abs(v), f"param grad [{k}]: {grads[k]} vs numeric {v}"


LAYERS = {
    "linear": (lambda: [nn.Linear(None, 5)], (7,)),
    "linear-relu": (lambda: [nn.Linear(None, 6), nn.ReLU(), nn.Linear(None, 3)], (9,)),
    "tanh": (lambda: [nn.Linear(None, 4), nn.Tanh()], (5,)),
    "sigmoid": (lambda: [nn.Linear(None, 4), nn.Sigmoid(), nn.Linear(None, 3)], (5,)),
    "gelu": (lambda: [nn.Linear(None, 6), nn.GELU(), nn.Linear(None, 3)], (5,)),
    "gelu-tanh": (lambda: [nn.Linear(None, 6), nn.GELU("tanh"), nn.Linear(None, 3)], (5,)),
    "leakyrelu": (lambda: [nn.Linear(None, 6), nn.LeakyReLU(0.1), nn.Linear(None, 3)], (5,)),
    "leakyrelu-negative-slope": (lambda: [nn.Linear(None, 6), nn.LeakyReLU(-0.3), nn.Linear(None, 3)], (5,)),
    "gelu-conv-sigmoid": (
        lambda: [nn.GELU(), nn.Conv2d(None, 3, 3, padding=1), nn.Sigmoid(), nn.Flatten(), nn.Linear(None, 2)],
        (2, 4, 4),
    ),
    "flatten-linear": (lambda: [nn.Flatten(), nn.Linear(None, 3)], (2, 3, 3)),
    "batchnorm": (lambda: [nn.BatchNorm2d(), nn.Flatten(), nn.Linear(None, 2)], (3, 4, 5)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_backward_matches_finite_differences(any_device, name):
    device = any_device
    make, shape = LAYERS[name]
    model = nn.Sequential(*make()).build(shape, device, seed=3)
    x = np.random.default_rng(2).standard_normal((4, *shape)).astype(np.float32)
    check_backward(model, x, kink=2e-3)


def test_layers_match_torch_autograd(any_device):
    device = any_device
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.BatchNorm2d(), nn.Flatten(), nn.Linear(None, 6), nn.Tanh(), nn.Linear(None, 4)).build(
        (3, 4, 4), device, seed=0
    )
    state = model.state_dict()
    tm = torch.nn.Sequential(
        torch.nn.BatchNorm2d(3),
        torch.nn.Flatten(),
        torch.nn.Linear(48, 6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 4),
    ).double()
    with torch.no_grad():
        for tp, key in zip(
            tm.parameters(), ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"], strict=True
        ):
            tp.copy_(torch.from_numpy(state[key].astype(np.float64)))
    x = np.random.default_rng(0).standard_normal((5, 3, 4, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 2, 3], np.int32)
    logits = model.forward(x)
    row_loss, _, grad = F.softmax_cross_entropy(logits, labels)
    dx = model.backward(grad).numpy()
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    tlogits = tm(tx)
    tloss = torch.nn.functional.cross_entropy(tlogits, torch.tensor(labels, dtype=torch.long))
    tloss.backward()
    np.testing.assert_allclose(logits.numpy(), tlogits.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert abs(float(row_loss.numpy().mean()) - tloss.item()) < 1e-5
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-3, atol=1e-6)
    store = model.parameters()
    for (name, tp), key in zip(
        tm.named_parameters(), ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"], strict=True
    ):
        np.testing.assert_allclose(store[key].grad.numpy(), tp.grad.numpy(), rtol=1e-3, atol=1e-6, err_msg=name)
    # running statistics as torch's (momentum 0.1, unbiased variance)
    np.testing.assert_allclose(model.layers[0].running_var.numpy(), tm[0].running_var.numpy(), rtol=1e-5)


def test_softmax_cross_entropy_against_float64(any_device):
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((37, 10)) * 5).astype(np.float32)
    labels = rng.integers(0, 10, 37).astype(np.int32)
    loss, correct, grad = F.softmax_cross_entropy(logits, labels)
    z = logits.astype(np.float64)
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    np.testing.assert_allclose(loss.numpy(), -logp[np.arange(37), labels], rtol=1e-5, atol=1e-6)
    expected = np.exp(logp)
    expected[np.arange(37), labels] -= 1
    np.testing.assert_allclose(grad.numpy(), expected / 37, rtol=1e-5, atol=1e-7)
    assert correct.numpy().tolist() == (logits.argmax(1) == labels).astype(float).tolist()


def test_dropout_mask_is_shared_by_forward_and_backward(any_device):
    device = any_device
    layer = nn.Dropout(0.3, seed=7)
    model = nn.Sequential(layer).build((1000,), device)
    x = np.ones((4, 1000), np.float32)
    y = model.forward(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    g = model.backward(np.full((4, 1000), 2.0, np.float32)).numpy()
    assert np.array_equal(g != 0, kept)
    model.eval()
    assert np.array_equal(model.forward(x).numpy(), x)


def test_dropout_masks_agree_across_backends(native_device, cpu_device, python_device):
    x = np.arange(3000, dtype=np.float32)
    a = F.dropout(gpuml.tensor(x, device=native_device), 0.4, 123).numpy()
    b = F.dropout(gpuml.tensor(x, device=cpu_device), 0.4, 123).numpy()
    c = F.dropout(gpuml.tensor(x, device=python_device), 0.4, 123).numpy()
    np.testing.assert_array_equal(a != 0, b != 0)
    np.testing.assert_array_equal(c, b)


@pytest.mark.parametrize("m, n, k", [(8, 5, 12), (6, 3, 7), (4, 10, 4)])
def test_linear_weight_grad_lands_in_the_store(any_device, m, n, k):
    """grad.T @ x written into a view of the parameter store's gradient buffer (one GEMM there on WebGPU when M and
    K are multiples of 4, a matmul and a copy otherwise); the rest of the buffer is untouched."""
    rng = np.random.default_rng(8)
    grad, x = rng.standard_normal((m, n)).astype(np.float32), rng.standard_normal((m, k)).astype(np.float32)
    store = nn.ParameterStore(any_device)
    store.add("a", np.zeros(3, np.float32), decay=False)
    store.add("w", np.zeros((n, k), np.float32), decay=True)
    store.build()
    store.grad.assign(np.full(store.grad.size, 7.0, np.float32))
    w = store["w"]
    out = F.linear_weight_grad(grad, x, w.grad)
    assert out is w.grad
    np.testing.assert_allclose(w.grad.numpy(), grad.T.astype(np.float64) @ x, rtol=1e-5, atol=1e-5)
    flat = store.grad.numpy()
    outside = np.ones(flat.size, bool)
    outside[w.offset : w.offset + w.size] = False
    assert np.all(flat[outside] == 7.0)
    with pytest.raises(ValueError, match="share M"):
        F.linear_weight_grad(grad, x[1:], w.grad)
    with pytest.raises(ValueError, match=rf"shape \({n}, {k}\)"):
        F.linear_weight_grad(grad, x, store["a"].grad)


def test_half_is_attached_without_an_import_cycle(cpu_device):
    """Sequential.half comes from gpuml.nn.half (gpuml.nn.layers does not import it); off WebGPU it names the
    missing feature."""

    assert gpuml.nn.Sequential.half.__module__ == "gpuml.nn.half"
    with pytest.raises(RuntimeError, match="shader-f16"):
        nn.lenet5(device=cpu_device).half()


def test_spec_errors_name_the_problem():
    with pytest.raises(nn.SpecError, match="bad token 'pooling'"):
        nn.from_spec("conv 6 5 | pooling 2", device=gpuml.get_device("cpu"))
    with pytest.raises(nn.SpecError, match="bad token 'x5'"):
        nn.from_spec("conv 6 x5", device=gpuml.get_device("cpu"))
    with pytest.raises(nn.SpecError, match=r"layer 2 \(Conv2d.*does not fit input 1x1"):
        nn.from_spec("conv 4 3 | maxpool 8 | conv 4 5", input_shape=(1, 16, 16), device=gpuml.get_device("cpu"))
    with pytest.raises(ValueError, match=r"layer 1 \(Linear\(12, 3\)\): .*got 10 input features"):
        nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).build((10,), gpuml.get_device("cpu"))


def test_mlp_learns_digits(device):
    """A real (short) training run: an MLP on scikit-learn's 8x8 digits reaches > 90% test accuracy."""
    from gpuml.datasets import batches, digits
    from gpuml.optim import Adam

    train, test = digits("train"), digits("test")
    model = nn.from_spec("flatten | fc 64 relu | fc 10", input_shape=(1, 8, 8), device=device, seed=0)
    opt = Adam(model.parameters(), lr=3e-3)
    for epoch in range(8):
        for xb, yb in batches(train, 32, seed=0, epoch=epoch):
            _, _, grad = F.softmax_cross_entropy(model.forward(xb), yb)
            model.backward(grad)
            opt.step()
    model.eval()
    pred = gpuml.ops.argmax(model.forward(test.images), axis=1).numpy()
    accuracy = float((pred == test.labels).mean())
    assert accuracy > 0.90, accuracy
