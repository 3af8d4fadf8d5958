"""Probe (2026-12-06): do a template-correlation or a penultimate-feature (diagonal Mahalanobis) check catch the
random scribbles that the digit pad's unsure rule (top probability, logit evidence floor) lets through as confident?

    .venv/bin/python benchmarks/scribble_ood_probe.py      (needs MNIST on disk; numpy backend, ~20 s)

Each check's threshold is the 5th / 95th percentile on real MNIST test digits (so it flags ~5% of them). Results in
benchmarks/RESULTS.md, "Digit pad: scribbles that read confident".
"""

import random

import numpy as np

import gpuml
from gpuml.datasets import mnist
from gpuml.demos.digits import default_model_path
from gpuml.playground.digits import INK, PAD, DigitsModel
from gpuml.playground.digits_explain import verdict
from gpuml.playground.mnist import ink_to_mnist
from gpuml.train import load_model


def layer_outputs(net, x, device):
    t = gpuml.tensor(x.reshape(-1, 1, 28, 28), device=device)
    outs = []
    for layer in net.layers:
        t = layer.forward(t)
        outs.append(t.numpy().reshape(len(x), -1))
    return outs


def main():
    device = gpuml.get_device("cpu")
    net = load_model(default_model_path(), device)[0]
    test = mnist("test")
    pad = DigitsModel(net, name="lenet5", host_ink=True)
    floor = pad.calibrate(test.images[:512].reshape(512, -1).tolist())
    calib = test.images[:512].reshape(512, 784).astype(np.float32)
    held = test.images[1000:1600].reshape(600, 784).astype(np.float32)
    outs = layer_outputs(net, calib, device)
    pred, pen = outs[-1].argmax(1), outs[-2]  # the last hidden layer: input of the classifier
    templates = np.stack([calib[pred == c].mean(0) for c in range(10)])
    centres = np.stack([pen[pred == c].mean(0) for c in range(10)])
    var = np.concatenate([pen[pred == c] - centres[c] for c in range(10)]).var(0) + 1e-3

    def scores(x):
        o = layer_outputs(net, x, device)
        p = o[-1].argmax(1)
        xc, tc = x - x.mean(1, keepdims=True), templates[p] - templates[p].mean(1, keepdims=True)
        corr = (xc * tc).sum(1) / np.sqrt((xc**2).sum(1) * (tc**2).sum(1))
        maha = (((o[-2] - centres[p]) ** 2) / var).sum(1)
        unsure = np.array([verdict(r.tolist(), floor)["unsure"] for r in o[-1]])
        return corr, maha, unsure

    digits = scores(held)
    images = []
    for seed in (0, 11):
        rng = random.Random(seed)
        for _ in range(150):
            pad.press("clear")
            n = rng.randint(3, 12)
            pad.stroke([(rng.uniform(0.07, 0.93) * PAD, rng.uniform(0.07, 0.93) * PAD) for _ in range(n)])
            images.append(ink_to_mnist(pad.ink_values(), INK))
    corr, maha, unsure = scores(np.array(images, dtype=np.float32))
    confident = ~unsure
    print(f"unsure rule: digits {digits[2].mean():.1%} unsure; scribbles {unsure.mean():.1%} unsure")
    t_corr, t_maha = np.percentile(digits[0], 5), np.percentile(digits[1], 95)
    for name, flag_d, flag_s in [
        ("template correlation", digits[0] < t_corr, corr < t_corr),
        ("feature Mahalanobis", digits[1] > t_maha, maha > t_maha),
        ("either", (digits[0] < t_corr) | (digits[1] > t_maha), (corr < t_corr) | (maha > t_maha)),
    ]:
        print(f"{name}: digits flagged {flag_d.mean():.1%}; confident scribbles caught "
              f"{(flag_s & confident).sum()}/{confident.sum()}")  # fmt: skip


if __name__ == "__main__":
    main()
