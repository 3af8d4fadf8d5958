"""The digit explorer's occlusion map (gpuml.playground.digits_explain.occlusion_map) with and without the blank-patch
skip, alternating in one process on each backend: ``all`` classifies every one of the 169 occluded copies (the map
before the skip), ``skip`` (the shipped function) leaves out the copies whose patch covered only zeros (on a CPU
backend; a GPU keeps its one batch shape). Same shipped LeNet-5, same MNIST test 4; the maps' largest difference
is recorded too.

    .venv/bin/python benchmarks/bench_occlusion_map.py [--backends cpu,python,native] [--rounds 3]
        [--out benchmarks/occlusion_map.json]

The load average is recorded beside every figure (the VM is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def occlusion_all(net, x, cls):
    """occlusion_map before the skip: every occluded copy classified."""
    from gpuml.explain import occlude
    from gpuml.playground.digits_explain import OCCLUSION_PATCH as P
    from gpuml.playground.digits_explain import OCCLUSION_STRIDE as S

    s0 = net.forward(x).reshape(-1).tolist()[cls]
    starts = range(0, 28 - P + 1, S)
    positions = [(py, px) for py in starts for px in starts]
    rows = net.forward(occlude(x, positions, P, 0.0)).tolist()
    heat, count = [0.0] * 784, [0] * 784
    for (py, px), logits in zip(positions, rows, strict=True):
        for y in range(py, py + P):
            for xx in range(px, px + P):
                heat[y * 28 + xx] += s0 - logits[cls]
                count[y * 28 + xx] += 1
    return [h / c if c else 0.0 for h, c in zip(heat, count, strict=True)]


def run(backend: str, rounds: int) -> dict:
    import numpy as np

    import gpuml
    from gpuml.datasets import mnist
    from gpuml.playground.digits_explain import occlusion_map
    from gpuml.serialize import load

    dev = gpuml.get_device(backend)
    net = load(str(ROOT / "gpuml" / "models" / "lenet5_mnist.npz"), device=dev)
    net.eval()
    test = mnist("test")
    img = test.images[int(np.flatnonzero(test.labels == 4)[0]), 0].astype(np.float32)
    x = gpuml.tensor(img.reshape(1, 1, 28, 28), device=dev)
    blank = sum(1 for py in range(0, 25, 2) for px in range(0, 25, 2) if not img[py : py + 4, px : px + 4].any())
    occlusion_all(net, x, 4), occlusion_map(net, x, 4)  # first use: compiles, imports
    out = {"backend": backend, "adapter": dev.summary()["adapter"], "blank_patches": f"{blank} of 169"}
    out.update(all_ms=[], skip_ms=[], load=[])
    for _ in range(rounds):
        for f, key in ((occlusion_all, "all_ms"), (occlusion_map, "skip_ms")):
            t0 = time.perf_counter()
            f(net, x, 4)
            out[key].append(round(1e3 * (time.perf_counter() - t0), 1))
        out["load"].append(round(os.getloadavg()[0], 2))
    a, b = np.array(occlusion_all(net, x, 4)), np.array(occlusion_map(net, x, 4))
    out.update(max_abs_diff=float(np.abs(a - b).max()), peak=float(a.max()))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="cpu,python,native")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "occlusion_map.json"))
    args = ap.parse_args(argv)
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": []}
    for backend in args.backends.split(","):
        try:
            r = run(backend, args.rounds)
        except Exception as exc:  # e.g. no native adapter
            r = {"backend": backend, "error": str(exc).splitlines()[0]}
        print(json.dumps(r), flush=True)
        results["runs"].append(r)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
