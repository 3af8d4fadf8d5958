"""The web page's kernels as one fixed workload, profiled per kernel with timestamp queries, numpy-free so the
same code runs in the page (SwiftShader) and natively (e.g. lavapipe) for a side-by-side table."""

from __future__ import annotations

import array

from ..nn.functional import softmax_cross_entropy
from ..tensor import tensor


def profile_workload(device, model, batch: int = 64) -> dict:
    """GPU milliseconds per kernel for: LeNet-5 forward (batch 1 and ``batch``), one training step (forward,
    fused softmax CE, backward), a k-means Lloyd iteration on 1,000 x 2 points (k = 5) and a 16-image
    augmentation batch. Returns {"adapter", "kernels": [[shader, dispatches, gpu_ms], ...] (summed over the
    sections), "sections_gpu_ms": {section: ms}, "by_section": {section: [[shader, dispatches, gpu_ms], ...]}}."""
    if "timestamp-query" not in device.features:
        return {"adapter": device.adapter, "error": "no timestamp-query on this adapter"}
    from ..augment import parse_pipeline
    from ..cluster import KMeansRun

    x1 = tensor(array.array("f", [((i * 37) % 101) / 100.0 for i in range(784)]), device=device).reshape(1, 1, 28, 28)
    xb = tensor(array.array("f", [((i * 37) % 101) / 100.0 for i in range(784 * batch)]), device=device)
    xb = xb.reshape(batch, 1, 28, 28)
    yb = tensor(array.array("i", [i % 10 for i in range(batch)]), device=device)
    pts = [[(i * 7919 % 1000) / 100.0, (i * 104729 % 997) / 100.0] for i in range(1000)]
    run = KMeansRun(pts, 5, init=[pts[i] for i in range(5)], device=device)
    pipe = parse_pipeline("rotate 15, crop 24 24, brightness 0.2, noise 0.05")

    def forward1():
        model.eval().forward(x1).tolist()

    def forward_b():
        model.eval().forward(xb).tolist()

    def train_step():
        model.train()
        _, _, grad = softmax_cross_entropy(model.forward(xb), yb)
        model.backward(grad)
        device.sync()
        model.eval()

    def kmeans_iter():
        run.step()

    def augment():
        pipe.apply_batch(xb.view(0, (16, 1, 28, 28)), seed=1, step=0).tolist()

    sections = {}
    by_section = {}
    totals: dict[str, list] = {}
    for name, fn in (
        ("lenet5_forward_b1", forward1),
        (f"lenet5_forward_b{batch}", forward_b),
        (f"lenet5_train_step_b{batch}", train_step),
        ("kmeans_iter_1000x2_k5", kmeans_iter),
        ("augment_16x28x28", augment),
    ):
        fn()  # compile pipelines outside the profiled block
        with device.profile() as prof:
            fn()
        rows = prof.by_kernel()
        sections[name] = round(sum(r[2] for r in rows) * 1e3, 4)
        by_section[name] = [[path, n, round(t * 1e3, 4)] for path, n, t, _ in rows]
        for path, n, t, _ in rows:
            entry = totals.setdefault(path, [0, 0.0])
            entry[0] += n
            entry[1] += t
    kernels = sorted(([p, n, round(t * 1e3, 4)] for p, (n, t) in totals.items()), key=lambda r: -r[2])
    return {"adapter": device.adapter, "kernels": kernels, "sections_gpu_ms": sections, "by_section": by_section}
