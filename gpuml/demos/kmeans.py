"""k-means step by step, in a window: a thin front end over :class:`gpuml.playground.kmeans.KMeansModel`.

The points, their labels and the centroids are the k-means run's own device buffers, read on the device by the
drawing shaders (shaders/render/): a compute pass splats the points into one word per pixel (coverage and point
index) and flags the 32 x 32 tiles they touch, once per dataset and plot size (points_splat.wgsl); scatter.wgsl
builds the Voronoi cells as polygons in its vertex stage and fills them; points.wgsl draws the flagged tiles' words
in the colors of the current labels; markers.wgsl draws the centroids. Per iteration only the 16-byte statistics
(shift, inertia, changed, empty) come back to the host.
"""

from __future__ import annotations

import math
import struct
import time

from ..ops import full
from ..playground.kmeans import DATASETS, KMeansModel
from .app import Demo
from .render import DIM, PALETTE, PANEL, TEXT, palette_floats, rgba

DATASET_KEYS = {str(i + 1): name for i, name in enumerate(DATASETS)}
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
        self.model.advance(dt)

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
        self.scatter_params = r.uniform_buffer(16 * 17)
        self.points_params = r.uniform_buffer(16 * 15)
        self.markers_params = r.uniform_buffer(16 * 15)
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

    def _group(self, r, pipeline, params, *tensors):
        """A cached bind group: binding 0 = the uniform buffer, then the tensors (keyed by where they live)."""
        key = (id(pipeline), *((id(t.gpu_buffer()[0]), t.byte_offset) for t in tensors))
        group = self._groups.get(key)
        if group is None:
            entries = {0: params, **{i + 1: t for i, t in enumerate(tensors)}}
            group = self._groups[key] = r.bind_group(pipeline, entries)
        return group

    def draw(self, r) -> None:
        v = self.model.view()
        x_t, labels_t, centers_t = v["buffers"]
        view = (*r.size, *r.physical)
        pal = palette_floats(PALETTE)
        q = r.device.queue
        a, b, c, d = xform = self.xform
        grid, splat, flags, (tw, th) = self._splat_grid(r, x_t)  # recorded on gpuml's queue when the points move
        x, y, w, h = PLOT
        xs, ys = ((x - c) / a, (x + w - c) / a), ((y - d) / b, (y + h - d) / b)
        box = (min(xs), min(ys), max(xs), max(ys))  # the plot rectangle in data coordinates
        cells, tint = (v["revealed"], 0.22) if v["voronoi"] else (1, 0.0)  # no tint: one cell, the whole box
        scatter_params = struct.pack("68f", *view, *xform, *box, cells, tint, 0, 0, *rgba(PANEL), *pal)
        q.write_buffer(self.scatter_params, 0, scatter_params)
        q.write_buffer(self.points_params, 0, struct.pack("4f8I48f", *view, *grid, tw, th, 0, 0, *pal))
        q.write_buffer(self.markers_params, 0, struct.pack("60f", *view, *xform, 10.0, 3.0, 0.0, 0.0, *pal))
        scatter_group = self._group(r, self.scatter_pipeline, self.scatter_params, centers_t)
        points_group = self._group(r, self.points_pipeline, self.points_params, splat, flags, labels_t)
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
            r.rect(x + 12 + j * 24, 206, 18, 14, PALETTE[j] if j < v["revealed"] else "#33363f")
        ks, inertia = v["elbow"]
        sil = v["silhouette"]
        r.plot(
            x,
            246,
            w,
            240,
            [("inertia (2,000-point sample)", ks, inertia, "#4e79a7")],
            title="elbow: inertia vs k",
            xlim=(1, 10),
            marker_x=v["k"],
        )
        r.plot(
            x,
            496,
            w,
            238,
            [("mean silhouette", [k for k, _ in sil], [s for _, s in sil], "#59a14f")],
            title="silhouette vs k",
            xlim=(1, 10),
            marker_x=v["k"],
        )
        if not v["panels_done"]:
            r.text(f"computing k = {len(ks) + 1} ...", x + w - 12, 252, 12, DIM, "right")
