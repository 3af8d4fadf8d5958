"""Probe: how often does the digit pad's "unsure" verdict (top probability < 70% or logit evidence under the 4th
percentile of real digits, gpuml.playground.digits_explain) — or, short of that, its "weak evidence" hint (under the
10th), its feature cue (gpuml.playground.novelty) and a top probability under 90% — catch random scribbles, and
how often does it flag real digits — for the shipped model and any other (e.g.
one trained without outlier exposure):

    .venv/bin/python benchmarks/scribble_ood_probe.py [--model A.npz --model B.npz] [--json out.json]

(needs MNIST on disk; numpy backend, ~30 s per model). Measured on:
- MNIST test digits 1000–2999 (the evidence floor comes from test digits 0–511, as the page calibrates);
- 300 "probe" scribbles: one random polyline of 3–12 points, brush 11, drawn through the pad's own ink code
  (DigitsModel.stroke, ink_to_mnist), seeds 0 and 11 — the doodle the tests draw;
- 200 scribbles of each kind of gpuml.playground.scribbles at seed 999 (training used seed 100);
- the hand-drawn pad digits of gpuml.playground.scribbles.pad_digits at brushes 6, 11 and 16.
Results in benchmarks/RESULTS.md, "Digit pad: outlier exposure".
"""

import argparse
import json
import os
import random
import time

import numpy as np

import gpuml
from gpuml.datasets import mnist
from gpuml.models import path as shipped_path
from gpuml.playground import novelty
from gpuml.playground.digits import INK, PAD, DigitsModel
from gpuml.playground.digits_explain import verdict
from gpuml.playground.mnist import ink_to_mnist
from gpuml.playground.scribbles import KINDS, pad_digits, render, scribbles, to_mnist
from gpuml.train import load_model


def probe_scribbles(pad):
    out = []
    for seed in (0, 11):
        rng = random.Random(seed)
        for _ in range(150):
            pad.press("clear")
            n = rng.randint(3, 12)
            pad.stroke([(rng.uniform(0.07, 0.93) * PAD, rng.uniform(0.07, 0.93) * PAD) for _ in range(n)])
            out.append((n, np.asarray(ink_to_mnist(pad.ink_values(), INK), np.float32).reshape(1, 28, 28)))
    return out


def measure(model_path, device, test, kinds) -> dict:
    net = load_model(model_path, device)[0]
    pad = DigitsModel(net, name="lenet5", host_ink=True)
    floor = pad.calibrate(test.images[:512].reshape(512, -1).tolist())

    cue = novelty.from_file(model_path)  # the feature cue ("unlike the 9s it learned from"), if the file has one

    def verdicts(x, use_cue=True):
        if cue is None:
            rows = np.concatenate([net.forward(gpuml.tensor(x[i : i + 1000], device=device)).numpy()
                                   for i in range(0, len(x), 1000)])  # fmt: skip
            return [verdict(r.tolist(), floor, pad.weak_line) for r in rows]
        rows, feats = novelty.features(net, x, cue["layer"])
        return [verdict(r.tolist(), floor, pad.weak_line, f.tolist(), cue if use_cue else None)
                for r, f in zip(rows, feats, strict=True)]  # fmt: skip

    def hinted(vs):  # unsure or sure with a hint
        return float(np.mean([v["unsure"] or v["weak"] for v in vs]))

    x_test = test.images.astype(np.float32) / (255.0 if test.images.dtype == np.uint8 else 1.0)
    acc = float((np.array([v["label"] for v in verdicts(x_test)]) == test.labels).mean())
    digits = verdicts(x_test[1000:3000])
    probe = probe_scribbles(pad)
    pv = verdicts(np.stack([x for _, x in probe]))
    by_points = {}
    for (n, _), v in zip(probe, pv, strict=True):
        by_points.setdefault(n, []).append(v["unsure"])
    pad_imgs = [(d, b, to_mnist(render(s, b))[None]) for d, ways in pad_digits().items() for s in ways
                for b in (6.0, 11.0, 16.0)]  # fmt: skip
    padv = verdicts(np.stack([x for _, _, x in pad_imgs]))
    r = {
        "model": str(model_path), "evidence_floor": floor, "weak_line": pad.weak_line, "test_accuracy": acc,
        "digits_unsure": float(np.mean([v["unsure"] for v in digits])),
        "probe_unsure": float(np.mean([v["unsure"] for v in pv])),
        # unsure or "weak evidence": a scribble that reads sure without any hint is neither
        "digits_hinted": float(np.mean([v["unsure"] or v["weak"] for v in digits])),
        "probe_hinted": float(np.mean([v["unsure"] or v["weak"] for v in pv])),
        "kinds_hinted": {k: float(np.mean([v["unsure"] or v["weak"] for v in verdicts(x)])) for k, x in kinds.items()},
        # the same without the feature cue (an A/B of the cue alone; equal when the file has none)
        "digits_hinted_without_cue": hinted(verdicts(x_test[1000:3000], False)),
        "probe_hinted_without_cue": hinted(verdicts(np.stack([x for _, x in probe]), False)),
        "feature_cue": None if cue is None else {"layer": cue["layer"], "line": cue["line"]},
        "probe_unsure_by_points": {n: float(np.mean(u)) for n, u in sorted(by_points.items())},
        "probe_confident": [(n, v["text"]) for (n, _), v in zip(probe, pv, strict=True) if not v["unsure"]],
        "kinds_unsure": {k: float(np.mean([v["unsure"] for v in verdicts(x)])) for k, x in kinds.items()},
        "pad_digits": len(pad_imgs),
        "pad_digits_wrong_or_unsure": [(d, b, v["text"]) for (d, b, _), v in zip(pad_imgs, padv, strict=True)
                                       if v["label"] != d or v["unsure"]],
    }  # fmt: skip
    r["pad_digits_right_and_sure"] = r["pad_digits"] - len(r["pad_digits_wrong_or_unsure"])
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="a model file (repeatable; default: the shipped model)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    device = gpuml.get_device("cpu")
    test = mnist("test")
    kinds = {k: scribbles(200, 999, kinds=(k,)) for k in KINDS}
    results = []
    for model_path in args.model or [shipped_path()]:
        t0 = time.perf_counter()
        r = measure(model_path, device, test, kinds)
        r["seconds"] = time.perf_counter() - t0
        results.append(r)
        print(f"{r['model']}: test accuracy {r['test_accuracy']:.4f}, floor {r['evidence_floor']:.2f}; unsure on "
              f"digits {r['digits_unsure']:.1%} (+ weak: {r['digits_hinted']:.1%}), probe scribbles "
              f"{r['probe_unsure']:.1%} (+ weak: {r['probe_hinted']:.1%}; without the feature cue: digits "
              f"{r['digits_hinted_without_cue']:.1%}, probe {r['probe_hinted_without_cue']:.1%}) "
              f"(by points {', '.join(f'{n}: {u:.0%}' for n, u in r['probe_unsure_by_points'].items())}), kinds "
              f"{', '.join(f'{k} {u:.1%}' for k, u in r['kinds_unsure'].items())}; pad digits right and sure "
              f"{r['pad_digits_right_and_sure']}/{r['pad_digits']} {r['pad_digits_wrong_or_unsure']}; "
              f"probe scribbles read sure: {r['probe_confident']}")  # fmt: skip
    if args.json:
        meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": list(os.getloadavg()),
                "device": device.adapter}  # fmt: skip
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
