"""k-means step by step: k-means++ initialisation (one centroid per step), then Lloyd iterations, on 2-D toy
datasets. The points, their labels and the centroids are the k-means engine's own device buffers, read on the
device by the drawing shaders (shaders/render/): a compute pass splats the points into one word per pixel (coverage
and point index) and flags the 32 x 32 tiles they touch, once per dataset and plot size (points_splat.wgsl);
scatter.wgsl builds the Voronoi cells as polygons in its vertex stage and fills them; points.wgsl draws the flagged
tiles' words in the colors of the current labels; markers.wgsl draws the centroids.
Per iteration only the 16-byte statistics (shift, inertia, changed, empty) come back to the host. Elbow and
silhouette panels for k = 1..10 fill in one k per frame, on a 2,000-point subsample (silhouette costs O(n^2)).
"""

from __future__ import annotations

import math
import random
import struct
import time

import numpy as np

from ..cluster import KMeans, make_dataset, silhouette_score
from ..cluster._data import as_host
from ..cluster._engine import make_engine
from ..cluster.kmeans import _relocate_empty, kmeans_plusplus
from ..ops import full
from .app import Demo
from .render import DIM, PALETTE, PANEL, TEXT, palette_floats, rgba

DATASET_KEYS = {"1": "blobs", "2": "moons", "3": "circles", "4": "anisotropic"}
SPEEDS = (0.5, 1, 2, 5, 10, 30, 60)  # Lloyd iterations (or init steps) per second
PANEL_SAMPLE = 2000
PLOT = (20, 44, 820, 690)  # x, y, w, h of the scatter plot
SPLAT_TILE = 32  # pixels per side of a tile flag (SPLAT_TILE in shaders/render/disc.wgsl)


