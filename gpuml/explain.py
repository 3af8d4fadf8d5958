"""Explain a trained ``gpuml.nn`` model: filters, activations, Grad-CAM, saliency, guided backprop, occlusion,
maximally activating images, activation maximisation and t-SNE embeddings.

Everything runs the model's own forward and backward passes on the active backend; results come back as numpy
arrays. ``layer`` is a layer index into ``model.layers`` (negative counts from the end) or ``"last_conv"``: the
output of the last convolution block (after its batch norm / activation, before pooling), where Grad-CAM is
usually taken.
"""

from __future__ import annotations

import array

try:
    import numpy as np
except ImportError:  # Pyodide core: grad_cam_device and resolve_layer work without numpy
    np = None

from . import ops
from .nn import AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d, ReLU, Sequential, Tanh
from .tensor import Tensor, as_tensor

__all__ = [
    "activations",
    "embed",
    "filters",
    "grad_cam",
    "grad_cam_device",
    "guided_backprop",
    "max_activating",
    "maximize_activation",
    "occlusion",
    "resolve_layer",
    "saliency",
]


def resolve_layer(model: Sequential, layer) -> int:
    if layer in (None, "last_conv"):
        convs = [i for i, m in enumerate(model.layers) if isinstance(m, Conv2d)]
        if not convs:
            raise ValueError("model has no Conv2d layer; pass a layer index")
        i = convs[-1]
        while i + 1 < len(model.layers) and isinstance(model.layers[i + 1], BatchNorm2d | ReLU | Tanh):
            i += 1
        return i
    if isinstance(layer, int):
        n = len(model.layers)
        if not -n <= layer < n:
            raise ValueError(f"layer {layer} out of range: the model has {n} layers")
        return layer % n
    raise ValueError(f"layer must be an int index or 'last_conv', got {layer!r}")


def _batch(model: Sequential, x) -> Tensor:
    x = np.asarray(x, np.float32) if not isinstance(x, Tensor) else x
    if len(x.shape) == len(model.input_shape):
        x = x.reshape(1, *x.shape)
    if tuple(x.shape[1:]) != tuple(model.input_shape):
        raise ValueError(f"input shape {tuple(x.shape)} does not match the model's input {model.input_shape}")
    return as_tensor(x, model.device)


def _forward(model: Sequential, x: Tensor, upto: int | None = None) -> list[Tensor]:
    """Eval-mode forward; returns every layer's output (outputs[i] is the output of layer i)."""
    model.eval()
    outs = []
    for i, layer in enumerate(model.layers):
        x = layer.forward(x)
        outs.append(x)
        if upto is not None and i == upto:
            break
    return outs


def _backward(model: Sequential, grad: Tensor, top: int, stop: int) -> Tensor:
    """Backpropagate ``grad`` (w.r.t. the output of layer ``top``) down to the output of layer ``stop``
    (``stop = -1``: the input). Parameter gradients are written as a side effect and ignored."""
    first = model.layers[0]
    saved = getattr(first, "input_grad", None)
    if stop == -1 and saved is False:
        first.input_grad = True  # training skips the first layer's input gradient; explanations need it
    try:
        for i in range(top, stop, -1):
            grad = model.layers[i].backward(grad)
    finally:
        if saved is not None:
            first.input_grad = saved
    return grad


def _onehot(n: int, k: int, classes: np.ndarray, device) -> Tensor:
    g = np.zeros((n, k), np.float32)
    g[np.arange(n), classes] = 1.0
    return as_tensor(g, device)


def _targets(logits: Tensor, target_class) -> np.ndarray:
    n = logits.shape[0]
    if target_class is None:
        return ops.argmax(logits, axis=1).numpy().astype(np.int64)
    return np.broadcast_to(np.asarray(target_class, np.int64), (n,)).copy()


