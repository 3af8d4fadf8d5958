"""Issue #18 point 4: GELU, LeakyReLU, Sigmoid layers; MSE and BCE-with-logits losses (value and gradient from one
kernel) against float64 numpy, torch autograd and finite differences; NaN in gives NaN out; summary(),
named_parameters(), the overwrite semantics of backward, zero_grad; the spec tokens; short real training runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from cases import ref_bce, ref_bce_backward, ref_gelu, ref_gelu_backward, ref_mse
from gradcheck import partial

import gpuml
from gpuml import nn
from gpuml.nn import functional as F
from gpuml.testing import assert_close

RNG = np.random.default_rng(5)
X = (RNG.standard_normal((6, 37)) * 3).astype(np.float32)
G = RNG.standard_normal((6, 37)).astype(np.float32)
T01 = RNG.uniform(0, 1, (6, 37)).astype(np.float32)


# --- activations ------------------------------------------------------------------------------------------------------
ACTIVATIONS = {
    "gelu": (lambda: nn.GELU(), "gelu", {}),
    "gelu-tanh": (lambda: nn.GELU("tanh"), "gelu", {"approximate": "tanh"}),
    "leakyrelu": (lambda: nn.LeakyReLU(0.1), "leaky_relu", {"negative_slope": 0.1}),
    "sigmoid": (lambda: nn.Sigmoid(), "sigmoid", {}),
    "tanh": (lambda: nn.Tanh(), "tanh", {}),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_layers_match_torch_autograd(any_device, name):
    torch = pytest.importorskip("torch")
    make, torch_name, kwargs = ACTIVATIONS[name]
    model = nn.Sequential(make()).build((37,), any_device)
    y = model.forward(X).numpy()
    dx = model.backward(G).numpy()
    tx = torch.tensor(X.astype(np.float64), requires_grad=True)
    ty = getattr(torch.nn.functional, torch_name)(tx, **kwargs)
    ty.backward(torch.from_numpy(G.astype(np.float64)))
    assert_close(y, ty.detach().numpy(), "transcendental", f"{name} forward")
    assert_close(dx, tx.grad.numpy(), "transcendental", f"{name} backward")


def test_gelu_against_float64_and_its_tails(any_device):
    """Both forms against float64 formulas over a wide range; the exact form keeps its relative accuracy in the left
    tail (x * (1 + erf(x / sqrt 2)) / 2 in float32 would cancel to 0 or lose all digits there)."""
    x = np.concatenate([np.linspace(-12, 12, 2001), [-1e30, 1e30, 0.0]]).astype(np.float32)
    for approx in ("none", "tanh"):
        got = F.gelu(gpuml.tensor(x, device=any_device), approx).numpy()
        assert_close(got, ref_gelu(x.astype(np.float64), approx), "transcendental", f"gelu {approx}")
        g = F.gelu_backward(np.ones_like(x), x, approx).numpy()
        assert_close(g, ref_gelu_backward(1.0, x.astype(np.float64), approx), "transcendental", f"d gelu {approx}")
    tail = np.array([-5.0, -7.0, -9.0], np.float32)
    got = F.gelu(gpuml.tensor(tail, device=any_device)).numpy().astype(np.float64)
    ref = ref_gelu(tail.astype(np.float64))
    np.testing.assert_allclose(got, ref, rtol=2e-5)  # values ~ -1.4e-6, -9e-12, -1e-18: relative accuracy kept


def test_leaky_relu_slope_at_zero_and_negative_slopes(any_device):
    x = np.array([-2.0, -0.0, 0.0, 3.0], np.float32)
    g = np.array([1.0, 1.0, 1.0, 1.0], np.float32)
    for slope in (0.01, 0.0, -0.5, 2.0):
        dx = F.leaky_relu_backward(gpuml.tensor(g, device=any_device), x, slope).numpy()
        assert dx.tolist() == [np.float32(slope), np.float32(slope), np.float32(slope), 1.0]  # x == 0: slope (torch)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="shapes must match"):
        F.gelu_backward(np.ones(3, np.float32), np.ones(4, np.float32))


# --- losses -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(any_device, reduction):
    torch = pytest.importorskip("torch")
    logits = X * np.float32(4.0)  # up to ~40: the saturated ends
    for fn, tfn, x, t in [
        (F.mse_loss, torch.nn.functional.mse_loss, X, T01 * 2),
        (F.binary_cross_entropy_with_logits, torch.nn.functional.binary_cross_entropy_with_logits, logits, T01),
    ]:
        loss, grad = fn(gpuml.tensor(x, device=any_device), t, reduction, return_grad=True)
        tx = torch.tensor(x.astype(np.float64), requires_grad=True)
        tl = tfn(tx, torch.from_numpy(t.astype(np.float64)), reduction=reduction)
        tl.sum().backward()
        kind = "reduction" if reduction != "none" else "transcendental"
        assert loss.shape == tl.shape
        assert_close(loss.numpy(), tl.detach().numpy(), kind, f"{fn.__name__} {reduction}")
        assert_close(grad.numpy(), tx.grad.numpy(), "transcendental", f"{fn.__name__} grad {reduction}")


@pytest.mark.parametrize("name", ["mse", "bce"])
def test_loss_gradients_match_finite_differences(any_device, name):
    fn = F.mse_loss if name == "mse" else F.binary_cross_entropy_with_logits
    x, t = X[:2, :9].copy(), T01[:2, :9].copy()
    _, grad = fn(gpuml.tensor(x, device=any_device), t, "mean", return_grad=True)
    grad = grad.numpy()

    def f(v):
        return float(fn(gpuml.tensor(v, device=any_device), t, "mean").numpy())

    f0 = f(x)
    for i in range(x.size):
        numeric = partial(f, x, i, 1e-2, f0)  # smooth everywhere: no point may be skipped
        assert numeric is not None
        assert abs(grad.flat[i] - numeric) <= 1e-4 + 1e-2 * abs(numeric), (i, grad.flat[i], numeric)


def test_bce_with_logits_is_stable_at_large_logits(any_device):
    """No overflow for any finite logit, and relative accuracy where the loss is tiny (log1p, not log(1 + e))."""
    x = np.array([30.0, -30.0, 88.0, -88.0, 1e4, -1e4, 3e38, 17.0], np.float32)
    t = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0], np.float32)
    loss, grad = F.binary_cross_entropy_with_logits(gpuml.tensor(x, device=any_device), t, "none", return_grad=True)
    loss, grad = loss.numpy().astype(np.float64), grad.numpy()
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    ref = ref_bce(x64, t64, "none")
    assert np.all(np.isfinite(loss))
    np.testing.assert_allclose(loss[[0, 1, 7]], ref[[0, 1, 7]], rtol=1e-5)  # 9.4e-14, 9.4e-14, 4.1e-8
    np.testing.assert_allclose(loss[4:6], [1e4, 1e4], rtol=1e-7)
    assert loss[2] < 1e-37 and loss[3] < 1e-37  # ~6e-39 (or 0 where the device flushes subnormals)
    np.testing.assert_allclose(grad, ref_bce_backward(x64, t64, "none"), atol=1e-7)


def test_loss_objects(any_device):
    crit = nn.MSELoss()
    assert repr(crit) == "MSELoss(reduction='mean')"
    with pytest.raises(RuntimeError, match="before a forward"):
        crit.backward()
    loss = crit(gpuml.tensor(X, device=any_device), T01)
    assert loss.shape == () and abs(loss.item() - ref_mse(X.astype(np.float64), T01)) < 1e-4
    np.testing.assert_allclose(crit.backward().numpy(), 2 * (X - T01) / X.size, rtol=1e-5, atol=1e-9)
    bce = nn.BCEWithLogitsLoss(reduction="sum")
    value = bce(gpuml.tensor(X, device=any_device), T01).item()
    assert abs(value - ref_bce(X.astype(np.float64), T01, "sum")) < 1e-5 * abs(value)
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        nn.BCEWithLogitsLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"shapes must match \(no broadcasting\)"):
        F.mse_loss(np.ones((3, 2), np.float32), np.ones((3, 1), np.float32))
    labels = np.array([0, 3, 1, 2, 3, 0], np.int32)
    ce = nn.CrossEntropyLoss()
    ce_loss = ce(gpuml.tensor(X[:, :4], device=any_device), labels).item()
    row, _, grad = F.softmax_cross_entropy(X[:, :4], labels)
    assert abs(ce_loss - float(np.mean(row.numpy()))) < 1e-6
    np.testing.assert_array_equal(ce.backward().numpy(), grad.numpy())


# --- NaN in, NaN out --------------------------------------------------------------------------------------------------
def test_nan_in_gives_nan_out(any_device):
    x = np.array([np.nan, 1.5, -2.0, np.nan, 0.25], np.float32)
    nan = np.isnan(x)
    t = np.array([0.5, np.nan, 0.5, 0.5, 0.5], np.float32)
    ones = np.ones_like(x)
    outs = {
        "gelu": F.gelu(gpuml.tensor(x, device=any_device)),
        "gelu tanh": F.gelu(gpuml.tensor(x, device=any_device), "tanh"),
        "gelu_backward": F.gelu_backward(gpuml.tensor(ones, device=any_device), x),
        "gelu_backward tanh": F.gelu_backward(gpuml.tensor(ones, device=any_device), x, "tanh"),
        "leaky_relu": F.leaky_relu(gpuml.tensor(x, device=any_device), 0.1),
        "leaky_relu_backward": F.leaky_relu_backward(gpuml.tensor(ones, device=any_device), x, 0.1),
    }
    for name, out in outs.items():
        np.testing.assert_array_equal(np.isnan(out.numpy()), nan, err_msg=name)
    for fn in (F.mse_loss, F.binary_cross_entropy_with_logits):
        loss, grad = fn(gpuml.tensor(x, device=any_device), t, "none", return_grad=True)
        np.testing.assert_array_equal(np.isnan(loss.numpy()), nan | np.isnan(t), err_msg=fn.__name__)
        np.testing.assert_array_equal(np.isnan(grad.numpy()), nan | np.isnan(t), err_msg=fn.__name__)
        assert math.isnan(fn(gpuml.tensor(x, device=any_device), t).item())  # the mean too
    # a NaN gradient flows through the activation backward passes
    g = np.array([np.nan, 1.0, 1.0, 1.0, 1.0], np.float32)
    xf = np.nan_to_num(x)
    for out in (F.gelu_backward(gpuml.tensor(g, device=any_device), xf), F.leaky_relu_backward(g, xf, 0.1)):
        assert np.isnan(out.numpy()).tolist() == [True, False, False, False, False]


# --- model conveniences -----------------------------------------------------------------------------------------------
def test_summary_counts_match_torch(cpu_device):
    torch = pytest.importorskip("torch")
    model = nn.lenet5(device=cpu_device)
    s = model.summary()
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(6, 16, 5),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
        torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10),
    )  # fmt: skip
    assert s.total_params == s.trainable_params == model.num_parameters() == 61_706
    assert s.total_params == sum(p.numel() for p in tm.parameters())
    assert [r.params for r in s.rows] == [sum(p.numel() for p in m.parameters()) for m in tm]
    out = torch.zeros(1, 1, 28, 28)
    for row, m in zip(s.rows, tm, strict=True):
        out = m(out)
        assert row.output_shape == (None, *out.shape[1:]), row
    # PyTorch's names and shapes, in layer order
    named = list(model.named_parameters())
    assert [(n, p.shape) for n, p in named] == [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert dict(named).keys() == model.state_dict().keys()
    text = str(s)
    for line in ("Total params: 61,706", "Trainable params: 61,706", "Non-trainable params: 0"):
        assert line in text
    assert "(N, 6, 28, 28)" in text and "Linear(400, 120)" in text and "48,120" in text
    bn = nn.from_spec("lenet5-bn", device=cpu_device).summary()
    assert bn.total_params == 61_706 + 2 * (6 + 16) and bn.buffers == 2 * (6 + 16)
    assert "Buffers (running statistics, saved with the model): 44" in str(bn)
    with pytest.raises(RuntimeError, match="build"):
        nn.Sequential(nn.Linear(3, 2)).summary()


def test_backward_overwrites_gradients_and_zero_grad(any_device):
    """Documented semantics: backward writes each parameter's gradient for its own grad (no accumulation)."""
    spec = "conv 4 3 pad1 bn gelu | maxpool 2 | fc 8 leakyrelu 0.1 | fc 3 sigmoid"
    model = nn.from_spec(spec, input_shape=(2, 6, 6), device=any_device, seed=1)
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 4, 2, 6, 6)).astype(np.float32)
    g1, g2 = rng.standard_normal((2, 4, 3)).astype(np.float32)
    model.forward(x2)
    model.backward(g2)
    alone = model.parameters().grad.numpy().copy()
    model.forward(x1)
    model.backward(g1)
    model.forward(x2)
    model.backward(g2)
    np.testing.assert_array_equal(model.parameters().grad.numpy(), alone)  # not g1's + g2's
    assert np.count_nonzero(alone) > 0.9 * model.num_parameters()
    model.zero_grad()
    assert not model.parameters().grad.numpy().any()
    assert not any(p.grad.numpy().any() for _, p in model.named_parameters())


