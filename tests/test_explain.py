"""Explanations: Grad-CAM vs its float64 formula, occlusion vs brute force, saliency vs finite differences,
guided backprop, filters, activations, max-activating images, activation maximisation, t-SNE."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import partial

from gpuml import explain, nn

SPEC = "conv 4 3 pad1 relu | conv 6 3 relu | maxpool 2 | flatten | fc 10"


@pytest.fixture
def model(any_device):
    return nn.from_spec(SPEC, input_shape=(1, 8, 8), device=any_device, seed=4)


@pytest.fixture
def images():
    return np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)


def test_resolve_layer(model):
    assert explain.resolve_layer(model, "last_conv") == 3  # conv(2) -> relu(3), before the pool
    assert explain.resolve_layer(model, -1) == len(model.layers) - 1
    with pytest.raises(ValueError, match="out of range"):
        explain.resolve_layer(model, 40)


def test_grad_cam_equals_float64_formula(model, images):
    parts = explain.grad_cam(model, images, target_class=[1, 5, 7], return_parts=True)
    a = parts["activations"].astype(np.float64)
    g = parts["gradients"].astype(np.float64)
    alpha = g.mean(axis=(2, 3))
    cam = np.maximum((alpha[:, :, None, None] * a).sum(axis=1), 0)
    np.testing.assert_allclose(parts["cam_lowres"], cam, rtol=1e-4, atol=1e-6)
    assert parts["cam"].shape == (3, 8, 8)
    assert parts["cam"].min() >= 0 and parts["cam"].max() <= 1.0 + 1e-6
    assert parts["classes"].tolist() == [1, 5, 7]


def test_grad_cam_device_matches_grad_cam(model, images):
    """The numpy-free Grad-CAM (what the web page runs in Pyodide) gives grad_cam's low-resolution map."""
    parts = explain.grad_cam(model, images, return_parts=True)
    out = explain.grad_cam_device(model, images)
    np.testing.assert_allclose(out["cam"].numpy(), parts["cam_lowres"], rtol=1e-5, atol=1e-6)
    assert out["classes"] == parts["classes"].tolist()
    assert out["layer"] == 3 and out["outputs"][-1].shape == (3, 10)
    fixed = explain.grad_cam_device(model, images, target_class=[1, 5, 7])
    ref = explain.grad_cam(model, images, target_class=[1, 5, 7], return_parts=True)["cam_lowres"]
    np.testing.assert_allclose(fixed["cam"].numpy(), ref, rtol=1e-5, atol=1e-6)


def test_hires_cam_equals_float64_formula_and_device(model, images):
    """HiResCAM: the gradients are not averaged over positions, ReLU(sum_k dscore/dA_k * A_k)."""
    parts = explain.grad_cam(model, images, target_class=[1, 5, 7], hires=True, return_parts=True)
    a, g = parts["activations"].astype(np.float64), parts["gradients"].astype(np.float64)
    cam = np.maximum((g * a).sum(axis=1), 0)
    np.testing.assert_allclose(parts["cam_lowres"], cam, rtol=1e-4, atol=1e-6)
    assert cam.max() > 0 and not np.allclose(
        cam, explain.grad_cam(model, images, [1, 5, 7], return_parts=True)["cam_lowres"]
    )
    out = explain.grad_cam_device(model, images, target_class=[1, 5, 7], hires=True)
    np.testing.assert_allclose(out["cam"].numpy(), parts["cam_lowres"], rtol=1e-5, atol=1e-6)