def receptive_centres(model: Sequential, layer: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """For feature maps at the output of ``layer``: ((a_y, b_y), (a_x, b_x)) such that map cell (i, j) is centred
    on input pixel (a_y * i + b_y, a_x * j + b_x) — composed from each convolution's and pooling's kernel, stride,
    padding and dilation. A valid 5x5 convolution, for instance, shifts its map by 2 pixels; stretching the map
    over the whole image instead would misplace the heatmap."""
    axes = [[1.0, 0.0], [1.0, 0.0]]  # input coordinate = a * (coordinate at this depth) + b
    for m in model.layers[: layer + 1]:
        if isinstance(m, Conv2d | MaxPool2d | AvgPool2d):
            dilation = getattr(m, "dilation", (1, 1))
            for d in range(2):
                centre = (m.kernel[d] - 1) / 2 * dilation[d] - m.padding[d]  # output o -> input o*s + centre
                axes[d] = [axes[d][0] * m.stride[d], axes[d][0] * centre + axes[d][1]]
    return (axes[0][0], axes[0][1]), (axes[1][0], axes[1][1])


def upsample(maps: np.ndarray, size: tuple[int, int], centres=None) -> np.ndarray:
    """Bilinear resize of (N, h, w) maps to (N, H, W). ``centres`` ((a_y, b_y), (a_x, b_x)) places cell (i, j) on
    input pixel (a_y i + b_y, a_x j + b_x) (see :func:`receptive_centres`; values beyond the outer cells are held);
    without it, pixel-centre alignment as PIL / align_corners=False."""
    _, h, w = maps.shape
    H, W = size
    if centres is None:
        centres = ((h / H, 0.5 * h / H - 0.5), (w / W, 0.5 * w / W - 0.5))
        ys = np.clip(np.arange(H) * centres[0][0] + centres[0][1], 0, h - 1)
        xs = np.clip(np.arange(W) * centres[1][0] + centres[1][1], 0, w - 1)
    else:
        ys = np.clip((np.arange(H) - centres[0][1]) / centres[0][0], 0, h - 1)
        xs = np.clip((np.arange(W) - centres[1][1]) / centres[1][0], 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    top = maps[:, y0][:, :, x0] * (1 - fx) + maps[:, y0][:, :, x1] * fx
    bottom = maps[:, y1][:, :, x0] * (1 - fx) + maps[:, y1][:, :, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _normalise(maps: np.ndarray) -> np.ndarray:
    peak = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1), 0).astype(np.float32)


def activations(model: Sequential, x, layer) -> np.ndarray:
    """Output of ``layer`` for input ``x`` (one forward pass): (N, C, h, w) feature maps or (N, F) features."""
    i = resolve_layer(model, layer)
    return _forward(model, _batch(model, x), upto=i)[i].numpy()


def grad_cam(model: Sequential, x, target_class=None, layer="last_conv", *, hires: bool = False,
             return_parts: bool = False):  # fmt: skip
    """Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A_k) with alpha_k the spatial mean of
    d score_c / d A_k (the pre-softmax class score), upsampled bilinearly to the input size and scaled to [0, 1]
    per image. ``target_class`` None explains the predicted class. ``hires``: HiResCAM (Draelos & Carin 2020),
    ReLU(sum_k dscore_c/dA_k * A_k) position by position — the gradients are not averaged, so a class whose
    averaged gradients cancel still gets a map. Returns (N, H, W); with ``return_parts``, a dict with ``cam``,
    ``activations``, ``gradients``, ``weights``, ``cam_lowres``, ``classes``."""
    i = resolve_layer(model, layer)
    x = _batch(model, x)
    outs = _forward(model, x)
    acts, logits = outs[i], outs[-1]
    if acts.ndim != 4:
        raise ValueError(f"Grad-CAM needs a layer with (C, h, w) feature maps; layer {i} outputs {acts.shape[1:]}")
    classes = _targets(logits, target_class)
    n, c, h, w = acts.shape
    grads = _backward(model, _onehot(n, logits.shape[1], classes, model.device), len(model.layers) - 1, i)
    weights = ops.mean(grads.reshape(n, c, h * w), axis=2)  # alpha: (N, C)
    per_position = grads.reshape(n, c, h * w) if hires else weights.reshape(n, c, 1)
    weighted = ops.mul(acts.reshape(n, c, h * w), per_position)
    cam_low = ops.relu(ops.sum(weighted, axis=1)).numpy().reshape(n, h, w)
    cam = _normalise(upsample(cam_low, x.shape[2:], receptive_centres(model, i)))
    if not return_parts:
        return cam
    return {
        "cam": cam,
        "cam_lowres": cam_low,
        "activations": acts.numpy(),
        "gradients": grads.numpy(),
        "weights": weights.numpy(),
        "classes": classes,
    }


def grad_cam_device(model: Sequential, x, target_class=None, layer="last_conv", *, hires: bool = False) -> dict:
    """Grad-CAM kept on the device, without numpy (the web page runs it in Pyodide core).

    ``x`` is an (N, C, H, W) tensor (or anything :func:`gpuml.tensor` takes). Returns a dict with ``cam``: the
    (N, h, w) tensor ReLU(sum_k alpha_k A_k) at the layer's resolution (not upsampled, not normalised; equal
    to :func:`grad_cam`'s ``cam_lowres``; HiResCAM with ``hires``), ``weights`` (N, C), ``gradients`` (N, C, h,
    w), ``outputs`` (every layer's output tensor of the eval-mode forward pass; ``outputs[-1]`` are the logits),
    ``layer`` (the index) and ``classes`` (a list of ints: the explained class per image)."""
    i = resolve_layer(model, layer)
    x = as_tensor(x, model.device)
    if len(x.shape) == len(model.input_shape):
        x = x.reshape(1, *x.shape)
    outs = _forward(model, x)
    acts, logits = outs[i], outs[-1]
    if acts.ndim != 4:
        raise ValueError(f"Grad-CAM needs a layer with (C, h, w) feature maps; layer {i} outputs {acts.shape[1:]}")
    n, c, h, w = acts.shape
    k = logits.shape[1]
    if target_class is None:
        classes = [int(v) for v in ops.argmax(logits, axis=1).reshape(n).tolist()]
    elif isinstance(target_class, int):
        classes = [target_class] * n
    else:
        classes = [int(v) for v in target_class]
    onehot = array.array("f", bytes(4 * n * k))
    for row, cls in enumerate(classes):
        onehot[row * k + cls] = 1.0
    grad = as_tensor(onehot, model.device).reshape(n, k)
    grads = _backward(model, grad, len(model.layers) - 1, i)
    weights = ops.mean(grads.reshape(n, c, h * w), axis=2)
    per_position = grads.reshape(n, c, h * w) if hires else weights.reshape(n, c, 1)
    cam = ops.relu(ops.sum(ops.mul(acts.reshape(n, c, h * w), per_position), axis=1)).reshape(n, h, w)
    return {"cam": cam, "weights": weights, "gradients": grads, "outputs": outs, "layer": i, "classes": classes}


def saliency(model: Sequential, x, target_class=None) -> np.ndarray:
    """Input-gradient saliency (Simonyan et al. 2014): max over channels of |d score_c / d x|, (N, H, W)."""
    x = _batch(model, x)
    outs = _forward(model, x)
    classes = _targets(outs[-1], target_class)
    g = _backward(model, _onehot(x.shape[0], outs[-1].shape[1], classes, model.device), len(model.layers) - 1, -1)
    return np.abs(g.numpy()).max(axis=1)


def input_gradient(model: Sequential, x, target_class) -> np.ndarray:
    """d score_c / d x with its sign, (N, C, H, W) — what saliency takes the magnitude of."""
    x = _batch(model, x)
    outs = _forward(model, x)
    classes = _targets(outs[-1], target_class)
    g = _backward(model, _onehot(x.shape[0], outs[-1].shape[1], classes, model.device), len(model.layers) - 1, -1)
    return g.numpy()


def guided_backprop(model: Sequential, x, target_class=None) -> np.ndarray:
    """Guided backpropagation (Springenberg et al. 2015): through each ReLU only positive gradients at positive
    inputs pass. Returns the input gradient (N, C, H, W)."""
    relus = [m for m in model.layers if isinstance(m, ReLU)]
    for m in relus:
        m.guided = True
    try:
        return input_gradient(model, x, target_class)
    finally:
        for m in relus:
            m.guided = False


def _softmax_rows(logits: Tensor) -> Tensor:
    shifted = ops.sub(logits, ops.max(logits, axis=1, keepdims=True))
    e = ops.exp(shifted)
    return ops.div(e, ops.sum(e, axis=1, keepdims=True))


def occlusion(
    model: Sequential, x, target_class=None, patch: int = 4, stride: int = 2, fill: float = 0.0, batch: int = 256
) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus 2014) for one image: the drop of the target class probability when
    a ``patch`` x ``patch`` square (value ``fill``) covers each pixel, averaged over the patches covering it.
    All occluded copies are built and classified on the device in batches. Returns (H, W)."""
    x = _batch(model, x)
    if x.shape[0] != 1:
        raise ValueError(f"occlusion explains one image at a time, got a batch of {x.shape[0]}")
    _, _, h, w = x.shape
    if patch < 1 or stride < 1 or patch > min(h, w):
        raise ValueError(f"occlusion: patch {patch} and stride {stride} must fit the {h}x{w} image")
    probs = _softmax_rows(_forward(model, x)[-1]).numpy()[0]
    cls = int(probs.argmax()) if target_class is None else int(target_class)
    ys = list(range(0, h - patch + 1, stride))
    xs = list(range(0, w - patch + 1, stride))
    positions = [(py, px) for py in ys for px in xs]
    drops = np.empty(len(positions), np.float32)
    for start in range(0, len(positions), batch):
        chunk = positions[start : start + batch]
        occluded = occlude(x, chunk, patch, fill)
        p = _softmax_rows(_forward(model, occluded)[-1]).numpy()[:, cls]
        drops[start : start + len(chunk)] = probs[cls] - p
    heat = np.zeros((h, w), np.float64)
    count = np.zeros((h, w), np.float64)
    for (py, px), d in zip(positions, drops, strict=True):
        heat[py : py + patch, px : px + patch] += d
        count[py : py + patch, px : px + patch] += 1
    return (heat / np.maximum(count, 1)).astype(np.float32)


def occlude(x: Tensor, positions: list[tuple[int, int]], patch: int, fill: float) -> Tensor:
    """(P, C, H, W): copies of the single image ``x`` with a ``patch`` square set to ``fill`` at each position."""
    return x.device.impl.occlude(x, [(int(py), int(px)) for py, px in positions], int(patch), float(fill))


def filters(model: Sequential, layer=0) -> np.ndarray:
    """The weights of Conv2d ``layer`` as images (OC, IC, kh, kw), each filter scaled to [0, 1]."""
    i = resolve_layer(model, layer)
    conv = model.layers[i]
    if not isinstance(conv, Conv2d):
        raise ValueError(f"layer {i} is {conv.describe()}, not a Conv2d")
    w = conv.params["weight"].data.numpy()
    lo = w.min(axis=(1, 2, 3), keepdims=True)
    hi = w.max(axis=(1, 2, 3), keepdims=True)
    return ((w - lo) / np.where(hi > lo, hi - lo, 1)).astype(np.float32)


def max_activating(model: Sequential, images: np.ndarray, layer, channel: int, k: int = 9, batch: int = 500):
    """Indices (into ``images``) and mean activations of the ``k`` images that excite ``channel`` of ``layer``
    most (spatial mean for feature maps)."""
    i = resolve_layer(model, layer)
    scores = []
    for start in range(0, len(images), batch):
        a = _forward(model, _batch(model, images[start : start + batch]), upto=i)[i]
        if channel >= a.shape[1]:
            raise ValueError(f"layer {i} has {a.shape[1]} channels, asked for channel {channel}")
        per = ops.mean(a.reshape(a.shape[0], a.shape[1], -1), axis=2)
        scores.append(per.numpy()[:, channel])
    scores = np.concatenate(scores)
    top = np.argsort(-scores, kind="stable")[:k]
    return top, scores[top]


def maximize_activation(
    model: Sequential, layer, channel: int, steps: int = 100, lr: float = 0.05, l2: float = 1e-2, seed: int = 0
) -> np.ndarray:
    """Gradient ascent on the input to maximise the mean activation of ``channel`` at ``layer``, regularised by
    an L2 penalty on the image, a light blur every 4 steps and clipping to [0, 1]. Returns (C, H, W)."""
    i = resolve_layer(model, layer)
    rng = np.random.default_rng(seed)
    x = (0.5 + 0.05 * rng.standard_normal((1, *model.input_shape))).astype(np.float32)
    for step in range(steps):
        xt = as_tensor(x, model.device)
        a = _forward(model, xt, upto=i)[i]
        g = np.zeros(a.shape, np.float32)
        spatial = int(np.prod(a.shape[2:])) if a.ndim > 2 else 1
        g[:, channel] = 1.0 / spatial
        dx = _backward(model, as_tensor(g, model.device), i, -1).numpy()
        dx /= np.abs(dx).mean() + 1e-8
        x = np.clip(x + lr * dx - l2 * (x - 0.5), 0.0, 1.0).astype(np.float32)
        if step % 4 == 3:
            x = _blur(x)
    return x[0]


def _blur(x: np.ndarray) -> np.ndarray:
    pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    k = np.array([0.25, 0.5, 0.25], np.float32)
    rows = pad[:, :, :-2] * k[0] + pad[:, :, 1:-1] * k[1] + pad[:, :, 2:] * k[2]
    return rows[:, :, :, :-2] * k[0] + rows[:, :, :, 1:-1] * k[1] + rows[:, :, :, 2:] * k[2]


def embed(model: Sequential, images: np.ndarray, layer=-2, n: int = 2000, seed: int = 0, batch: int = 500):
    """Features at ``layer`` for up to ``n`` images, embedded in 2-D with scikit-learn's t-SNE.
    Returns (embedding (n, 2), indices of the images used)."""
    from sklearn.manifold import TSNE

    i = resolve_layer(model, layer)
    idx = np.random.default_rng(seed).permutation(len(images))[:n]
    feats = []
    for start in range(0, len(idx), batch):
        a = _forward(model, _batch(model, images[idx[start : start + batch]]), upto=i)[i]
        feats.append(a.numpy().reshape(a.shape[0], -1))
    features = np.concatenate(feats)
    perplexity = min(30.0, max(2.0, (len(features) - 1) / 3))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
    return xy.astype(np.float32), idx
