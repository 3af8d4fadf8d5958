"""Digit-pad helpers shared by the native demo and the web page, numpy-free (Pyodide core): MNIST preprocessing
of pad ink, the ink brush on the host, bilinear upsampling of a Grad-CAM map and a softmax."""

from __future__ import annotations

import math

__all__ = ["ink_to_mnist", "softmax", "stroke_host", "upsample_map"]


def ink_to_mnist(ink, size: int) -> list[float] | None:
    """The ink as MNIST digits are made: bounding box (ink > 20% of the peak) scaled to 20 px (aspect kept,
    box-filtered with 4 x 4 samples per pixel), placed in 28 x 28 with its centre of mass at the centre. ``ink`` is
    a flat sequence of size * size values; returns a flat list of 784 floats, or None when the pad is empty."""
    ink = list(ink)
    peak = max(ink)
    if peak <= 0.05:
        return None
    thr = 0.2 * peak
    ys = [y for y in range(size) if max(ink[y * size : (y + 1) * size]) > thr]
    xs = [x for x in range(size) if any(ink[y * size + x] > thr for y in ys)]
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    side = max(y1 - y0, x1 - x0)
    s = 20.0 / side
    oh, ow = max(1, round((y1 - y0) * s)), max(1, round((x1 - x0) * s))
    step = 1.0 / s
    sub = (0.125, 0.375, 0.625, 0.875)
    small = []
    for i in range(oh):
        for j in range(ow):
            acc = 0.0
            for fy in sub:
                row = min(size - 1, int(y0 + (i + fy) * step)) * size
                for fx in sub:
                    acc += ink[row + min(size - 1, int(x0 + (j + fx) * step))]
            small.append(acc / 16.0)
    total = sum(small) or 1.0
    cy = sum(small[i * ow + j] * i for i in range(oh) for j in range(ow)) / total
    cx = sum(small[i * ow + j] * j for i in range(oh) for j in range(ow)) / total
    # the centre rounded to 1e-4 first: a symmetric drawing's centre sits on a .5 tie, and f32 ink read from the
    # GPU and f64 host ink must not land on opposite sides of it (the tie itself goes to even, as before)
    top = min(max(round(14 - round(cy, 4)), 0), 28 - oh)
    left = min(max(round(14 - round(cx, 4)), 0), 28 - ow)
    out = [0.0] * 784
    for i in range(oh):
        out[(top + i) * 28 + left : (top + i) * 28 + left + ow] = small[i * ow : (i + 1) * ow]
    return out


def stroke_host(ink: list[float], size: int, segs, radius: float) -> None:
    """``render/web_stroke.wgsl`` on the host, in place: ink = max(ink, coverage of each capsule segment
    (x0, y0, x1, y1 in ink pixels, flat)), only inside each segment's bounds."""
    reach = radius + 1.0
    for k in range(0, len(segs) - 3, 4):
        ax, ay, bx, by = segs[k : k + 4]
        dx, dy = bx - ax, by - ay
        len2 = dx * dx + dy * dy
        y0, y1 = max(0, int(min(ay, by) - reach)), min(size, int(max(ay, by) + reach) + 1)
        x0, x1 = max(0, int(min(ax, bx) - reach)), min(size, int(max(ax, bx) + reach) + 1)
        for y in range(y0, y1):
            py = y + 0.5
            for x in range(x0, x1):
                px = x + 0.5
                t = min(max(((px - ax) * dx + (py - ay) * dy) / len2, 0.0), 1.0) if len2 > 0 else 0.0
                cover = min(max(radius + 0.5 - math.hypot(px - (ax + t * dx), py - (ay + t * dy)), 0.0), 1.0)
                if cover > ink[y * size + x]:
                    ink[y * size + x] = cover


def upsample_map(values, h: int, w: int, H: int, W: int) -> list[float]:
    """Bilinear resize of one flat h x w map to H x W with pixel-centre alignment (as PIL), scaled to [0, 1] by
    its peak (all zeros when the peak is not positive)."""
    vals = [float(v) for v in values]

    def axis(n, N):
        out = []
        for i in range(N):
            c = min(max((i + 0.5) * n / N - 0.5, 0.0), n - 1.0)
            lo = int(c)
            out.append((lo, min(lo + 1, n - 1), c - lo))
        return out

    ys, xs = axis(h, H), axis(w, W)
    res = []
    for y0, y1, fy in ys:
        for x0, x1, fx in xs:
            top = vals[y0 * w + x0] * (1 - fx) + vals[y0 * w + x1] * fx
            bottom = vals[y1 * w + x0] * (1 - fx) + vals[y1 * w + x1] * fx
            res.append(top * (1 - fy) + bottom * fy)
    peak = max(res) if res else 0.0
    return [v / peak for v in res] if peak > 0 else [0.0] * len(res)


def softmax(logits) -> list[float]:
    m = max(logits)
    e = [math.exp(v - m) for v in logits]
    s = sum(e)
    return [v / s for v in e]
