"""Explanation timings on the shipped LeNet-5: Grad-CAM per image (batch of 1 and amortised over 64), saliency,
and occlusion (28x28, patch 4, stride 2: 169 occluded copies classified on the device), on each backend.

    python benchmarks/bench_explain.py [--json benchmarks/explain.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

from gpuml import bench, explain, models
from gpuml.backends import open_device
from gpuml.datasets import mnist
from gpuml.train import load_model


def timed(fn, repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="native,cpu")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    images = mnist("test").images[:64]
    results = {}
    for name in args.backends.split(","):
        device = open_device(name)
        model, _ = load_model(models.path(), device)
        r = results[name] = {
            "grad_cam_1_ms": timed(lambda m=model: explain.grad_cam(m, images[:1]), args.repeat),
            "grad_cam_64_ms_per_image": timed(lambda m=model: explain.grad_cam(m, images), 3) / 64,
            "saliency_1_ms": timed(lambda m=model: explain.saliency(m, images[:1]), args.repeat),
            "occlusion_ms": timed(lambda m=model: explain.occlusion(m, images[:1], patch=4, stride=2), 3),
        }
        print(
            f"{name:<7} Grad-CAM {r['grad_cam_1_ms']:.1f} ms/image ({r['grad_cam_64_ms_per_image']:.2f} in a batch "
            f"of 64), saliency {r['saliency_1_ms']:.1f} ms, occlusion {r['occlusion_ms']:.0f} ms  [{device.adapter}]"
        )
    print("targets (native): Grad-CAM < 50 ms per image, occlusion < 1 s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": bench.environment(args.backends.split(",")), "results": results}, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
