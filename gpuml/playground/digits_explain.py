"""The CNN explorer's analysis of one digit, numpy-free (the web page runs it in Pyodide core): the "unsure"
verdict, the layers a user can look into (names, shapes), the convolution filters, and four explanations of a
class score as a 28 x 28 map — Grad-CAM, HiResCAM, input-gradient saliency and occlusion sensitivity — each with
the range of its values in real units (for a colour scale).

The verdict. A softmax over 10 digits always sums to 1, so a scribble can get "8 (98.7%)". Two cues together:
the top probability (below ``MIN_PROB``: two or more classes compete) and the *evidence*, log-sum-exp of the
logits (the negative "energy" of Liu et al. 2020, "Energy-based out-of-distribution detection"): inputs unlike
the training digits get small logits for every class, so the softmax's confidence rests on little evidence. The
evidence floor is the ``FLOOR_PERCENTILE``-th percentile of the model's own evidence on real MNIST test digits
(:func:`evidence_floor`), so it holds for any model, the shipped one or one trained in the page.

Both cues are sharp only for a model that has seen non-digits: the shipped model was trained with outlier exposure
on random pad scribbles (:mod:`gpuml.train.outliers`), which teaches it a flat softmax and low evidence for doodles.
"""

from __future__ import annotations

import array
import math

from .. import ops
from ..explain import _backward, _forward, grad_cam_device, occlude, receptive_centres  # numpy-free parts
from ..tensor import tensor
from .mnist import softmax

MIN_PROB = 0.7
SURE_PROB = 0.9  # sure below this too, but the runner-up is named: "8 (87.6%), or maybe 3 (9%)"
NO_DIGIT_PROB = 0.3  # under this top probability no class stands out ("no digit stands out")
REAL = "real test digits"
CALIBRATION_DIGITS = 512  # the first MNIST test digits behind the evidence floor (native window and page alike)
FLOOR_PERCENTILE = 4.0  # with MIN_PROB: ~5% of MNIST test digits unsure, as before outlier exposure (RESULTS.md)
WEAK_PERCENTILE = 10.0  # sure but below this: "weak evidence" (~6% of digits; most doodles that still read sure)
NOVELTY_PERCENTILE = 98.0  # the feature cue's line (gpuml.playground.novelty): ~2% of real digits beyond it
EXPLAIN_METHODS = ("gradcam", "hirescam", "saliency", "occlusion")
HIRES_BELOW = 0.01  # Grad-CAM's peak under 1% of HiResCAM's: show HiResCAM (7% of test digits, 70 of ~100 9s)
OFF_INK_ASIDE = 0.5  # Grad-CAM with under half the strokes' share of its heat on them: the caption says so
HIRES_OFF_INK = 0.02  # or under 2% of Grad-CAM's heat on the strokes: HiResCAM too (1.7% more of the test digits)
OCCLUSION_PATCH, OCCLUSION_STRIDE = 4, 2
_KINDS = {"Conv2d": "conv", "ReLU": "relu", "Tanh": "tanh", "MaxPool2d": "max-pool", "AvgPool2d": "avg-pool"}


def evidence(logits) -> float:
    """log(sum(exp(logits))): the model's total evidence for any digit."""
    m = max(logits)
    return m + math.log(sum(math.exp(v - m) for v in logits))


def evidence_levels(net, pixels_list, batch: int = 256) -> tuple[float, float]:
    """The ``FLOOR_PERCENTILE``-th (the unsure floor) and ``WEAK_PERCENTILE``-th (the weak line) percentiles of
    :func:`evidence` over real digits (flat 784 lists)."""
    values = []
    for start in range(0, len(pixels_list), batch):
        chunk = pixels_list[start : start + batch]
        flat = array.array("f", [v for px in chunk for v in px])
        rows = net.forward(tensor(flat, device=net.device).reshape(len(chunk), 1, 28, 28)).tolist()
        values += [evidence(r) for r in rows]
    values.sort()
    at = lambda pct: values[min(len(values) - 1, int(len(values) * pct / 100))]  # noqa: E731
    return at(FLOOR_PERCENTILE), at(WEAK_PERCENTILE)


def evidence_floor(net, pixels_list, batch: int = 256) -> float:
    """The ``FLOOR_PERCENTILE``-th percentile of :func:`evidence` over real digits (flat 784 lists)."""
    return evidence_levels(net, pixels_list, batch)[0]