class KMeansDemo(Demo):
    name = "kmeans"
    title = "k-means step by step"
    help = (
        ("space", "play/pause"),
        ("s", "single step"),
        ("r", "reset (new k-means++ init)"),
        ("up/down", "k"),
        ("+/-", "speed"),
        ("1-4", "blobs, moons, circles, anisotropic"),
        ("v", "Voronoi"),
        ("Esc", "quit"),
    )

    def __init__(self, app, options):
        super().__init__(app, options)
        self.n = int(options.get("points") or 10_000)
        self.k = int(options.get("k") or 4)
        self.dataset = options.get("dataset") or "blobs"
        self.seed = int(options.get("seed") or 0)
        self.playing = not options.get("paused", False)
        self.speed_index = SPEEDS.index(options.get("speed", 10)) if options.get("speed", 10) in SPEEDS else 4
        self.max_per_frame = int(options.get("steps_per_frame") or 1)
        # benchmark mode: one Lloyd iteration every frame whatever the speed; on convergence a new k-means++ init
        # starts with all its centroids shown, so every frame iterates (benchmarks/bench_demos.py)
        self.bench = bool(options.get("bench", False))
        self.iterations = 0  # Lloyd iterations since start, over resets
        self.panel_frames = 0  # frames that fitted a panel k (the slow first frames)
        self.voronoi = True
        self.resets = 0
        self._groups: dict = {}
        self.load_dataset(self.dataset)

    # --- model state ----------------------------------------------------------------------------------------
    def load_dataset(self, name: str) -> None:
        self.dataset = name
        X, _ = make_dataset(name, self.n, random_state=self.seed, centers=4)
        self.X = np.asarray(X, np.float64)
        self.data = as_host(self.X)
        xc = self.data.x32
        lo, hi = xc.min(0), xc.max(0)
        span = float(max(hi[0] - lo[0], hi[1] - lo[1])) * 1.08 or 1.0
        x, y, w, h = PLOT
        s = min(w, h) / span
        mid = (lo + hi) / 2
        # design pixel = data * (s, -s) + offset (y up on screen)
        self.xform = (s, -s, x + w / 2 - mid[0] * s, y + h / 2 + mid[1] * s)
        rng = np.random.default_rng(self.seed)
        self.sample = self.X[rng.choice(len(self.X), min(PANEL_SAMPLE, len(self.X)), replace=False)]
        self.panel_k: list[int] = []
        self.panel_inertia: list[float] = []
        self.panel_sil: list[float] = []
        self.new_engine()

    def new_engine(self) -> None:
        self.engine = make_engine(self.device, self.data, self.k)
        self.points_version = getattr(self, "points_version", 0) + 1  # the splat words are redone
        if len(self.engine.chunks) != 1:
            raise RuntimeError("the k-means demo draws one chunk of points; use fewer points")
        self._groups.clear()
        self.reset()

    def reset(self) -> None:
        """New k-means++ initialisation (seeded by the reset count), revealed one centroid per step."""
        self.resets += 1
        rng = random.Random(self.seed * 1000 + self.resets)
        self.init_centers = kmeans_plusplus(self.engine, self.data, self.k, rng)
        self.engine.set_centers(self.init_centers)
        self.revealed = self.k if self.bench else 1
        self.n_iter = 0
        self.inertia = float("nan")
        self.shift = float("nan")
        self.converged = False
        self.inertia_history: list[float] = []
        self._accum = 0.0
        self._last = time.perf_counter()

    def step(self) -> None:
        """One step: reveal the next k-means++ centroid, or one Lloyd iteration."""
        if self.converged:
            return
        if self.revealed < self.k:
            self.revealed += 1
            return
        shift, inertia, changed, empty = self.engine.iterate()
        if empty:
            shift = _relocate_empty(self.engine, self.data)
        self.n_iter += 1
        self.iterations += 1
        self.inertia, self.shift = inertia, shift
        self.inertia_history.append(inertia)
        if changed == 0 or shift <= self.data.variance_mean * 1e-4:
            self.converged = True

    def _panel_step(self) -> None:
        """Fit one more k of the elbow/silhouette panels (k = 1..10) on the subsample."""
        k = len(self.panel_k) + 1
        if k > 10:
            return
        self.panel_frames += 1
        model = KMeans(k, random_state=self.seed, n_init=1, device=self.device).fit(self.sample)
        self.panel_k.append(k)
        self.panel_inertia.append(float(model.inertia_))
        self.panel_sil.append(silhouette_score(self.sample, model.labels_, device=self.device) if k > 1 else math.nan)

    def update(self) -> None:
        now = time.perf_counter()
        dt, self._last = now - self._last, now
        if self.bench:
            if self.converged:
                self.reset()
            self.step()
        elif self.playing and not self.converged:
            self._accum += dt * SPEEDS[self.speed_index]
            steps = min(int(self._accum), self.max_per_frame)
            self._accum = min(self._accum - steps, 1.0)
            for _ in range(steps):
                self.step()
        self._panel_step()

    # --- input --------------------------------------------------------------------------------------------------
    def on_key(self, key, modifiers):
        if key == " ":
            self.playing = not self.playing
        elif key == "s":
            self.playing = False
            self.step()
        elif key == "r":
            self.reset()
        elif key in ("ArrowUp", "ArrowDown"):
            k = max(2, min(10, self.k + (1 if key == "ArrowUp" else -1)))
            if k != self.k:
                self.k = k
                self.new_engine()
        elif key in ("+", "=", "WheelUp"):
            self.speed_index = min(len(SPEEDS) - 1, self.speed_index + 1)
        elif key in ("-", "WheelDown"):
            self.speed_index = max(0, self.speed_index - 1)
        elif key in DATASET_KEYS:
            self.load_dataset(DATASET_KEYS[key])
        elif key == "v":
            self.voronoi = not self.voronoi

    def state(self) -> dict:
        return {
            "dataset": self.dataset,
            "k": self.k,
            "n_points": self.n,
            "n_iter": self.n_iter,
            "revealed": self.revealed,
            "inertia": self.inertia,
            "converged": self.converged,
            "playing": self.playing,
            "speed": SPEEDS[self.speed_index],
            "voronoi": self.voronoi,
            "resets": self.resets,
            "iterations": self.iterations,
            "panel_k": list(self.panel_k),
            "panel_frames": self.panel_frames,
        }

    # --- drawing --------------------------------------------------------------------------------------------------
    def setup(self, r) -> None:
        self.scatter_pipeline = r.pipeline("render/scatter.wgsl", blend=False)
        self.points_pipeline = r.pipeline("render/points.wgsl")
        self.markers_pipeline = r.pipeline("render/markers.wgsl", topology="triangle-strip")
        self.scatter_params = r.uniform_buffer(16 * 17)
        self.points_params = r.uniform_buffer(16 * 15)
        self.markers_params = r.uniform_buffer(16 * 15)
        self._splat = None  # (key, grid (x0, y0, w, h) in physical pixels, splat words, tile flags, tile counts)

    def _splat_grid(self, r, x_t):
        """The splat words and tile flags of the points for this physical plot rectangle (shaders/render/disc.wgsl):
        they depend on the positions only, so they are splatted again only for new points or a new plot size."""
        sx, sy = r.physical[0] / r.size[0], r.physical[1] / r.size[1]
        x, y, w, h = PLOT
        x0, y0 = math.floor(x * sx), math.floor(y * sy)
        grid = (x0, y0, math.ceil((x + w) * sx) - x0, math.ceil((y + h) * sy) - y0)
        tw, th = -(-grid[2] // SPLAT_TILE), -(-grid[3] // SPLAT_TILE)
        key = (grid, self.points_version, self.n)
        if self._splat is not None and self._splat[0] == key:
            return self._splat[1:]
        if self._splat is not None:
            for t in self._splat[2:4]:
                t.free()
            self._groups.clear()  # bind groups of the old buffers
        if self.n >= 1 << 24:
            raise ValueError("the k-means demo splats at most 2^24 - 1 points")
        words = full((grid[2] * grid[3],), 0, "uint32", self.device)
        flags = full((tw * th,), 0, "uint32", self.device)
        a, b, c, d = self.xform
        radius = 2.2 if self.n > 3000 else 3.5
        self.device.kernel("render/points_splat.wgsl", WG=64)(
            self.device.grid_1d(-(-self.n // 64)),
            {
                "xform": (a * sx, b * sy, c * sx - grid[0], d * sy - grid[1]),
                "radius": radius * min(sx, sy),
                "w": grid[2],
                "h": grid[3],
                "n": self.n,
                "tw": tw,
            },
            pts=x_t,
            splat=words,
            tiles=flags,
        )
        self._splat = (key, grid, words, flags, (tw, th))
        return self._splat[1:]

    def _group(self, r, pipeline, params, *tensors):
        """A cached bind group: binding 0 = the uniform buffer, then the tensors (keyed by where they live)."""
        key = (id(pipeline), *((id(t._storage.buffer), t.byte_offset) for t in tensors))
        group = self._groups.get(key)
        if group is None:
            entries = {0: params, **{i + 1: t for i, t in enumerate(tensors)}}
            group = self._groups[key] = r.bind_group(pipeline, entries)
        return group

    def draw(self, r) -> None:
        eng = self.engine
        _, _, x_t, labels_t = eng.chunks[0]
        centers_t = eng.centers[eng.cur]
        view = (*r.size, *r.physical)
        pal = palette_floats(PALETTE)
        q = r.device.queue
        a, b, c, d = self.xform
        grid, splat, flags, (tw, th) = self._splat_grid(r, x_t)  # recorded on gpuml's queue when the points move
        x, y, w, h = PLOT
        xs, ys = ((x - c) / a, (x + w - c) / a), ((y - d) / b, (y + h - d) / b)
        box = (min(xs), min(ys), max(xs), max(ys))  # the plot rectangle in data coordinates
        cells, tint = (self.revealed, 0.22) if self.voronoi else (1, 0.0)  # no tint: one cell, the whole box
        scatter_params = struct.pack("68f", *view, *self.xform, *box, cells, tint, 0, 0, *rgba(PANEL), *pal)
        q.write_buffer(self.scatter_params, 0, scatter_params)
        q.write_buffer(self.points_params, 0, struct.pack("4f8I48f", *view, *grid, tw, th, 0, 0, *pal))
        q.write_buffer(self.markers_params, 0, struct.pack("60f", *view, *self.xform, 10.0, 3.0, 0.0, 0.0, *pal))
        scatter_group = self._group(r, self.scatter_pipeline, self.scatter_params, centers_t)
        points_group = self._group(r, self.points_pipeline, self.points_params, splat, flags, labels_t)
        markers_group = self._group(r, self.markers_pipeline, self.markers_params, centers_t)
        markers = self.revealed

        def scatter(rp):
            rp.set_scissor_rect(*grid)  # the cells never leave the plot; this makes sure
            rp.set_pipeline(self.scatter_pipeline)
            rp.set_bind_group(0, scatter_group)
            rp.draw(3 * (cells + 4), cells)
            rp.set_scissor_rect(0, 0, *r.physical)
            rp.set_pipeline(self.points_pipeline)
            rp.set_bind_group(0, points_group)
            rp.draw(6 * tw * th)
            rp.set_pipeline(self.markers_pipeline)
            rp.set_bind_group(0, markers_group)
            rp.draw(4, markers)

        r.custom(scatter)  # paints the whole plot rectangle (no panel under it)
        r.text(f"k-means · {self.dataset} · {self.n:,} points", 20, 12, 20, TEXT)
        self._draw_side(r)
        self.draw_help(r, 20, 748, 1240)

    def _draw_side(self, r) -> None:
        x, w = 860, 400
        r.panel(x, 44, w, 188, "state")
        if self.revealed < self.k:
            phase = f"k-means++ init: centroid {self.revealed} of {self.k}"
        elif self.converged:
            phase = f"converged after {self.n_iter} iterations"
        else:
            phase = "Lloyd iterations" + ("" if self.playing else " (paused)")
        rows = [
            ("k", f"{self.k}"),
            ("iteration", f"{self.n_iter}"),
            ("inertia", f"{self.inertia:,.1f}" if self.n_iter else "-"),
            ("center shift", f"{self.shift:.3g}" if self.n_iter else "-"),
            ("speed", f"{SPEEDS[self.speed_index]:g} steps/s" + ("" if self.playing else ", paused")),
        ]
        r.text(phase, x + 12, 72, 15, "#edc948" if self.converged else TEXT)
        for i, (label, value) in enumerate(rows):
            yy = 98 + i * 20
            r.text(label, x + 12, yy, 14, DIM)
            r.text(value, x + w - 12, yy, 14, TEXT, "right")
        for j in range(self.k):
            r.rect(x + 12 + j * 24, 206, 18, 14, PALETTE[j] if j < self.revealed else "#33363f")
        ks = self.panel_k
        r.plot(
            x,
            246,
            w,
            240,
            [("inertia (2,000-point sample)", ks, self.panel_inertia, "#4e79a7")],
            title="elbow: inertia vs k",
            xlim=(1, 10),
            marker_x=self.k,
        )
        sil = [(k, s) for k, s in zip(ks, self.panel_sil, strict=True) if k > 1]
        r.plot(
            x,
            496,
            w,
            238,
            [("mean silhouette", [k for k, _ in sil], [s for _, s in sil], "#59a14f")],
            title="silhouette vs k",
            xlim=(1, 10),
            marker_x=self.k,
        )
        if len(ks) < 10:
            r.text(f"computing k = {len(ks) + 1} ...", x + w - 12, 252, 12, DIM, "right")
