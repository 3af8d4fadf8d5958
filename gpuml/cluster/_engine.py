"""Device side of k-means: the WGSL kernels of shaders/cluster/ (GPU), their numpy twin (cpu backend) and, in
_pure.py, their pure-Python twin (python backend).

The engines hold the centered float32 data on their device and expose the same small interface to the host
driver in kmeans.py (which owns the RNG and every host decision):

- ``set_centers(rows)``: upload k centers (labels reset to "none").
- ``iterate()``: one Lloyd iteration (assignment fused with partial sums, then the reduction and the new
  centers); returns (sum of squared center shifts, inertia w.r.t. the old centers, changed labels, empty
  clusters) with ONE 16-byte readback. The old centers stay available until the next call.
- ``assign()``: labels and exact inertia for the current centers (no update).
- ``pp_*``: k-means++ distance-to-nearest updates and per-block sums of D^2 for host-side sampling.

Data larger than one storage binding is split in row chunks; every kernel runs once per chunk and the partial
sums of all chunks go into one buffer (``lane0`` offsets), so an iteration is still one readback.
"""

from __future__ import annotations

import array
import math

from ..tensor import Tensor
from ._data import HostData
from ._pure import PP_BLOCK, PythonEngine

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None

NONE = 0xFFFFFFFF
BIG = 3.0e38
PP_WG = 64
MAX_KD4 = 2048  # k * ceil(d / 4) limit of the private accumulators on the GPU
# assign_tile.wgsl keeps a lane's centers in registers with fully unrolled code: it wins up to 4 vec4 columns
# (d <= 16), 8 vec4 groups of clusters per lane and 16 x 4 vec4 of centers per lane; beyond, measured on lavapipe,
# it is slower than assign_subgroup.wgsl and compiles for tens of seconds.
TILE_MAX_D4, TILE_MAX_C4, TILE_MAX_C4D4 = 4, 8, 16


def subgroup_size(device) -> int:
    """The subgroup size of a workgroup of 8 on ``device`` (see Device.subgroup_size)."""
    return device.subgroup_size()


def _f32(values) -> array.array:
    return array.array("f", values)