def novelty_distance(features, prototypes) -> float:
    """1 - the largest cosine similarity of ``features`` to any of ``prototypes`` (unit vectors): how unlike the
    training digits of a class a drawing's hidden features are (:mod:`gpuml.playground.novelty`)."""
    norm = math.sqrt(sum(v * v for v in features))
    if norm == 0.0:  # no feature fires at all: as far from every prototype as it gets
        return 1.0
    return 1.0 - max(sum(a * b for a, b in zip(features, p, strict=True)) for p in prototypes) / norm


def _apart(a: float, b: float, digits: int) -> tuple[str, str]:
    """``a`` and ``b`` with ``digits`` decimals, or more until they read apart ("8.37 < 8.38", not "8.4 < 8.4")."""
    while digits < 4 and f"{a:.{digits}f}" == f"{b:.{digits}f}":
        digits += 1
    return f"{a:.{digits}f}", f"{b:.{digits}f}"


def verdict(logits, floor: float | None, weak: float | None = None, features=None, novelty=None) -> dict:
    """label, probability, ``unsure`` and why (``reason``), ``weak`` (sure, but on less evidence than
    ``100 - WEAK_PERCENTILE``% of real digits, or — with ``novelty``, the model's feature cue, and ``features``, this
    drawing's outputs of the cue's layer — hidden features farther from the training digits of its class than
    ``NOVELTY_PERCENTILE``% of real digits', or a top probability under ``SURE_PROB``: an unusual digit, or a doodle
    that happens to look like one — said in the text), and the text a user reads."""
    probs = softmax(logits)
    label = max(range(len(probs)), key=lambda i: probs[i])
    p, ev = probs[label], evidence(logits)
    far = None
    if novelty is not None and features is not None:
        far = novelty_distance(features, novelty["prototypes"][label])
    reasons = []
    if p < MIN_PROB:
        reasons.append(f"top probability {p * 100:.0f}% < {MIN_PROB * 100:.0f}%")
    if floor is not None and ev < floor:
        a, b = _apart(ev, floor, 1)
        reasons.append(f"evidence {a} < {b} ({100 - FLOOR_PERCENTILE:.0f}% of {REAL} score higher)")
    unsure = bool(reasons)
    low = not unsure and weak is not None and ev < weak
    if low:
        a, b = _apart(ev, weak, 1)
        reasons.append(f"evidence {a} < {b} ({100 - WEAK_PERCENTILE:.0f}% of {REAL} score higher)")
    unlike = not unsure and far is not None and far > novelty["line"]
    if unlike:
        a, b = _apart(far, novelty["line"], 2)
        reasons.append(f"features {a} away from the training {label}s ({NOVELTY_PERCENTILE:.0f}% of {REAL} "
                       f"are nearer than {b})")  # fmt: skip
    runner = max((i for i in range(len(probs)) if i != label), key=lambda i: probs[i])
    maybe = not unsure and p < SURE_PROB
    if maybe:
        reasons.append(f"top probability {p * 100:.1f}% < {SURE_PROB * 100:.0f}%")  # as the headline prints it
    is_weak = low or unlike or maybe
    if is_weak:  # the first hint that holds, and the runner-up whenever the top probability is under SURE_PROB
        hint = "weak evidence" if low else f"unlike the {label}s it learned from" if unlike else ""
        second = f"or maybe {runner} ({probs[runner] * 100:.0f}%)" if maybe else ""
        text = f"{label} ({p * 100:.1f}%), " + ", ".join(h for h in (hint, second) if h)
    elif not unsure:
        text = f"{label} ({p * 100:.1f}%)"
    elif p < NO_DIGIT_PROB:  # ten near-equal bars: naming the top one would over-claim
        text = f"unsure — no digit stands out ({label}: {p * 100:.0f}%)"
    elif p < MIN_PROB:
        text = f"unsure — looks most like {label} ({p * 100:.0f}%)"
    else:  # a high probability on little evidence: "unsure ... (100%)" would read as a contradiction (and "unlike
        # real digits" would sound like the feature cue's "unlike the 9s it learned from", another test)
        text = f"unsure — looks most like {label}, but on very little evidence"
    return {"label": label, "probs": probs, "prob": p, "evidence": ev, "unsure": unsure, "weak": is_weak,
            "novelty": far, "reason": "; ".join(reasons), "text": text}  # fmt: skip


def map_layers(net) -> list[dict]:
    """The layers with feature-map outputs (convolutions, their activations, pooling): index, name, shape."""
    shape, out, counts = tuple(net.input_shape), [], {}
    for i, m in enumerate(net.layers):
        shape = tuple(m.output_shape(shape))
        kind = _KINDS.get(type(m).__name__)
        if kind is None or len(shape) != 3:
            continue
        if kind == "conv":
            counts["conv"] = counts.get("conv", 0) + 1
        n = counts.get("conv", 0)
        c, h, w = shape
        out.append({"index": i, "name": f"{kind} {n}", "shape": [c, h, w], "signed": kind == "conv"})
    return out


