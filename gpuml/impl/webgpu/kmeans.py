"""k-means on WebGPU: the device side of gpuml.cluster (shaders/cluster/), an engine object per fit.

The engine holds the centered float32 data on its device and offers the host driver (gpuml/cluster/kmeans.py,
which owns the RNG and every host decision) the interface every backend's engine has:

- ``set_centers(rows)``: upload k centers (labels reset to "none").
- ``iterate()``: one Lloyd iteration (assignment fused with partial sums, then the reduction and the new
  centers); returns (sum of squared center shifts, inertia w.r.t. the old centers, changed labels, empty
  clusters) with ONE 16-byte readback. The old centers stay available until the next call.
- ``assign()``: labels and exact inertia for the current centers (no update); ``previous_distances()`` the same
  against the centers before the last iteration (the empty-cluster fix).
- ``pp_*``: k-means++ distance-to-nearest updates and per-block sums of D^2 for host-side sampling.

Data larger than one storage binding is split in row chunks; every kernel runs once per chunk and the partial
sums of all chunks go into one buffer (``lane0`` offsets), so an iteration is still one readback.

The assignment kernel is a variant table (:data:`KMEANS_ASSIGN`): ``tile`` (assign_tile.wgsl: 4- or 8-lane
subgroups, a lane's centers in registers), ``subgroup`` (assign_subgroup.wgsl) and ``portable`` (assign.wgsl,
no subgroups). The static order takes the first that applies, in that order; with tuning on (GPUML_TUNE) the
engine times the applicable ones the first time a shape class meets the adapter; GPUML_KMEANS forces one.
"""

from __future__ import annotations

import array
import math
from dataclasses import dataclass

from ...backends.variants import Variant, VariantTable
from ...tensor import Tensor, tensor
from ..python.kmeans import PP_BLOCK

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
SIL_WG = 64
MAX_SIL_K = 1024


@dataclass(frozen=True)
class AssignShape:
    """The geometry the assignment variants depend on: points (all chunks), clusters, vec4 columns."""

    n: int
    k: int
    d4: int