# --- spec language and save/load --------------------------------------------------------------------------------------
def test_spec_tokens_for_the_new_activations(cpu_device):
    spec = "conv 4 3 pad1 bn leakyrelu 0.2 | gelu_tanh | fc 16 gelu | leakyrelu | fc 8 sigmoid | fc 2"
    model = nn.from_spec(spec, input_shape=(1, 6, 6), device=cpu_device)
    assert [m.describe() for m in model.layers] == [
        "Conv2d(1, 4, kernel=(3, 3), stride=(1, 1), padding=(1, 1))",
        "BatchNorm2d(4)",
        "LeakyReLU(0.2)",
        "GELU(approximate='tanh')",
        "Flatten",
        "Linear(144, 16)",
        "GELU()",
        "LeakyReLU(0.01)",
        "Linear(16, 8)",
        "Sigmoid",
        "Linear(8, 2)",
    ]
    assert nn.models.spec_of(model) == spec
    model.spec = None  # a model built in Python: spec_of writes the tokens of every layer
    assert nn.models.spec_of(model) == (
        "conv 4 3 pad1 | bn | leakyrelu 0.2 | gelu_tanh | flatten | fc 16 | gelu | leakyrelu 0.01 | fc 8 | sigmoid "
        "| fc 2"
    )
    with pytest.raises(nn.SpecError, match=r"bad token 'swish'.*relu, tanh, sigmoid, gelu, gelu_tanh, leakyrelu"):
        nn.from_spec("fc 4 swish", input_shape=(3,), device=cpu_device)
    with pytest.raises(nn.SpecError, match="bad token 'gelu'"):
        nn.from_spec("gelu 0.5", input_shape=(3,), device=cpu_device)