def conv_filters(net) -> list[dict]:
    """Every convolution's weights: name, (out, in, kh, kw) shape, the weight tensor, flat host values and the
    symmetric colour-scale limit max |w|."""
    out = []
    for i, m in enumerate(net.layers):
        if type(m).__name__ != "Conv2d":
            continue
        w = m.params["weight"].data
        vals = w.tolist()
        flat = list(_flatten(vals))
        out.append({"index": i, "name": f"conv {len(out) + 1}", "shape": list(w.shape), "weight": w,
                    "values": flat, "limit": max(abs(v) for v in flat) or 1.0})  # fmt: skip
    return out


def _flatten(v):
    if isinstance(v, list):
        for item in v:
            yield from _flatten(item)
    else:
        yield float(v)


def _centres_upsample(values, h: int, w: int, centres) -> list[float]:
    """An h x w map placed on the 28 x 28 input with cell (i, j) centred on pixel (a_y i + b_y, a_x j + b_x)
    (:func:`gpuml.explain.receptive_centres`), bilinear, held beyond the outer cells; not normalised."""
    (ay, by), (ax, bx) = centres

    def axis(n, a, b):
        res = []
        for p in range(28):
            c = min(max((p - b) / a, 0.0), n - 1.0)
            lo = int(c)
            res.append((lo, min(lo + 1, n - 1), c - lo))
        return res

    out = []
    for y0, y1, fy in axis(h, ay, by):
        for x0, x1, fx in axis(w, ax, bx):
            top = values[y0 * w + x0] * (1 - fx) + values[y0 * w + x1] * fx
            bottom = values[y1 * w + x0] * (1 - fx) + values[y1 * w + x1] * fx
            out.append(top * (1 - fy) + bottom * fy)
    return out


def _on_ink(heat, pixels) -> float:
    """The share of a 28 x 28 map's positive heat on the strokes (``pixels``, the flat input, over 0.1)."""
    total = sum(v for v in heat if v > 0)
    if total <= 0:
        return 1.0  # an empty map is not "off the ink" (it says so itself)
    return sum(v for v, p in zip(heat, pixels, strict=True) if v > 0 and p > 0.1) / total