def _tile_fits(caps, g: AssignShape) -> bool:
    """assign_tile.wgsl: 4- or 8-lane subgroups, the centers in a lane's registers and in workgroup memory."""
    sg = caps.subgroup_size
    if sg not in (4, 8):
        return False
    c4 = -(-g.k // (4 * sg))
    fits = g.d4 <= TILE_MAX_D4 and c4 <= TILE_MAX_C4 and c4 * g.d4 <= TILE_MAX_C4D4
    return fits and 16 * g.k * g.d4 <= caps.max_workgroup_storage


def _bucket(v: int) -> int:
    return 1 << max(0, (v - 1).bit_length())  # next power of two: one tuning per octave


KMEANS_ASSIGN = VariantTable(
    "kmeans_assign",
    [
        Variant("tile", "cluster/assign_tile.wgsl", {"SG": "4|8", "C4": "ceil(k / 4 SG)"},
                lambda caps, g: _tile_fits(caps, g), "centers in registers; 4/8-lane subgroups, small k x d"),
        Variant("subgroup", "cluster/assign_subgroup.wgsl", {"SG": "subgroup size", "KL": "ceil(k / SG)"},
                lambda caps, g: caps.subgroup_size > 0, "clusters split over the lanes of a subgroup"),
        Variant("portable", "cluster/assign.wgsl", {"WG": 64}, note="one point per invocation; no subgroups"),
    ],
    shape_class=lambda g: (_bucket(g.n), _bucket(g.k), g.d4),
    force_setting="GPUML_KMEANS",
)  # fmt: skip


def _f32(values) -> array.array:
    return array.array("f", values)


def kmeans_engine(device, data, k: int, chunk_rows: int | None = None) -> GPUEngine:
    """The k-means engine of a WebGPU device for centered host data ``data`` (gpuml.cluster._data.HostData)."""
    return GPUEngine(device, data, k, chunk_rows)


class GPUEngine:
    """See the module docstring. ``kernel`` forces an assignment variant (tests); otherwise KMEANS_ASSIGN.choose.
    ``kind`` is the variant in use."""

    def __init__(self, device, data, k: int, chunk_rows: int | None = None, kernel: str | None = None):
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
        self.sg = device.caps.subgroup_size
        self.chunks = []  # (start, stop, x tensor, labels tensor)
        for start in range(0, self.n, self.chunk_rows):
            stop = min(self.n, start + self.chunk_rows)
            x = _upload(device, data.padded_rows(start, stop, self.d4)).reshape(stop - start, 4 * self.d4)
            labels = Tensor.empty((stop - start,), "uint32", device)
            self.chunks.append([start, stop, x, labels])
        d4 = self.d4
        self.centers = [Tensor.empty((k * d4 * 4,), "float32", device) for _ in range(2)]
        self.cnorm = [Tensor.empty((k,), "float32", device) for _ in range(2)]
        self.sums = Tensor.empty((k * d4 * 4,), "float32", device)
        self.counts = Tensor.empty((k,), "float32", device)
        self.weights = Tensor.empty((k,), "float32", device)
        self.stats = Tensor.empty((4,), "float32", device)
        self._dummy = Tensor.empty((4,), "float32", device)
        self.cur = 0  # index of the current centers
        shape = AssignShape(self.n, k, d4)
        variant = KMEANS_ASSIGN[kernel] if kernel else KMEANS_ASSIGN.choose(device, shape, self._tuning_run)
        if not variant.applies(device.caps, shape):  # a forced variant (GPUML_KMEANS, kernel=) that cannot run
            raise ValueError(
                f"k-means kernel {variant.name!r} does not apply to {k} clusters of {self.d} features on "
                f"{device.adapter} (subgroup size {self.sg}): {variant.note}"
            )
        self._use(variant.name)
        self.cur = 0  # tuning runs write the other centers; set_centers starts from these

    def _use(self, kind: str) -> None:
        """Take assignment variant ``kind``: its work split per chunk and the partial-sum buffers it needs."""
        self.kind = kind
        # work split of the assignment kernel, per chunk: (workgroups, points per workgroup or lane, lane0)
        self.plan, groups = [], 0
        for start, stop, _, _ in self.chunks:
            m = stop - start
            if kind == "tile":
                tile = 2 * self.sg
                per = tile * max(4, -(-m // (tile * 256)))
                wgs = -(-m // per)
                self.plan.append((wgs, per, groups))
                groups += wgs
            elif kind == "subgroup":
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
        self.part_sums = Tensor.empty((groups * k * d4 * 4,), "float32", self.device)
        self.part_counts = Tensor.empty((groups * k,), "float32", self.device)
        self.part_stats = Tensor.empty((groups * 2,), "float32", self.device)

    def _tuning_run(self, variant: Variant) -> None:
        """One Lloyd iteration with ``variant`` on the not yet initialised centers (timing only: set_centers
        resets the labels and centers before any real work)."""
        for t in (self.centers[self.cur], self.cnorm[self.cur]):
            self.device.impl.fill(t, 0.0)  # pooled buffers may hold anything; time finite arithmetic
        self._use(variant.name)
        self._record_assign(True)
        self._record_update(0)

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
            fill = self.device.impl.fill
            for chunk in self.chunks:
                if chunk[3].size:
                    chunk[3] = fill(Tensor.empty(chunk[3].shape, "uint32", self.device), NONE)

    def get_centers(self, which: int | None = None) -> list[list[float]]:
        flat = self.centers[self.cur if which is None else which].to_array()
        w = 4 * self.d4
        return [flat[j * w : j * w + self.d].tolist() for j in range(self.k)]

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

    def record_iteration(self) -> Tensor:
        """Record one Lloyd iteration without waiting; returns the tensor its 4 statistics (shift, inertia, changed,
        empty) land in, to read when convenient (the next iteration overwrites it: copy it first)."""
        self._record_assign(True)
        self._record_update(0)
        return self.stats

    def device_buffers(self):
        """(points, labels, centers) tensors a renderer can bind in place, or None when the points span chunks."""
        if len(self.chunks) != 1:
            return None
        _, _, x, labels = self.chunks[0]
        return x, labels, self.centers[self.cur]

    def assign(self, dists: bool = False):
        """Labels for the current centers; returns (inertia, per-point distances or None)."""
        if not dists:  # the iteration's own kernel (its partial sums go unused): no second pipeline to compile
            self._record_assign(True)
            stats = self.part_stats.to_array()
            return math.fsum(stats[0::2]), None
        buffers = [Tensor.empty((stop - start,), "float32", self.device) for start, stop, _, _ in self.chunks]
        self._record_assign(False, buffers)
        stats = self.part_stats.to_array()
        inertia = math.fsum(stats[0::2])
        return inertia, (self._concat(buffers) if dists else None)

    def previous_distances(self):
        """(the centers before the last iteration, each point's squared distance to its nearest one): the
        assignment the last iteration made, for the empty-cluster fix. The current centers stay current."""
        self.cur = 1 - self.cur
        try:
            old = self.get_centers()
            _, dist = self.assign(dists=True)
        finally:
            self.cur = 1 - self.cur
        return old, dist

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
    def set_weights(self, weights: list[float]) -> None:
        """The per-center counts of points seen so far (mini-batch learning rates)."""
        self.weights.assign(_f32(weights))

    def get_weights(self) -> list[float]:
        return self.weights.to_array().tolist()

    def reset_weights(self) -> None:
        self.set_weights([0.0] * self.k)

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
                prev = self.device.impl.fill(Tensor.empty((m,), "float32", self.device), BIG)
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

    def pp_values(self, closest):
        """All n values of ``closest`` (one readback per chunk): the weighted seeding samples from them."""
        return self._concat(closest)

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

    # --- transform ---------------------------------------------------------------------------------------
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
    if np is not None and not isinstance(host, array.array):
        return tensor(host.reshape(-1), device=device)
    return tensor(host, dtype="float32", device=device)


def _own(device, view: Tensor) -> Tensor:
    """A tensor of its own holding ``view``'s values (device copy)."""
    out = Tensor.empty(view.shape, "float32", device)
    if view.size:
        device.copy(view._storage.buffer, out._storage.buffer, view.nbytes, view.byte_offset, 0)
    return out


def silhouette(device, data, lab: list[int], k: int):
    """Silhouette coefficient of every row of ``data`` (labels ``lab`` in 0..k-1): the pairwise distances in tiles
    of 64 points staged in workgroup memory (shaders/cluster/silhouette.wgsl); no n x n matrix is stored."""
    if k > MAX_SIL_K:
        raise ValueError(f"silhouette on the GPU supports at most {MAX_SIL_K} clusters, got {k}")
    n = data.n
    sizes = [0.0] * k
    for v in lab:
        sizes[v] += 1.0
    d4 = -(-data.d // 4)
    rows = data.padded_rows(0, n, d4)
    x = tensor(rows.reshape(-1) if np is not None else rows, dtype="float32", device=device)
    lt = tensor(array.array("I", lab), dtype="uint32", device=device)
    st = tensor(_f32(sizes), dtype="float32", device=device)
    out = Tensor.empty((n,), "float32", device)
    kb = 1 << max(0, (k - 1).bit_length())  # bucket K to powers of two: fewer pipeline variants
    kernel = device.kernel("cluster/silhouette.wgsl", WG=SIL_WG, D4=d4, K=kb)
    kernel(device.grid_1d(-(-n // SIL_WG)), {"n": n, "k": k}, x=x, labels=lt, sizes=st, out=out)
    return out.numpy() if np is not None else out.tolist()