class GPUEngine:
    def __init__(self, device, data: HostData, k: int, chunk_rows: int | None = None):
        self.device, self.data, self.k = device, data, k
        self.n, self.d = data.n, data.d
        self.d4 = -(-self.d // 4)
        if k * self.d4 > MAX_KD4:
            raise ValueError(
                f"n_clusters * ceil(n_features / 4) = {k * self.d4} exceeds gpuml's GPU k-means limit of {MAX_KD4} "
                "(private per-invocation sums); use fewer clusters or features, or the cpu backend"
            )
        row_bytes = 16 * self.d4
        limit_rows = max(1, device.max_binding_bytes // row_bytes)
        self.chunk_rows = min(chunk_rows or limit_rows, limit_rows, max(1, self.n))
        self.sg = subgroup_size(device)
        self.kind = self._kind(device)
        self.chunks = []  # (start, stop, x tensor, labels tensor)
        for start in range(0, self.n, self.chunk_rows):
            stop = min(self.n, start + self.chunk_rows)
            x = _upload(device, data.padded_rows(start, stop, self.d4)).reshape(stop - start, 4 * self.d4)
            labels = Tensor.empty((stop - start,), "uint32", device)
            self.chunks.append([start, stop, x, labels])
        # work split of the assignment kernel, per chunk: (workgroups, points per workgroup or lane, lane0)
        self.plan, groups = [], 0
        for start, stop, _, _ in self.chunks:
            m = stop - start
            if self.kind == "tile":
                tile = 2 * self.sg
                per = tile * max(4, -(-m // (tile * 256)))
                wgs = -(-m // per)
                self.plan.append((wgs, per, groups))
                groups += wgs
            elif self.kind == "subgroup":
                per = self.sg * max(8, -(-m // (self.sg * 256)))
                wgs = -(-m // per)
                self.plan.append((wgs, per, groups))
                groups += wgs
            else:
                wg = 64
                per = max(1, -(-m // (wg * 64)))
                wgs = -(-m // (wg * per))
                self.plan.append((wgs, per, groups))
                groups += wgs * wg
        self.groups = groups
        k, d4 = self.k, self.d4
        self.part_sums = Tensor.empty((groups * k * d4 * 4,), "float32", device)
        self.part_counts = Tensor.empty((groups * k,), "float32", device)
        self.part_stats = Tensor.empty((groups * 2,), "float32", device)
        self.centers = [Tensor.empty((k * d4 * 4,), "float32", device) for _ in range(2)]
        self.cnorm = [Tensor.empty((k,), "float32", device) for _ in range(2)]
        self.sums = Tensor.empty((k * d4 * 4,), "float32", device)
        self.counts = Tensor.empty((k,), "float32", device)
        self.weights = Tensor.empty((k,), "float32", device)
        self.stats = Tensor.empty((4,), "float32", device)
        self._dummy = Tensor.empty((4,), "float32", device)
        self.cur = 0  # index of the current centers
        self._pp = None

    # --- centers ----------------------------------------------------------------------------------------
    def set_centers(self, rows: list[list[float]], reset_labels: bool = True) -> None:
        d4 = self.d4
        flat = array.array("f", bytes(16 * d4 * self.k))
        norms = []
        for j, r in enumerate(rows):
            v = _f32(r)
            flat[j * 4 * d4 : j * 4 * d4 + self.d] = v
            norms.append(math.fsum(float(a) * float(a) for a in v))
        self.centers[self.cur].assign(flat)
        self.cnorm[self.cur].assign(_f32(norms))
        if reset_labels:
            from ..ops import full

            for chunk in self.chunks:
                chunk[3] = full(chunk[3].shape, NONE, "uint32", self.device) if chunk[3].size else chunk[3]

    def get_centers(self, which: int | None = None) -> list[list[float]]:
        flat = self.centers[self.cur if which is None else which].to_array()
        w = 4 * self.d4
        return [flat[j * w : j * w + self.d].tolist() for j in range(self.k)]

    def _kind(self, device) -> str:
        """Which assignment kernel: "tile" (assign_tile.wgsl: 4- or 8-lane subgroups, the centers fit in
        registers and workgroup memory), "subgroup" (assign_subgroup.wgsl) or "portable" (assign.wgsl)."""
        if not self.sg:
            return "portable"
        c4 = -(-self.k // (4 * self.sg))
        wg_bytes = int(device.limits.get("max_compute_workgroup_storage_size", 16384))
        fits = self.d4 <= TILE_MAX_D4 and c4 <= TILE_MAX_C4 and c4 * self.d4 <= TILE_MAX_C4D4
        if self.sg in (4, 8) and fits and 16 * self.k * self.d4 <= wg_bytes:
            return "tile"
        return "subgroup"

    # --- Lloyd --------------------------------------------------------------------------------------------
    def _assign_kernel(self, accum: bool, write_dist: bool):
        if self.kind == "tile":
            c4 = -(-self.k // (4 * self.sg))
            return self.device.kernel(
                "cluster/assign_tile.wgsl",
                SG=self.sg,
                K=self.k,
                C4=c4,
                CBN=4 * c4 * self.d4,
                KD4=self.k * self.d4,
                D4=self.d4,
                ACCUM=accum,
                WRITE_DIST=write_dist,
            )
        if self.kind == "subgroup":
            kl = -(-self.k // self.sg)
            return self.device.kernel(
                "cluster/assign_subgroup.wgsl",
                SG=self.sg,
                K=self.k,
                KL=kl,
                KLD4=kl * self.d4,
                D4=self.d4,
                ACCUM=accum,
                WRITE_DIST=write_dist,
            )
        return self.device.kernel(
            "cluster/assign.wgsl", WG=64, K=self.k, D4=self.d4, KD4=self.k * self.d4, ACCUM=accum, WRITE_DIST=write_dist
        )

    def _record_assign(self, accum: bool, dists: list | None = None) -> None:
        kernel = self._assign_kernel(accum, dists is not None)
        centers, cnorm = self.centers[self.cur], self.cnorm[self.cur]
        for c, (start, stop, x, labels) in enumerate(self.chunks):
            wgs, per, lane0 = self.plan[c]
            key = "per_lane" if self.kind == "portable" else "per_wg"
            kernel(
                self.device.grid_1d(wgs),
                {"n": stop - start, key: per, "lane0": lane0},
                x=x,
                centers=centers,
                cnorm=cnorm,
                labels=labels,
                part_sums=self.part_sums,
                part_counts=self.part_counts,
                part_stats=self.part_stats,
                mindist=dists[c] if dists is not None else self._dummy,
            )

    def _record_update(self, mode: int) -> None:
        new = 1 - self.cur
        kernel = self.device.kernel("cluster/update.wgsl", WG=256, K=self.k, D4=self.d4, MODE=mode)
        kernel(
            1,
            {"groups": self.groups},
            part_sums=self.part_sums,
            part_counts=self.part_counts,
            part_stats=self.part_stats,
            centers_old=self.centers[self.cur],
            centers_new=self.centers[new],
            cnorm=self.cnorm[new],
            sums=self.sums,
            counts=self.counts,
            weights=self.weights,
            stats=self.stats,
        )
        self.cur = new

    def iterate(self) -> tuple[float, float, int, int]:
        self._record_assign(True)
        self._record_update(0)
        shift, inertia, changed, empty = self.stats.to_array().tolist()
        return shift, inertia, int(changed), int(empty)

    def assign(self, dists: bool = False):
        """Labels for the current centers; returns (inertia, per-point distances or None)."""
        buffers = [Tensor.empty((stop - start,), "float32", self.device) for start, stop, _, _ in self.chunks]
        self._record_assign(False, buffers)
        stats = self.part_stats.to_array()
        inertia = math.fsum(stats[0::2])
        return inertia, (self._concat(buffers) if dists else None)

    def labels(self):
        return self._concat([c[3] for c in self.chunks], int_=True)

    def _concat(self, tensors, int_: bool = False):
        if np is not None:
            parts = [t.numpy() for t in tensors if t.size]
            return np.concatenate(parts).astype(np.int32 if int_ else np.float32)
        out = []
        for t in tensors:
            if t.size:
                out.extend(t.to_array().tolist())
        return [int(v) for v in out] if int_ else out

    def sums_counts(self) -> tuple[list[list[float]], list[float]]:
        flat = self.sums.to_array()
        w = 4 * self.d4
        return [flat[j * w : j * w + self.d].tolist() for j in range(self.k)], self.counts.to_array().tolist()

    # --- mini-batch -----------------------------------------------------------------------------------
    def reset_weights(self) -> None:
        self.weights.assign(_f32([0.0] * self.k))

    def minibatch_step(self) -> tuple[float, float, int, int]:
        self._record_assign(True)
        self._record_update(1)
        shift, inertia, changed, empty = self.stats.to_array().tolist()
        return shift, inertia, int(changed), int(empty)

    # --- k-means++ ------------------------------------------------------------------------------------
    def pp_distances(self, cand_rows: list[list[float]], closest=None):
        """For each candidate: min(closest, |x - cand|^2) on the device (kept) and its per-block sums (returned
        as lists). ``closest=None`` means +inf (the first center)."""
        L, d4 = len(cand_rows), self.d4
        flat = array.array("f", bytes(16 * d4 * L))
        for j, r in enumerate(cand_rows):
            flat[j * 4 * d4 : j * 4 * d4 + self.d] = _f32(r)
        cand = _upload(self.device, flat)
        kernel = self.device.kernel("cluster/min_dist.wgsl", WG=PP_WG, L=L, D4=d4)
        outs, sums = [], []
        for c, (start, stop, x, _) in enumerate(self.chunks):
            m = stop - start
            blocks = -(-m // PP_BLOCK)
            if closest is None:
                from ..ops import full

                prev = full((m,), BIG, "float32", self.device)
            else:
                prev = closest[c]
            out = Tensor.empty((L * m,), "float32", self.device)
            bs = Tensor.empty((L * blocks,), "float32", self.device)
            kernel(
                self.device.grid_1d(blocks),
                {"n": m, "block": PP_BLOCK},
                x=x,
                cand=cand,
                closest=prev,
                out=out,
                block_sums=bs,
            )
            outs.append(out)
            sums.append((bs, blocks))
        per_cand = [[] for _ in range(L)]
        for bs, blocks in sums:
            vals = bs.to_array().tolist()
            for j in range(L):
                per_cand[j].extend(vals[j * blocks : (j + 1) * blocks])
        return outs, per_cand

    def pp_select(self, outs, j: int):
        """The device arrays of candidate j (one per chunk): the new distance-to-nearest."""
        sel = []
        for c, (start, stop, _, _) in enumerate(self.chunks):
            m = stop - start
            L = outs[c].size // m if m else 1
            sel.append(outs[c].view(j * m, (m,)) if L > 1 else outs[c])
        return [_own(self.device, t) for t in sel]

    def pp_read_blocks(self, closest, blocks: list[int]) -> dict[int, list[float]]:
        """Values of global D^2 blocks ``blocks`` of ``closest``."""
        result = {}
        for b in sorted(set(blocks)):
            # blocks are numbered chunk by chunk and never straddle two chunks
            c, local = self._block_chunk(b)
            m = self.chunks[c][1] - self.chunks[c][0]
            lo = local * PP_BLOCK
            hi = min(m, lo + PP_BLOCK)
            raw = self.device.read(closest[c]._storage.buffer, 4 * (hi - lo), closest[c].byte_offset + 4 * lo)
            result[b] = array.array("f", raw).tolist()
        return result

    def _block_chunk(self, b: int) -> tuple[int, int]:
        for c, (start, stop, _, _) in enumerate(self.chunks):
            blocks = -(-(stop - start) // PP_BLOCK)
            if b < blocks:
                return c, b
            b -= blocks
        raise IndexError(b)

    def block_start(self, b: int) -> int:
        c, local = self._block_chunk(b)
        return self.chunks[c][0] + local * PP_BLOCK

    # --- transform / silhouette --------------------------------------------------------------------------
    def transform(self):
        outs = []
        kernel = self.device.kernel("cluster/transform.wgsl", WG=64, D4=self.d4)
        for start, stop, x, _ in self.chunks:
            out = Tensor.empty((stop - start, self.k), "float32", self.device)
            kernel(
                self.device.grid_1d(-(-(stop - start) // 64)),
                {"n": stop - start, "k": self.k},
                x=x,
                centers=self.centers[self.cur],
                out=out,
            )
            outs.append(out)
        if np is not None:
            return np.concatenate([o.numpy() for o in outs])
        return [row for o in outs for row in o.tolist()]


def _upload(device, host) -> Tensor:
    from ..tensor import tensor

    if np is not None and not isinstance(host, array.array):
        return tensor(host.reshape(-1), device=device)
    return tensor(host, dtype="float32", device=device)


def _own(device, view: Tensor) -> Tensor:
    """A tensor of its own holding ``view``'s values (device copy)."""
    out = Tensor.empty(view.shape, "float32", device)
    if view.size:
        device.copy(view._storage.buffer, out._storage.buffer, view.nbytes, view.byte_offset, 0)
    return out


class NumpyEngine:
    """The numpy twin of GPUEngine (cpu backend): same interface, same float32 arithmetic where it matters."""

    def __init__(self, device, data: HostData, k: int, chunk_rows: int | None = None):
        if np is None:  # pragma: no cover
            raise RuntimeError("the cpu backend needs numpy")
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

    def minibatch_step(self):
        return self._update(True)

    def reset_weights(self):
        self.weights = np.zeros(self.k, np.float32)

    def assign(self, dists: bool = False):
        labels, dist = self._nearest()
        self.labels_ = labels
        return float(dist.sum(dtype=np.float64)), (dist if dists else None)

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

    def pp_read_blocks(self, closest, blocks):
        return {b: closest[0][b * PP_BLOCK : (b + 1) * PP_BLOCK].tolist() for b in set(blocks)}

    def block_start(self, b: int) -> int:
        return b * PP_BLOCK

    def transform(self):
        diff = self.x[:, None, :] - self.centers[None, :, :]
        return np.sqrt((diff * diff).sum(-1)).astype(np.float32)


class _PythonEngineNumpyOut(PythonEngine):
    """PythonEngine where numpy is importable: labels, distances and transform() as numpy arrays (int32, float32)
    like the other engines; the arithmetic stays pure Python."""

    def _out(self, values, kind):
        return np.asarray(values, np.int32 if kind == "labels" else np.float32)


def make_engine(device, data: HostData, k: int, chunk_rows: int | None = None):
    """The engine of ``device``: GPUEngine (WebGPU), PythonEngine (python backend) or NumpyEngine (cpu)."""
    if device.is_gpu:
        return GPUEngine(device, data, k, chunk_rows)
    if device.pure:
        return (PythonEngine if np is None else _PythonEngineNumpyOut)(device, data, k, chunk_rows)
    return NumpyEngine(device, data, k, chunk_rows)
