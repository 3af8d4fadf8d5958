"""k-means step by step, in a window: a thin front end over :class:`gpuml.playground.kmeans.KMeansModel`.

The points, their labels and the centroids are the k-means run's own device buffers, read on the device by the
drawing shaders (shaders/render/): a compute pass splats the points into one word per pixel (coverage and point
index) and flags the 32 x 32 tiles they touch, once per dataset and plot size (points_splat.wgsl); scatter.wgsl
builds the Voronoi cells as polygons in its vertex stage and fills them; points.wgsl draws the flagged tiles' words
in the colors of the current labels; markers.wgsl draws the centroids. Per iteration only the 16-byte statistics
(shift, inertia, changed, empty) come back to the host. During the k-means++ seeding the same points pass draws
each point's D^2 sampling weight (quantised to 15 levels, written once per seeding step) through a heat palette.

The elbow/silhouette panels are fitted in a worker thread, one k per job, on gpuml's cpu backend: a readback on
the WebGPU device holds its lock until the queue drains, so GPU fits in a thread would still stall frames. Only
the render thread touches the model; the worker gets (generation, k, sample) jobs and returns results.
"""

from __future__ import annotations

import math
import os
import queue
import struct
import threading
import time

from ..ops import full
from ..playground.kmeans import DATASETS, K_MAX, K_MIN, PANEL_KS, KMeansModel, check_seed, panel_fit
from .app import Demo
from .chart import plot
from .render import DIM, PALETTE, PANEL, TEXT, palette_floats, rgba

DATASET_KEYS = {str(i + 1): name for i, name in enumerate(DATASETS)}
PLOT = (20, 44, 820, 690)  # x, y, w, h of the scatter plot
SPLAT_TILE = 32  # pixels per side of a tile flag (SPLAT_TILE in shaders/render/disc.wgsl)
# K_MAX cluster colours (the render palette's 11, then 4 more) and the "unassigned" grey last: 16 shader entries
KMEANS_PALETTE = [*PALETTE[:11], "#bcbd22", "#a0cbe8", "#8cd17d", "#ffbe7d", PALETTE[11]]
assert len(KMEANS_PALETTE) == K_MAX + 1
# D^2 weight levels 0..14 (dim to hot), entry 15 unused
HEAT_LEVELS = 15
HEAT_PALETTE = [
    rgba(f"#{int(70 + 185 * t):02x}{int(74 + 140 * t * t):02x}{int(100 * (1 - t) + 20 * t):02x}")
    for t in (i / (HEAT_LEVELS - 1) for i in range(HEAT_LEVELS))
] + [rgba("#6b6b78")]
SUGGEST_COLOR = "#ff9a3c"