def test_save_load_keeps_the_new_layers(tmp_path, cpu_device):
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(None, 7), nn.GELU("tanh"), nn.Linear(None, 5), nn.LeakyReLU(-0.2), nn.Sigmoid()
    ).build((2, 3), cpu_device, seed=4)
    x = np.random.default_rng(1).standard_normal((3, 2, 3)).astype(np.float32)
    gpuml.save(model, tmp_path / "m.npz")
    back = gpuml.load(tmp_path / "m.npz", device=cpu_device)
    assert [m.describe() for m in back.layers] == [m.describe() for m in model.layers]
    np.testing.assert_array_equal(back.forward(x).numpy(), model.eval().forward(x).numpy())


# --- short real training runs -----------------------------------------------------------------------------------------
def test_gelu_mlp_learns_a_binary_task_with_bce(device):
    """Two interleaved half-moons: an MLP with GELU and BCE-with-logits reaches > 95% accuracy."""
    from gpuml.optim import Adam

    rng = np.random.default_rng(0)
    n = 256
    angle = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    x = np.stack([np.cos(angle) + label * 1.0 - 0.5, np.sin(angle) * (1 - 2 * label) + label * 0.3], 1)
    x = (x + rng.normal(0, 0.08, x.shape)).astype(np.float32)
    y = label.astype(np.float32)[:, None]
    model = nn.from_spec("fc 32 gelu | fc 32 gelu | fc 1", input_shape=(2,), device=device, seed=0)
    opt = Adam(model.parameters(), lr=1e-2)
    crit = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(150):
        losses.append(crit(model(x), y).item())
        model.backward(crit.backward())
        opt.step()
    accuracy = float(((model(x).numpy() > 0) == (y > 0.5)).mean())
    assert losses[-1] < 0.3 * losses[0] and accuracy > 0.95, (losses[0], losses[-1], accuracy)


def test_mse_regression_with_leaky_relu(device):
    from gpuml.optim import Adam

    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, (200, 1)).astype(np.float32)
    y = (np.sin(2 * x) + 0.1 * x**2).astype(np.float32)
    model = nn.from_spec("fc 32 leakyrelu 0.1 | fc 32 tanh | fc 1", input_shape=(1,), device=device, seed=0)
    opt = Adam(model.parameters(), lr=1e-2)
    crit = nn.MSELoss()
    first = crit(model(x), y).item()
    for _ in range(200):
        crit(model(x), y)
        model.backward(crit.backward())
        opt.step()
    last = crit(model(x), y).item()
    assert last < 0.02 and last < 0.05 * first, (first, last)
