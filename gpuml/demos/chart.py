"""Charts for the native demos, drawn with a :class:`~gpuml.demos.render.Renderer`: line plots with ticks on both
axes, grid lines, the legend outside the plot area and markers on sparse series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .render import BACKGROUND, DIM, TEXT, Renderer, short_number


def plot(r: Renderer, x, y, w, h, series, *, title=None, xlim=None, ylim=None, log_y=False, legend=True,
         marker_x=None, xlabel=None, xticks=None, markers=None) -> PlotArea:  # fmt: skip
    """A line chart in a panel: ``series`` is a list of (label, xs, ys, color). Axis ranges default to the
    data's; ``log_y`` plots log10(y). Both axes get ticks with labels and faint grid lines (``xticks``: the x
    tick values, else about five round ones); ``xlabel`` names the x axis under its ticks (the title names y).
    The legend sits in the header row, outside the plot area, so it never covers a curve. A series with few
    points (spaced 5 px or more) shows each point as a marker (``markers`` True/False forces it); one with more
    points than the plot has pixels is thinned to two points per pixel column. ``marker_x`` draws a vertical
    marker line. Returns the plot area and its data -> pixel mapping."""
    r.panel(x, y, w, h, title)
    entries = [(label, color) for label, _, _, color in series if label] if legend else []
    legend_w = sum(24 + r.text_width(label, 12) for label, _ in entries)
    title_w = r.text_width(title or "", 14)
    top = 30 if not entries or 10 + title_w + 24 + legend_w <= w - 10 else 48  # a second header row if needed
    px, py = x + 52, y + top
    pw, ph = w - 52 - 14, h - top - (38 if xlabel else 24)
    if entries:  # right-aligned in the header row (or the row under the title)
        lx = x + w - 10 - legend_w + 10
        ly = y + 8 if top == 30 else y + 26
        for label, color in entries:
            r.rect(lx, ly + 2, 10, 10, color)
            lx += 14 + r.text(label, lx + 14, ly, 12, TEXT) + 10
    xs_all = [np.asarray(s[1], np.float64) for s in series if len(s[1])]
    ys_all = [np.asarray(s[2], np.float64) for s in series if len(s[2])]
    if log_y:
        ys_all = [np.log10(np.maximum(v, 1e-12)) for v in ys_all]
    ally = np.concatenate(ys_all) if ys_all else np.zeros(0)
    ally = ally[np.isfinite(ally)]
    if xlim is None and xs_all:
        allx = np.concatenate(xs_all)
        xlim = (float(allx.min()), float(allx.max()))
    x0, x1 = xlim or (0.0, 1.0)
    if ylim is not None:
        y0, y1 = (np.log10(max(ylim[0], 1e-12)), np.log10(max(ylim[1], 1e-12))) if log_y else ylim
    elif len(ally):
        y0, y1 = float(ally.min()), float(ally.max())
    else:
        y0, y1 = 0.0, 1.0
    if x1 <= x0:
        x1 = x0 + 1
    if y1 <= y0:
        y1 = y0 + (abs(y0) * 0.1 or 1)
    if ylim is None and len(ally):
        pad = (y1 - y0) * 0.06
        # the padding does not push an axis of non-negative data (loss, inertia) below zero
        y0, y1 = (y0 - pad if log_y or y0 < 0 else max(y0 - pad, 0.0)), y1 + pad
    area = PlotArea(px, py, pw, ph, x0, x1, y0, y1, log_y)
    r.frame(px, py, pw, ph, "#343846")
    yt = [10**t for t in log_ticks(y0, y1)] if log_y else nice_ticks(y0, y1)
    for t, label in zip(yt, tick_labels(yt), strict=True):
        ty = area.y_px(t)
        r.rect(px + 1, ty, pw - 2, 1, GRID)
        r.rect(px - 4, ty, 4, 1, AXIS)
        r.text(label, px - 6, ty - 7, 11, DIM, "right")
    xt = [t for t in (xticks if xticks is not None else nice_ticks(x0, x1)) if x0 <= t <= x1]
    for t, label in zip(xt, tick_labels(xt), strict=True):
        tx = area.x_px(t)
        r.rect(tx, py + 1, 1, ph - 2, GRID)
        r.rect(tx, py + ph, 1, 4, AXIS)
        r.text(label, tx, py + ph + 5, 11, DIM, "center")
    if xlabel:
        r.text(xlabel, px + pw / 2, py + ph + 20, 11, DIM, "center")
    if marker_x is not None and x0 <= marker_x <= x1:
        mx = area.x_px(marker_x)
        r.line([(mx, py), (mx, py + ph)], "#6b6b78", 1.0)
    dots = []  # markers go on top of every line
    for _, xs, ys, color in series:
        xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        ok = np.isfinite(ys) & (ys > 0 if log_y else True)
        xs, ys = xs[ok], ys[ok]
        if not len(xs):
            continue
        pts = np.stack([area.x_px(xs), area.y_px(ys)], 1)
        pts = np.clip(pts, [px, py], [px + pw, py + ph])  # values outside the ranges stay on the frame
        n = len(pts)
        if n > 2 * pw:  # more points than pixels: thin them (the last one kept)
            pts = pts[np.unique(np.linspace(0, n - 1, int(2 * pw)).round().astype(int))]
        r.line(pts, color, 2.0)
        spacing = pw if n == 1 else float(np.ptp(pts[:, 0])) / (n - 1)
        if markers or (markers is None and spacing >= 5 and n <= 200):
            dots.append((pts, color, spacing >= 12))
    for pts, color, big in dots:  # big: a square with a dark rim; small: a dot that leaves the line visible
        size = 7 if big else 4
        for cx, cy in pts.tolist():
            if big:
                r.rect(cx - size / 2 - 1, cy - size / 2 - 1, size + 2, size + 2, BACKGROUND)
            r.rect(cx - size / 2, cy - size / 2, size, size, color)
    return area


GRID, AXIS = "#282b36", "#6b6b78"


def tick_labels(values) -> list[str]:
    """Labels for tick ``values``: :func:`short_number`, with more significant digits where two would read the
    same (a narrow range: 2.305, 2.31 rather than 2.31, 2.31)."""
    for digits in range(3, 8):
        labels = [short_number(v) if digits == 3 else f"{v:.{digits}g}" for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """About ``target`` round values (1, 2 or 5 times a power of ten apart) between ``lo`` and ``hi``."""
    span = hi - lo
    if not (span > 0 and np.isfinite(span)):
        return [lo]
    raw = span / target
    mag = 10.0 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = np.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    return [0.0 if abs(t) < step * 1e-9 else float(t) for t in ticks]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks for a log10 axis from ``lo`` to ``hi`` (exponents): the decades inside, else 1-2-5 steps inside,
    else round values of the range itself (as exponents)."""
    decades = [float(e) for e in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)]
    if len(decades) >= 2:
        return decades
    steps = [e + np.log10(m) for e in range(int(np.floor(lo)), int(np.ceil(hi)) + 1) for m in (1, 2, 5)]
    steps = [t for t in steps if lo <= t <= hi]
    if len(steps) >= 2:
        return steps
    return [float(np.log10(v)) for v in nice_ticks(10**lo, 10**hi, 3) if v > 0]


@dataclass
class PlotArea:
    """Where :meth:`Renderer.plot` drew: the plot rectangle (design pixels) and its axis ranges (y as log10 when
    ``log_y``)."""

    px: float
    py: float
    pw: float
    ph: float
    x0: float
    x1: float
    y0: float
    y1: float
    log_y: bool = False

    def x_px(self, v):
        return self.px + (np.asarray(v, np.float64) - self.x0) / (self.x1 - self.x0) * self.pw

    def y_px(self, v):
        v = np.log10(np.maximum(np.asarray(v, np.float64), 1e-12)) if self.log_y else np.asarray(v, np.float64)
        return self.py + self.ph - (v - self.y0) / (self.y1 - self.y0) * self.ph