class KMeansDemo(Demo):
    name = "kmeans"
    title = "k-means step by step"
    help = (
        ("space", "play/pause"),
        ("s", "single step"),
        ("r", "reset (new k-means++ init)"),
        ("up/down", "k"),
        ("+/-", "speed"),
        ("1-6", ", ".join(DATASETS)),
        ("v", "Voronoi"),
        ("Esc", "quit"),
    )

    @classmethod
    def check_options(cls, options: dict) -> None:
        dataset = options.get("dataset")
        if dataset is not None and dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
        k = options.get("k")
        if k is not None and not (isinstance(k, int) and K_MIN <= k <= K_MAX):
            raise ValueError(f"k must be an integer in [{K_MIN}, {K_MAX}], got {k!r}")
        if options.get("seed") is not None:
            check_seed(options["seed"])  # the page's seed box's rule, before the window opens

    def __init__(self, app, options):
        super().__init__(app, options)
        # benchmark mode: one Lloyd iteration every frame whatever the speed; on convergence a new k-means++ init
        # starts with all its centroids shown, so every frame iterates (benchmarks/bench_demos.py)
        self.model = KMeansModel(
            points=int(options.get("points") or 10_000),
            k=int(options.get("k") or 4),
            dataset=options.get("dataset") or "blobs",
            seed=int(options.get("seed") or 0),
            speed=options.get("speed", 10),
            playing=not options.get("paused", False),
            steps_per_frame=int(options.get("steps_per_frame") or 1),
            bench=bool(options.get("bench", False)),
            device=self.device,
        )
        if self.model.run.buffers() is None:
            raise RuntimeError("the k-means demo draws one chunk of points; use fewer points")
        self._groups: dict = {}
        self._xform_key = None
        self._last = time.perf_counter()
        self._levels = None  # (key, u32 tensor of the D^2 levels)
        # elbow/silhouette panels: one job at a time to a worker thread (see the module docstring)
        self._jobs: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._job = None  # (generation, k) in flight
        self._panel_device = options.get("panel_device", "cpu")
        self._worker = threading.Thread(target=self._panel_worker, name="kmeans-panels", daemon=True)
        self._worker.start()

    def _panel_worker(self) -> None:
        try:  # Linux: a nicer thread, so the render thread wins the shared cores
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        while True:
            job = self._jobs.get()
            if job is None:
                return
            generation, k, sample, seed = job
            try:
                result = panel_fit(sample, k, seed, self._panel_device)
            except Exception as exc:  # shown in the panel; the demo keeps running
                result = exc
            self._results.put((generation, k, result))

    def close(self) -> None:
        self._jobs.put(None)

    def _panels(self) -> None:
        """Collect a finished panel job and start the next one (render thread; never waits)."""
        m = self.model
        while not self._results.empty():
            generation, k, result = self._results.get_nowait()
            if self._job == (generation, k):
                self._job = None
            if isinstance(result, Exception):
                self.panel_error = f"panel k = {k}: {result}"
            else:
                m.add_panel(generation, k, *result)
        k = m.panel_next()
        if k is not None and self._job is None:
            self._job = (m.panel_generation, k)
            self._jobs.put((m.panel_generation, k, m.sample, m.seed))

    panel_error = None

    @property
    def xform(self) -> tuple[float, float, float, float]:
        """design pixel = centered data * (a, b) + (c, d) (y up on screen), for the current dataset."""
        m = self.model
        if self._xform_key != m.points_version:
            lo_x, lo_y, hi_x, hi_y = m.bounds
            mean = m.run.mean
            lo, hi = (lo_x - mean[0], lo_y - mean[1]), (hi_x - mean[0], hi_y - mean[1])
            span = float(max(hi[0] - lo[0], hi[1] - lo[1])) * 1.08 or 1.0
            x, y, w, h = PLOT
            s = min(w, h) / span
            mid = ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2)
            self._xform = (s, -s, x + w / 2 - mid[0] * s, y + h / 2 + mid[1] * s)
            self._xform_key = m.points_version
        return self._xform

    def update(self) -> None:
        now = time.perf_counter()
        dt, self._last = now - self._last, now
        self.model.advance(dt, panels=False)
        self._panels()

    # --- input --------------------------------------------------------------------------------------------------
    def on_key(self, key, modifiers):
        m = self.model
        if key == " ":
            m.set("playing", not m.get("playing"))
        elif key == "s":
            m.press("step")
        elif key == "r":
            m.press("reset")
        elif key in ("ArrowUp", "ArrowDown"):
            m.nudge("k", key == "ArrowUp")
        elif key in ("+", "=", "WheelUp", "-", "WheelDown"):
            m.nudge("speed", key in ("+", "=", "WheelUp"))
        elif key in DATASET_KEYS:
            m.set("dataset", DATASET_KEYS[key])
        elif key == "v":
            m.set("voronoi", not m.get("voronoi"))

    # --- drawing --------------------------------------------------------------------------------------------------
    def setup(self, r) -> None:
        self.scatter_pipeline = r.pipeline("render/scatter.wgsl", blend=False)
        self.points_pipeline = r.pipeline("render/points.wgsl")
        self.markers_pipeline = r.pipeline("render/markers.wgsl", topology="triangle-strip")
        self.scatter_params = r.uniform_buffer(16 * 21)
        self.points_params = r.uniform_buffer(16 * 19)
        self.heat_params = r.uniform_buffer(16 * 19)
        self.markers_params = r.uniform_buffer(16 * 19)
        self._splat = None  # (key, grid (x0, y0, w, h) in physical pixels, splat words, tile flags, tile counts)

    def _splat_grid(self, r, x_t):
        """The splat words and tile flags of the points for this physical plot rectangle (shaders/render/disc.wgsl):
        they depend on the positions only, so they are splatted again only for new points or a new plot size."""
        n = self.model.n
        sx, sy = r.physical[0] / r.size[0], r.physical[1] / r.size[1]
        x, y, w, h = PLOT
        x0, y0 = math.floor(x * sx), math.floor(y * sy)
        grid = (x0, y0, math.ceil((x + w) * sx) - x0, math.ceil((y + h) * sy) - y0)
        tw, th = -(-grid[2] // SPLAT_TILE), -(-grid[3] // SPLAT_TILE)
        key = (grid, self.model.points_version, n)
        if self._splat is not None and self._splat[0] == key:
            return self._splat[1:]
        if self._splat is not None:
            for t in self._splat[2:4]:
                t.free()
            self._groups.clear()  # bind groups of the old buffers
        if n >= 1 << 24:
            raise ValueError("the k-means demo splats at most 2^24 - 1 points")
        words = full((grid[2] * grid[3],), 0, "uint32", self.device)
        flags = full((tw * th,), 0, "uint32", self.device)
        a, b, c, d = self.xform
        radius = 2.2 if n > 3000 else 3.5
        self.device.kernel("render/points_splat.wgsl", WG=64)(
            self.device.grid_1d(-(-n // 64)),
            {
                "xform": (a * sx, b * sy, c * sx - grid[0], d * sy - grid[1]),
                "radius": radius * min(sx, sy),
                "w": grid[2],
                "h": grid[3],
                "n": n,
                "tw": tw,
            },
            pts=x_t,
            splat=words,
            tiles=flags,
        )
        self._splat = (key, grid, words, flags, (tw, th))
        return self._splat[1:]

    def _seed_levels(self, r):
        """A u32 tensor of the points' D^2 levels (0..14) for the current seeding step, written when it changes."""
        m = self.model
        key = (m.points_version, m.resets, m.revealed)
        if self._levels is not None and self._levels[0] == key:
            return self._levels[1]
        t = self._levels[1] if self._levels is not None and self._levels[1].shape[0] == m.n else None
        if t is None:
            if self._levels is not None:
                self._levels[1].free()
            t = full((m.n,), 0, "uint32", self.device)
        levels = struct.pack(f"{m.n}I", *m.seed_levels(HEAT_LEVELS))
        buf, offset, _ = t.gpu_buffer()
        self.device.flush()  # queue order: the tensor's fill goes first
        r.device.queue.write_buffer(buf, offset, levels)
        self._levels = (key, t)
        return t

    def _group(self, r, pipeline, params, *tensors):
        """A cached bind group: binding 0 = the uniform buffer, then the tensors (keyed by where they live)."""
        key = (id(pipeline), id(params), *((id(t.gpu_buffer()[0]), t.byte_offset) for t in tensors))
        group = self._groups.get(key)
        if group is None:
            entries = {0: params, **{i + 1: t for i, t in enumerate(tensors)}}
            group = self._groups[key] = r.bind_group(pipeline, entries)
        return group

    def draw(self, r) -> None:
        v = self.model.view()
        x_t, labels_t, centers_t = v["buffers"]
        if v["seeding"]:  # the points show their D^2 sampling weights, in the heat palette
            labels_t = self._seed_levels(r)
        view = (*r.size, *r.physical)
        pal = palette_floats(KMEANS_PALETTE)
        q = r.device.queue
        a, b, c, d = xform = self.xform
        grid, splat, flags, (tw, th) = self._splat_grid(r, x_t)  # recorded on gpuml's queue when the points move
        x, y, w, h = PLOT
        xs, ys = ((x - c) / a, (x + w - c) / a), ((y - d) / b, (y + h - d) / b)
        box = (min(xs), min(ys), max(xs), max(ys))  # the plot rectangle in data coordinates
        cells, tint = (v["revealed"], 0.22) if v["voronoi"] else (1, 0.0)  # no tint: one cell, the whole box
        if v["seeding"]:
            cells, tint = 1, 0.0  # no cells while seeding: the weights are the picture
        scatter_params = struct.pack("84f", *view, *xform, *box, cells, tint, 0, 0, *rgba(PANEL), *pal)
        q.write_buffer(self.scatter_params, 0, scatter_params)
        points_params = self.heat_params if v["seeding"] else self.points_params
        heat = [c for col in HEAT_PALETTE for c in col]
        q.write_buffer(
            points_params, 0, struct.pack("4f8I64f", *view, *grid, tw, th, 0, 0, *(heat if v["seeding"] else pal))
        )
        q.write_buffer(self.markers_params, 0, struct.pack("76f", *view, *xform, 10.0, 3.0, 0.0, 0.0, *pal))
        scatter_group = self._group(r, self.scatter_pipeline, self.scatter_params, centers_t)
        points_group = self._group(r, self.points_pipeline, points_params, splat, flags, labels_t)
        markers_group = self._group(r, self.markers_pipeline, self.markers_params, centers_t)
        markers = v["revealed"]

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
        r.text(v["title"], 20, 12, 20, TEXT)
        self._draw_side(r, v)
        self.draw_help(r, 20, 748, 1240)

    def _draw_side(self, r, v) -> None:
        x, w = 860, 400
        r.panel(x, 44, w, 188, "state")
        r.text(v["phase"], x + 12, 72, 15, "#edc948" if v["converged"] else TEXT)
        for i, (label, value) in enumerate(v["rows"]):
            yy = 98 + i * 20
            r.text(label, x + 12, yy, 14, DIM)
            r.text(value, x + w - 12, yy, 14, TEXT, "right")
        for j in range(v["k"]):
            r.rect(x + 12 + j * 24, 198, 18, 12, KMEANS_PALETTE[j] if j < v["revealed"] else "#33363f")
        if v["seeding"]:  # the heat scale of the D^2 weights
            r.text("D^2 weight 0", x + 12, 214, 11, DIM)
            for i, col in enumerate(HEAT_PALETTE[:HEAT_LEVELS]):
                r.rect(x + 104 + i * 8, 218, 8, 8, col)
            r.text("max (next centre ~ D^2)", x + 230, 214, 11, DIM)
        ks, inertia = v["elbow"]
        sil = v["silhouette"]
        top = max(inertia) * 1.06 if inertia else 1.0
        self._panel(r, x, 246, w, 240, "elbow: inertia vs k (2,000-point sample)", ks, inertia, (0.0, top),
                    "#4e79a7", v)  # fmt: skip
        sk, sv = [k for k, _ in sil], [s for _, s in sil]
        lo, hi = (min(sv), max(sv)) if sv else (0.0, 1.0)
        pad = max(hi - lo, 0.05) * 0.15
        self._panel(r, x, 496, w, 238, "mean silhouette vs k", sk, sv, (lo - pad, hi + pad), "#59a14f", v)
        if not v["panels_done"]:
            r.text(f"computing… k = {len(ks) + 1} of {PANEL_KS}", x + w - 12, 502, 12, DIM, "right")
        elif v["suggested_k"] is not None:
            r.text(f"suggested k = {v['suggested_k']}", x + w - 12, 502, 12, SUGGEST_COLOR, "right")
        if self.panel_error:
            r.text(self.panel_error[:60], x + 12, 740, 12, "#ff8a80")

    def _panel(self, r, x, y, w, h, title, ks, ys, ylim, color, v) -> None:
        """A panel curve with a marker per computed k (every k a tick), the current k (grey line) and the suggested
        k (orange) marked; no legend (the title names the one curve)."""
        area = plot(r, x, y, w, h, [("", ks, ys, color)], title=title, xlim=(1, PANEL_KS), ylim=ylim,
                    marker_x=v["k"], xlabel="k (grey line: current k)", xticks=range(1, PANEL_KS + 1),
                    markers=True)  # fmt: skip
        best = v["suggested_k"]
        if best is not None:
            mx = float(area.x_px(best))
            r.line([(mx, area.py), (mx, area.py + area.ph)], SUGGEST_COLOR, 2.0)
            at = dict(zip(ks, ys, strict=True)).get(best)
            high = at is not None and float(area.y_px(at)) < area.py + area.ph / 2
            ty = area.py + area.ph - 18 if high else area.py + 4  # the label on the side the curve is not
            r.text(f"k={best}", mx + 4, ty, 11, SUGGEST_COLOR)