def test_hires_cam_against_pytorch(images):
    """An independent reference: PyTorch autograd on the same weights (CPU backend model)."""
    torch = pytest.importorskip("torch")
    import gpuml

    m = nn.from_spec(SPEC, input_shape=(1, 8, 8), device=gpuml.get_device("cpu"), seed=4)
    w = {k: torch.tensor(np.asarray(v, np.float64)) for k, v in m.state_dict().items()}
    x = torch.tensor(images.astype(np.float64))
    h = torch.relu(torch.nn.functional.conv2d(x, w["0.weight"], w["0.bias"], padding=1))
    a = torch.relu(torch.nn.functional.conv2d(h, w["2.weight"], w["2.bias"])).detach().requires_grad_(True)
    logits = torch.nn.functional.max_pool2d(a, 2).flatten(1) @ w["6.weight"].T + w["6.bias"]
    logits[torch.arange(3), torch.tensor([1, 5, 7])].sum().backward()
    want = torch.relu((a.grad * a).sum(1)).detach().numpy()
    got = explain.grad_cam(m, images, target_class=[1, 5, 7], hires=True, return_parts=True)["cam_lowres"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_grad_cam_gradients_match_finite_differences(model, images):
    """The gradients Grad-CAM uses are d score_c / d A: check them by perturbing A through the layers above."""
    parts = explain.grad_cam(model, images[:1], target_class=2, return_parts=True)
    acts = parts["activations"]
    i = explain.resolve_layer(model, "last_conv")

    def score(a):
        x = a
        for layer in model.layers[i + 1 :]:
            x = layer.forward(x)
        return float(np.asarray(x)[0, 2])

    rng = np.random.default_rng(1)
    checked = 0
    for flat in rng.choice(acts.size, 12, replace=False):
        numeric = partial(score, acts, flat)
        if numeric is None:  # the step crossed a max-pool or ReLU kink
            continue
        checked += 1
        assert abs(parts["gradients"].flat[flat] - numeric) < 1e-2 * max(1.0, abs(numeric)), flat
    assert checked >= 6


def test_saliency_matches_finite_differences(model, images):
    x = images[:1]
    grad = explain.input_gradient(model, x, 3)[0]

    def score(xv):
        return float(model.forward(xv).numpy()[0, 3])

    checked = 0
    for flat in [0, 9, 20, 27, 41, 63]:
        numeric = partial(score, x, flat)
        if numeric is None:
            continue
        checked += 1
        assert abs(grad.flat[flat] - numeric) < 2e-3 + 2e-2 * abs(numeric)
    assert checked >= 3
    sal = explain.saliency(model, x, 3)
    np.testing.assert_allclose(sal[0], np.abs(grad).max(axis=0), rtol=1e-6)


def test_guided_backprop_keeps_only_positive_paths(model, images):
    guided = explain.guided_backprop(model, images[:1], 0)
    plain = explain.input_gradient(model, images[:1], 0)
    assert guided.shape == plain.shape and not np.allclose(guided, plain)
    assert not any(getattr(m, "guided", False) for m in model.layers)  # switched back off


def test_occlusion_equals_brute_force(model, images):
    x = images[:1]
    heat = explain.occlusion(model, x, target_class=4, patch=3, stride=2, fill=0.0)

    def prob(xv):
        z = model.forward(xv).numpy().astype(np.float64)[0]
        e = np.exp(z - z.max())
        return e[4] / e.sum()

    base = prob(x)
    expected = np.zeros((8, 8))
    count = np.zeros((8, 8))
    for py in range(0, 6, 2):
        for px in range(0, 6, 2):
            occluded = x.copy()
            occluded[0, :, py : py + 3, px : px + 3] = 0.0
            expected[py : py + 3, px : px + 3] += base - prob(occluded)
            count[py : py + 3, px : px + 3] += 1
    np.testing.assert_allclose(heat, expected / np.maximum(count, 1), atol=2e-6)


def test_filters_activations_and_max_activating(model, images):
    f = explain.filters(model, 0)
    assert f.shape == (4, 1, 3, 3) and f.min() == 0.0 and np.allclose(f.max(axis=(1, 2, 3)), 1.0)
    a = explain.activations(model, images, 1)
    assert a.shape == (3, 4, 8, 8) and a.min() >= 0  # after the ReLU
    top, scores = explain.max_activating(model, images, 1, channel=2, k=2)
    means = a[:, 2].mean(axis=(1, 2))
    assert top.tolist() == np.argsort(-means, kind="stable")[:2].tolist()
    np.testing.assert_allclose(scores, means[top], rtol=1e-5)


def test_maximize_activation_raises_the_activation(model):
    i = 2  # the second conv's output, before its ReLU (a dead ReLU has no gradient to climb)
    start = np.full((1, 1, 8, 8), 0.5, np.float32)
    before = explain.activations(model, start, i)[0, 1].mean()
    img = explain.maximize_activation(model, i, channel=1, steps=30, lr=0.05)
    after = explain.activations(model, img[None], i)[0, 1].mean()
    assert img.shape == (1, 8, 8) and 0 <= img.min() and img.max() <= 1
    assert after > before + 0.1


def test_embed_returns_2d_points(model):
    imgs = np.random.default_rng(2).random((40, 1, 8, 8), dtype=np.float32)
    xy, idx = explain.embed(model, imgs, layer=-1, n=30)
    assert xy.shape == (30, 2) and np.isfinite(xy).all() and len(set(idx.tolist())) == 30
