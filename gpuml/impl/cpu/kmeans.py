"""k-means on the cpu backend: the numpy twin of the WebGPU engine (gpuml/impl/webgpu/kmeans.py), same interface,
same float32 arithmetic where it matters."""

from __future__ import annotations

import numpy as np

from ..python.kmeans import PP_BLOCK


def kmeans_engine(device, data, k: int, chunk_rows: int | None = None) -> NumpyEngine:
    return NumpyEngine(device, data, k, chunk_rows)


class NumpyEngine:
    """The numpy twin of GPUEngine (cpu backend): same interface, same float32 arithmetic where it matters."""

    def __init__(self, device, data, k: int, chunk_rows: int | None = None):
        self.device, self.data, self.k = device, data, k
        self.n, self.d = data.n, data.d
        self.x = data.x32 if data.x32 is not None else np.asarray(data.flat, np.float32).reshape(data.n, data.d)
        self.centers = np.zeros((k, self.d), np.float32)
        self.old = self.centers
        self.labels_ = np.full(self.n, -1, np.int64)
        self.weights = np.zeros(k, np.float32)
        self.chunk_rows = self.n

    def set_centers(self, rows, reset_labels: bool = True) -> None:
        self.centers = np.asarray(rows, np.float32).reshape(self.k, self.d).copy()
        if reset_labels:
            self.labels_ = np.full(self.n, -1, np.int64)

    def get_centers(self, which=None):
        return self.centers.astype(np.float64).tolist()

    def _nearest(self):
        c = self.centers
        scores = (c * c).sum(1, dtype=np.float32)[None, :] - np.float32(2) * (self.x @ c.T)
        labels = scores.argmin(1)
        diff = self.x - c[labels]
        return labels, np.einsum("ij,ij->i", diff, diff)

    def _update(self, minibatch: bool):
        labels, dist = self._nearest()
        changed = int((labels != self.labels_).sum())
        self.labels_ = labels
        counts = np.bincount(labels, minlength=self.k).astype(np.float32)
        sums = np.zeros((self.k, self.d), np.float64)
        np.add.at(sums, labels, self.x)
        self.sums, self.counts = sums.astype(np.float32), counts
        old = self.centers
        new = old.copy()
        nz = counts > 0
        if minibatch:
            w = self.weights + counts
            new[nz] = ((old[nz] * self.weights[nz, None] + self.sums[nz]) / w[nz, None]).astype(np.float32)
            self.weights = w
        else:
            new[nz] = (self.sums[nz] / counts[nz, None]).astype(np.float32)
        self.old, self.centers = old, new
        shift = float(((new - old) ** 2).sum(dtype=np.float32))
        return shift, float(dist.sum(dtype=np.float64)), changed, int((~nz).sum())

    def iterate(self):
        return self._update(False)

    def record_iteration(self) -> None:
        """Host engines run the iteration now: its statistics are in ``last_stats``; None says so."""
        self.last_stats = self.iterate()
        return None

    def device_buffers(self) -> None:
        return None  # no device buffers to bind

    def minibatch_step(self):
        return self._update(True)

    def set_weights(self, weights) -> None:
        self.weights = np.asarray(weights, np.float32)

    def get_weights(self) -> list[float]:
        return self.weights.astype(np.float64).tolist()

    def reset_weights(self):
        self.weights = np.zeros(self.k, np.float32)

    def assign(self, dists: bool = False):
        labels, dist = self._nearest()
        self.labels_ = labels
        return float(dist.sum(dtype=np.float64)), (dist if dists else None)

    def previous_distances(self):
        """(the centers before the last iteration, each point's squared distance to its nearest one)."""
        current = self.centers
        self.centers = self.old
        try:
            _, dist = self.assign(dists=True)
        finally:
            self.centers = current
        return self.old.astype(np.float64).tolist(), dist

    def labels(self):
        return self.labels_.astype(np.int32)

    def sums_counts(self):
        return self.sums.astype(np.float64).tolist(), self.counts.tolist()

    def pp_distances(self, cand_rows, closest=None):
        cand = np.asarray(cand_rows, np.float32)
        outs = []
        for c in cand:
            diff = self.x - c
            d2 = np.einsum("ij,ij->i", diff, diff)
            outs.append(d2 if closest is None else np.minimum(closest[0], d2))
        per_cand = []
        for o in outs:
            pad = -len(o) % PP_BLOCK
            per_cand.append(np.pad(o, (0, pad)).reshape(-1, PP_BLOCK).sum(1, dtype=np.float32).tolist())
        return outs, per_cand

    def pp_select(self, outs, j: int):
        return [outs[j]]

    def pp_values(self, closest):
        return closest[0]

    def pp_read_blocks(self, closest, blocks):
        return {b: closest[0][b * PP_BLOCK : (b + 1) * PP_BLOCK].tolist() for b in set(blocks)}

    def block_start(self, b: int) -> int:
        return b * PP_BLOCK

    def transform(self):
        diff = self.x[:, None, :] - self.centers[None, :, :]
        return np.sqrt((diff * diff).sum(-1)).astype(np.float32)


def silhouette(device, data, lab: list[int], k: int):
    """Silhouette coefficient of every row (Euclidean; ``lab`` in 0..k-1), float32 distances in blocks of rows."""
    n = data.n
    x = data.x32 if data.x32 is not None else np.asarray(data.flat).reshape(n, -1)
    x = np.asarray(x, np.float32)
    lab = np.asarray(lab)
    sums = np.zeros((n, k), np.float64)
    for s in range(0, n, 2048):
        d = np.sqrt(np.maximum(((x[s : s + 2048, None, :] - x[None, :, :]) ** 2).sum(-1), 0))
        for c in range(k):
            sums[s : s + 2048, c] = d[:, lab == c].sum(1)
    sizes = np.bincount(lab, minlength=k).astype(np.float64)
    own = sizes[lab]
    a = sums[np.arange(n), lab] / np.maximum(own - 1, 1)
    mean_other = sums / sizes
    mean_other[np.arange(n), lab] = np.inf
    b = mean_other.min(1)
    s = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
    return np.nan_to_num(s).astype(np.float32)