def explain(net, x, method: str, cls: int) -> dict:
    """``method`` ("gradcam", "hirescam", "saliency", "occlusion") for class ``cls`` of the (1, 1, 28, 28) input ``x``:
    ``map`` (784 floats in [0, 1], 1 = the map's peak), ``peak`` (the peak in real units), ``units`` and
    ``what`` (one line for the colour scale). Grad-CAM also returns its device tensors (``outputs``, ``cam``)."""
    if method in ("gradcam", "hirescam"):
        cam = grad_cam_device(net, x, target_class=cls)
        _, h, w = cam["cam"].shape
        low = cam["cam"].reshape(-1).tolist()
        units, what = "ReLU(Σ α·A)", f"Grad-CAM at layer {cam['layer']} ({h}×{w}), class {cls}"
        acts, grads = cam["outputs"][cam["layer"]], cam["gradients"]
        hires = ops.relu(ops.sum(ops.mul(acts, grads).reshape(1, -1, h * w), axis=1)).reshape(-1).tolist()
        centres = receptive_centres(net, cam["layer"])
        raw = _centres_upsample(low, h, w, centres)
        aside, pixels = "", x.reshape(-1).tolist()
        share = _on_ink(raw, pixels)
        if method == "hirescam":  # on the strokes for every digit; Grad-CAM at or below chance for ~1/3 (RESULTS.md)
            low, units, what = hires, "ReLU(Σ g·A)", f"HiResCAM at layer {cam['layer']} ({h}×{w}), class {cls}"
            raw = _centres_upsample(low, h, w, centres)
        elif max(low) < HIRES_BELOW * max(hires) or share < HIRES_OFF_INK:
            # the channel-averaged gradients (nearly) cancel — most of the shipped model's 9s, whose score rests on
            # negative evidence after outlier exposure — or weigh only blank background: HiResCAM (Draelos & Carin
            # 2020) weighs each cell by its own gradients instead.
            gone = (
                "empty" if max(low) <= 0 else "nearly empty" if max(low) < HIRES_BELOW * max(hires) else "off the ink"
            )
            low, units = hires, "ReLU(Σ g·A)"  # g: the gradient at each cell
            what = f"HiResCAM, class {cls} (Grad-CAM {gone})"  # short: the native panel's title line
            raw = _centres_upsample(low, h, w, centres)
        else:  # Grad-CAM shown: say so when most of its heat lies off the strokes (blank areas are evidence too)
            ink = sum(1 for v in pixels if v > 0.1) / len(pixels)
            if share < OFF_INK_ASIDE * ink:
                aside = f"only {share * 100:.0f}% of its heat on the strokes, which cover {ink * 100:.0f}% of the input"
        extra = {"outputs": cam["outputs"], "cam": cam["cam"], "layer": cam["layer"], "aside": aside, "on_ink": share}
    elif method == "saliency":
        outs = _forward(net, x)
        k = outs[-1].shape[1]
        onehot = array.array("f", [1.0 if j == cls else 0.0 for j in range(k)])
        grad = _backward(net, tensor(onehot, device=net.device).reshape(1, k), len(net.layers) - 1, -1)
        raw = [abs(v) for v in ops.abs(grad).reshape(-1).tolist()]
        units, what, extra = "|∂ score / ∂ pixel|", f"saliency (input gradient), class {cls}", {"outputs": outs}
    elif method == "occlusion":
        raw = occlusion_map(net, x, cls)
        units = "score drop"
        what = f"occlusion ({OCCLUSION_PATCH}×{OCCLUSION_PATCH} patches), class {cls}"
        extra = {}
    else:
        raise ValueError(f"explanation method must be one of {', '.join(EXPLAIN_METHODS)}, got {method!r}")
    peak = max(raw)
    scaled = [max(v, 0.0) / peak for v in raw] if peak > 0 else [0.0] * 784
    # Grad-CAM's ReLU drops negative evidence: an all-zero map is an answer, said in words, not a blank panel
    note = "empty: no region raises this class's score here; try saliency or occlusion" if peak <= 0 else ""
    extra.setdefault("aside", "")  # a short remark on the map, shown beside its caption
    return {"map": scaled, "peak": max(peak, 0.0), "units": units, "what": what, "note": note, "method": method,
            **extra}  # fmt: skip


def occlusion_map(net, x, cls: int) -> list[float]:
    """Occlusion sensitivity (Zeiler & Fergus 2014) of class ``cls``'s score (its logit, the score Grad-CAM and
    saliency explain too): its drop when a zero patch covers each pixel, averaged over the patches covering it; every
    occluded copy classified in one batch. The score, not the probability: a softmax at 100% barely moves under any
    patch, so a probability map of a sure digit is one blob (gpuml.explain.occlusion keeps the probability).
    On a CPU backend a patch over pixels that are all zero already is not classified: that copy is the input
    itself, its drop is 0 (a digit leaves ~60% of the patches blank, and there the forward pass's time grows with
    the batch; a GPU keeps the one batch shape its kernels were compiled for)."""
    s0 = net.forward(x).reshape(-1).tolist()[cls]
    starts = range(0, 28 - OCCLUSION_PATCH + 1, OCCLUSION_STRIDE)
    positions = [(py, px) for py in starts for px in starts]
    run = positions
    if not getattr(net.device, "is_gpu", False):
        pixels = x.reshape(-1).tolist()
        span = range(OCCLUSION_PATCH)
        run = [(py, px) for py, px in positions if any(pixels[(py + i) * 28 + px + j] for i in span for j in span)]
    drops = dict.fromkeys(positions, 0.0)
    if run:
        for pos, logits in zip(run, net.forward(occlude(x, run, OCCLUSION_PATCH, 0.0)).tolist(), strict=True):
            drops[pos] = s0 - logits[cls]
    heat, count = [0.0] * 784, [0] * 784
    for (py, px), drop in drops.items():
        for y in range(py, py + OCCLUSION_PATCH):
            for xx in range(px, px + OCCLUSION_PATCH):
                heat[y * 28 + xx] += drop
                count[y * 28 + xx] += 1
    return [h / c if c else 0.0 for h, c in zip(heat, count, strict=True)]


__all__ = [
    "CALIBRATION_DIGITS",
    "EXPLAIN_METHODS",
    "FLOOR_PERCENTILE",
    "HIRES_BELOW",
    "HIRES_OFF_INK",
    "NOVELTY_PERCENTILE",
    "SURE_PROB",
    "WEAK_PERCENTILE",
    "conv_filters",
    "evidence",
    "evidence_floor",
    "evidence_levels",
    "explain",
    "map_layers",
    "novelty_distance",
    "verdict",
]
