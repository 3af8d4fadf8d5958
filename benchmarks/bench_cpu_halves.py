"""Two halves at once vs the whole batch on the numpy backend (gpuml/nn/data_parallel.py), by model and batch size:
where the split pays (its SPLIT_MACS threshold). One process, 2 threads, the helper up; per model and batch two
models, one with halves forced on (SPLIT_MACS = 0), one whole (GPUML_CPU_HALVES=0); 10-step blocks alternating
for --rounds rounds, Adam, random data; medians in ms per step; "where": where the last step's second half ran
(the helper only when a CPU is idle).

    python benchmarks/bench_cpu_halves.py [--rounds 6] [--json benchmarks/cpu_halves.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

CASES = (("digits-cnn 8x8", "DIGITS_CNN", (1, 8, 8)), ("lenet5", "LENET5_MODERN", (1, 28, 28)))
BATCHES = (32, 64, 128, 256)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--json", default="benchmarks/cpu_halves.json")
    args = ap.parse_args()
    os.environ["GPUML_CPU_THREADS"] = "2"
    import numpy as np

    from gpuml import nn
    from gpuml.backends.cpu import CPUDevice
    from gpuml.nn import data_parallel, data_parallel_process, models
    from gpuml.optim import Adam
    from gpuml.tensor import tensor

    data_parallel.SPLIT_MACS = 0
    dev, rng = CPUDevice(), np.random.default_rng(0)
    while data_parallel_process.helper() is None:
        time.sleep(0.05)
    out = {}
    for name, spec, shape in CASES:
        for batch in BATCHES:
            data = [
                (rng.standard_normal((batch, *shape)).astype(np.float32), rng.integers(0, 10, batch).astype(np.int32))
                for _ in range(10)
            ]
            sides = {}
            for arm in ("halves", "whole"):
                m = models.from_spec(getattr(models, spec), shape, dev, 0)
                sides[arm] = (m, Adam(m.parameters(), lr=1e-3), nn.CrossEntropyLoss())

            def run(arm, sides=sides, data=data):
                os.environ["GPUML_CPU_HALVES"] = "1" if arm == "halves" else "0"
                m, opt, lossf = sides[arm]
                t0 = time.perf_counter()
                for x, y in data:
                    lossf(m(tensor(x, device=dev)), tensor(y, device=dev))
                    m.backward(lossf.backward())
                    opt.step()
                return (time.perf_counter() - t0) / len(data) * 1e3

            run("halves"), run("whole")
            res = {"halves": [], "whole": []}
            for r in range(args.rounds):
                for arm in ("halves", "whole") if r % 2 else ("whole", "halves"):
                    time.sleep(0.02)
                    res[arm].append(run(arm))
            halves = sides["halves"][0]._halves
            macs = halves.walk(shape)[1] * batch
            h, w = np.median(res["halves"]), np.median(res["whole"])
            where, load = halves.pending.where, os.getloadavg()[0]
            print(
                f"{name:<15} batch {batch:>4} {macs / 1e6:6.1f}M multiply-adds: halves {h:7.2f}, whole {w:7.2f} "
                f"ms/step, whole/halves {w / h:.2f} ({where}, load {load:.2f})",
                flush=True,
            )
            out[f"{name} b{batch}"] = {
                "macs": macs,
                "halves_ms": res["halves"],
                "whole_ms": res["whole"],
                "where": where,
                "load": load,
            }
    out["info"] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "adapter": dev.adapter,
        "cpus": os.cpu_count(),
    }
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", args.json)


if __name__ == "__main__":
    main()
