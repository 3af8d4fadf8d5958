"""Random pad scribbles — what a user doodles or writes instead of a digit — rendered exactly as the digit pad
renders ink (:func:`~gpuml.playground.mnist.stroke_host`, :func:`~gpuml.playground.mnist.ink_to_mnist`) but with
numpy, so that tens of thousands can be made for training (outlier exposure, :mod:`gpuml.train.outliers`) and measured.

Kinds (one random choice per scribble): a polyline of 4–14 random points (the doodle the tests draw), several short
strokes, a zig-zag (possibly closed by a triangle), a smooth random curve (Catmull–Rom through random points), dots
and dashes, a dense blob (many points, thick brush), a letter or sign unlike any digit (a font glyph), and drawn
shapes put together from closed figures, grids and marks (:func:`shape_strokes`: hearts, stars, polygons, a hash or
tic-tac-toe grid, a face, an asterisk, a spiral...) and capital letters drawn in strokes (:data:`LETTERS`).
Polylines of 2–3 points are left out on purpose: a straight or bent stroke *is* how people draw a 1 or a 7; so are
a lone ellipse (0), an ellipse with a stem (6, 9) and two stacked ellipses (8), which the shapes never are.
"""

from __future__ import annotations

import itertools

import numpy as np

from .digits import INK, PAD

KINDS = ("polyline", "strokes", "zigzag", "curve", "dots", "blob", "glyph", "shapes", "letters")
# letters and signs that look like no digit (no B/G/I/O/S/Z, b/g/l/o/q/s/z), drawn in Pillow's built-in font
GLYPHS = "ACDEFHJKLMNPQRTUVWXYacefhkmnrtuvwxy#*+@&%?$"
BRUSH_RANGE = (4.0, 24.0)  # the pad's brush slider, pad units
# capitals as a hand draws them, strokes in a unit box (x right, y down); none is drawn like a digit (no B, D, G,
# I, J, O, Q, S, T, Z)
LETTERS = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]],
    "C": [[(0.95, 0.15), (0.6, 0), (0.2, 0.1), (0, 0.5), (0.2, 0.9), (0.6, 1), (0.95, 0.85)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.75, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.75, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(1, 0), (0, 0.55), (1, 1)]],
    "L": [[(0, 0), (0, 1), (0.8, 1)]],
    "M": [[(0, 1), (0.1, 0), (0.5, 0.7), (0.9, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "P": [[(0, 1), (0, 0), (0.7, 0), (0.95, 0.15), (0.95, 0.35), (0.7, 0.5), (0, 0.5)]],
    "R": [[(0, 1), (0, 0), (0.7, 0), (0.95, 0.15), (0.95, 0.35), (0.7, 0.5), (0, 0.5)], [(0.35, 0.5), (1, 1)]],
    "U": [[(0, 0), (0, 0.7), (0.2, 1), (0.8, 1), (1, 0.7), (1, 0)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
}


def render(strokes, radius: float, size: int = INK) -> np.ndarray:
    """Ink (size x size, float32 in [0, 1]) of polylines in pad units with a brush of ``radius`` pad units: the
    coverage ``stroke_host`` paints (max over capsule segments, pixel centres, 1-pixel antialiasing)."""
    s = size / PAD
    r = radius * s
    ink = np.zeros((size, size), np.float32)
    centre = np.arange(size, dtype=np.float64) + 0.5
    for pts in strokes:
        p = np.asarray(pts, np.float64) * s
        if len(p) == 1:
            p = np.concatenate([p, p])
        for (ax, ay), (bx, by) in itertools.pairwise(p):
            reach = r + 1.0
            y0, y1 = max(0, int(min(ay, by) - reach)), min(size, int(max(ay, by) + reach) + 1)
            x0, x1 = max(0, int(min(ax, bx) - reach)), min(size, int(max(ax, bx) + reach) + 1)
            if y0 >= y1 or x0 >= x1:
                continue
            py, px = centre[y0:y1, None], centre[None, x0:x1]
            dx, dy = bx - ax, by - ay
            len2 = dx * dx + dy * dy
            t = np.clip(((px - ax) * dx + (py - ay) * dy) / len2, 0.0, 1.0) if len2 > 0 else 0.0
            cover = np.clip(r + 0.5 - np.hypot(px - (ax + t * dx), py - (ay + t * dy)), 0.0, 1.0)
            np.maximum(ink[y0:y1, x0:x1], cover, out=ink[y0:y1, x0:x1])
    return ink


def to_mnist(ink: np.ndarray) -> np.ndarray | None:
    """:func:`~gpuml.playground.mnist.ink_to_mnist` on a (size, size) array: 28 x 28 float32, or None when empty."""
    size = ink.shape[0]
    peak = float(ink.max())
    if peak <= 0.05:
        return None
    mask = ink > 0.2 * peak
    ys = np.flatnonzero(mask.any(1))
    xs = np.flatnonzero(mask[ys].any(0))
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    side = max(y1 - y0, x1 - x0)
    s = 20.0 / side
    oh, ow = max(1, round((y1 - y0) * s)), max(1, round((x1 - x0) * s))
    step = 1.0 / s
    sub = np.array([0.125, 0.375, 0.625, 0.875])
    rows = np.minimum(size - 1, (y0 + (np.arange(oh)[:, None] + sub) * step).astype(int))  # (oh, 4)
    cols = np.minimum(size - 1, (x0 + (np.arange(ow)[:, None] + sub) * step).astype(int))  # (ow, 4)
    small = ink.astype(np.float64)[rows[:, :, None, None], cols[None, None, :, :]].mean(axis=(1, 3))  # (oh, ow)
    total = small.sum() or 1.0
    cy = (small.sum(1) * np.arange(oh)).sum() / total
    cx = (small.sum(0) * np.arange(ow)).sum() / total
    top = min(max(round(14 - round(float(cy), 4)), 0), 28 - oh)  # as ink_to_mnist: tie-stable
    left = min(max(round(14 - round(float(cx), 4)), 0), 28 - ow)
    out = np.zeros((28, 28), np.float32)
    out[top : top + oh, left : left + ow] = small
    return out


def _curve(ctrl: np.ndarray, per: int = 8) -> np.ndarray:
    """Catmull–Rom spline through the control points, ``per`` samples per span."""
    p = np.concatenate([ctrl[:1], ctrl, ctrl[-1:]])
    t = np.linspace(0.0, 1.0, per, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))  # fmt: skip
    out.append(p[-2:-1])
    return np.concatenate(out)


def glyph(rng: np.random.Generator, size: int = INK) -> np.ndarray:
    """A random letter or sign of :data:`GLYPHS` as ink (size x size, [0, 1]): Pillow's default font at a random
    size, stroke weight, slant and place (what a user writes on the pad instead of a digit)."""
    from PIL import Image, ImageDraw, ImageFont

    char = GLYPHS[rng.integers(len(GLYPHS))]
    font = ImageFont.load_default(size=int(rng.integers(50, 95)))
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).text((size / 2 + rng.uniform(-8, 8), size / 2 + rng.uniform(-8, 8)), char, fill=255,
                             font=font, anchor="mm", stroke_width=int(rng.integers(0, 5)), stroke_fill=255)  # fmt: skip
    img = img.rotate(float(rng.uniform(-20, 20)), resample=Image.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def _heart(c, r, a):
    t = np.linspace(0, 2 * np.pi, 41)
    x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return _turn(np.stack([x, -y], 1) * (r / 16), c, a)


def _turn(p, c, a):
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return p @ rot.T + c


def _polygon(c, r, a, n, star=False):
    k = np.arange(n + 1) * (2 if star else 1) * 2 * np.pi / n
    return _turn(np.stack([np.sin(k), -np.cos(k)], 1) * r, c, a)


def _grid(c, r, a, rng):
    """Two sets of 2-4 parallel lines crossing (a hash, a tic-tac-toe grid, a net)."""
    out = []
    turn = rng.uniform(np.pi / 3, 2 * np.pi / 3)
    for direction in (0.0, turn):
        n = int(rng.choice([2, 2, 2, 3, 4]))
        for off in np.linspace(-0.45, 0.45, n) * r * rng.uniform(0.8, 1.3):
            out.append(_turn(np.array([[off, -r], [off, r]]) * rng.uniform(0.85, 1.1, size=(2, 1)), c, a + direction))
    return out


def letter_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """A capital of :data:`LETTERS` as a hand draws it, in pad units: random size, aspect, slant and wobble."""
    strokes = LETTERS[list(LETTERS)[rng.integers(len(LETTERS))]]
    w, h = rng.uniform(0.35, 0.75) * PAD, rng.uniform(0.6, 0.85) * PAD
    slant = rng.uniform(-0.25, 0.25)
    x0, y0 = (PAD - w) / 2 + rng.uniform(-0.05, 0.05) * PAD, (PAD - h) / 2 + rng.uniform(-0.05, 0.05) * PAD
    out = []
    for st in strokes:
        p = np.asarray(st, np.float64)
        p = np.stack([x0 + (p[:, 0] + slant * (1 - p[:, 1])) * w / (1 + abs(slant)), y0 + p[:, 1] * h], 1)
        out.append(np.clip(p + rng.normal(0, 0.025 * PAD, p.shape), 0.07 * PAD, 0.93 * PAD))
    return out


def shape_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """A drawn shape that is no digit, in pad units: one of a heart, a star, a polygon of 3-5 sides, a grid, an
    asterisk, a spiral, a wave, a face (an ellipse with eyes and a mouth), an arrow or a house, sometimes with a
    second figure or a few marks beside or inside it."""
    mid, span = 0.5 * PAD, 0.43 * PAD

    def figure(c, r):
        a = rng.uniform(-0.35, 0.35)
        kind = rng.integers(10)
        if kind == 0:
            return [_heart(c, r, a)]
        if kind == 1:
            return [_polygon(c, r, a, 5, star=True)]
        if kind == 2:
            return [_polygon(c, r, a + rng.uniform(0, np.pi), int(rng.integers(3, 6)))]
        if kind == 3:
            return _grid(c, r, a, rng)
        if kind == 4:
            n = int(rng.integers(3, 6))
            return [_turn(np.array([[0, -r], [0, r]]), c, a + i * np.pi / n) for i in range(n)]
        if kind == 5:
            t = np.linspace(0, 2 * np.pi * rng.uniform(1.5, 3.5), 80)
            return [_turn(np.stack([np.cos(t), np.sin(t)], 1) * (r * t / t[-1])[:, None], c, a)]
        if kind == 6:
            x = np.linspace(-r, r, 40)
            return [_turn(np.stack([x, r * 0.4 * np.sin(x / r * np.pi * rng.uniform(1.5, 4))], 1), c, a)]
        if kind == 7:
            face = [_turn(_arc(0, 0, r, r * rng.uniform(0.8, 1.2), n=32), c, a)]
            for ex in (-0.4, 0.4):
                face.append(_turn(_arc(ex * r, -0.3 * r, 0.1 * r, 0.1 * r, n=8), c, a))
            face.append(_turn(_arc(0, 0.3 * r, 0.45 * r, 0.25 * r, np.pi / 2, 3 * np.pi / 2, 12), c, a))
            return face
        if kind == 8:
            tip = np.array([r, 0.0])
            head = np.array([[0.5 * r, -0.45 * r], tip, [0.5 * r, 0.45 * r]])
            return [_turn(np.array([[-r, 0], tip]), c, a), _turn(head, c, a)]
        return [_turn(np.array([[-r, r], [-r, -0.2 * r], [0, -r], [r, -0.2 * r], [r, r], [-r, r]]), c, a)]

    c = mid + rng.uniform(-0.08, 0.08, 2) * PAD
    strokes = figure(c, rng.uniform(0.6, 1.0) * span)
    extra = rng.random()
    if extra < 0.25:  # a second, smaller figure beside it
        strokes += figure(mid + rng.uniform(-0.3, 0.3, 2) * PAD, rng.uniform(0.25, 0.45) * span)
    elif extra < 0.45:  # a few marks
        for p in rng.uniform(0.15, 0.85, size=(int(rng.integers(1, 4)), 2)) * PAD:
            strokes.append(np.stack([p, p + rng.normal(0, 0.04 * PAD, 2)]))
    lo, hi = 0.07 * PAD, 0.93 * PAD
    return [np.clip(s, lo, hi) for s in strokes]


def random_strokes(rng: np.random.Generator, kind: str | None = None) -> tuple[list[np.ndarray], float]:
    """One random scribble: (strokes in pad units, brush radius in pad units)."""
    kind = kind or KINDS[rng.integers(len(KINDS))]
    lo, hi = 0.07 * PAD, 0.93 * PAD
    brush = float(rng.uniform(*BRUSH_RANGE))

    def pts(n):
        return rng.uniform(lo, hi, size=(n, 2))

    if kind == "polyline":
        strokes = [pts(int(rng.integers(4, 15)))]
    elif kind == "strokes":
        strokes = [pts(int(rng.integers(2, 6))) for _ in range(int(rng.integers(2, 5)))]
    elif kind == "zigzag":
        n = int(rng.integers(4, 12))
        a, b = pts(2)
        along = a + (b - a) * np.linspace(0, 1, n)[:, None]
        normal = np.array([-(b - a)[1], (b - a)[0]]) / (np.hypot(*(b - a)) + 1e-9)
        amp = rng.uniform(0.05, 0.3) * PAD
        zig = np.clip(along + normal * amp * np.where(np.arange(n) % 2, 1, -1)[:, None], lo, hi)
        strokes = [zig]
        if rng.random() < 0.5:  # a triangle beside it (the reviewer's "8 (100.0%)")
            tri = pts(3)
            strokes.append(np.concatenate([tri, tri[:1]]))
    elif kind == "curve":
        strokes = [np.clip(_curve(pts(int(rng.integers(4, 10)))), lo, hi)]
    elif kind == "dots":
        strokes = []
        for c in pts(int(rng.integers(3, 12))):
            d = rng.normal(0, 0.03 * PAD, size=2) * (rng.random() < 0.5)
            strokes.append(np.stack([c, np.clip(c + d, lo, hi)]))
    elif kind == "shapes":
        strokes, brush = shape_strokes(rng), float(rng.uniform(BRUSH_RANGE[0], 16.0))
    elif kind == "letters":
        strokes, brush = letter_strokes(rng), float(rng.uniform(BRUSH_RANGE[0], 16.0))
    elif kind == "blob":
        c, spread = pts(1)[0], rng.uniform(0.1, 0.3) * PAD
        strokes = [np.clip(c + rng.normal(0, spread, size=(int(rng.integers(15, 40)), 2)), lo, hi)]
        brush = float(rng.uniform(12.0, BRUSH_RANGE[1]))
    else:
        raise ValueError(f"scribble kind must be one of {', '.join(k for k in KINDS if k != 'glyph')}, got {kind!r}")
    return strokes, brush


def scribbles(n: int, seed: int, kinds=KINDS) -> np.ndarray:
    """``n`` random scribbles as MNIST-like images, (n, 1, 28, 28) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 1, 28, 28), np.float32)
    i = 0
    while i < n:
        kind = kinds[rng.integers(len(kinds))]
        if kind == "glyph":
            img = to_mnist(glyph(rng))
        else:
            strokes, brush = random_strokes(rng, kind)
            img = to_mnist(render(strokes, brush))
        if img is not None:
            out[i, 0] = img
            i += 1
    return out


def _arc(cx, cy, rx, ry, a0=0.0, a1=2 * np.pi, n=24) -> np.ndarray:
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.sin(t), cy - ry * np.cos(t)], 1)


def pad_digits() -> dict[int, list[list[np.ndarray]]]:
    """Digits as a user draws them on the pad (pad units), two ways each, for checks beside the scribbles: an
    outlier-exposed model must still read these sure and right."""
    P = lambda *pts: np.array(pts, float)  # noqa: E731
    two = np.array([(0.30, 0.30), (0.40, 0.20), (0.55, 0.18), (0.66, 0.27), (0.66, 0.40), (0.55, 0.55),
                    (0.42, 0.68), (0.32, 0.80), (0.45, 0.79), (0.58, 0.78), (0.72, 0.79)]) * PAD  # fmt: skip
    six = P((175, 45), (105, 130), (95, 190), (130, 235), (180, 215), (185, 170), (140, 150), (100, 180))
    return {
        0: [[_arc(140, 140, 60, 95)], [_arc(140, 140, 45, 80, 0.3, 2 * np.pi + 0.5)]],
        1: [[P((140, 45), (140, 235))], [P((115, 75), (150, 45), (150, 235))]],
        2: [[two], [np.concatenate([_arc(140, 95, 55, 50, -1.4, 2.2, 14), P((95, 230), (200, 230))])]],
        3: [[np.concatenate([_arc(135, 95, 50, 45, -1.3, 3.1, 14), _arc(135, 185, 55, 50, 0, 3.6, 14)])],
            [P((85, 50), (195, 50), (130, 125), (190, 170), (170, 225), (90, 230))]],
        4: [[P((170, 45), (80, 170), (210, 170)), P((170, 45), (170, 235))],
            [P((100, 45), (95, 150), (200, 150)), P((185, 60), (185, 235))]],
        5: [[P((195, 50), (100, 50), (95, 130)), _arc(140, 170, 60, 55, -1.0, 3.6, 16)],
            [P((190, 50), (100, 50), (95, 125), (150, 115), (195, 150), (195, 195), (150, 230), (95, 215))]],
        6: [[np.concatenate([P((180, 45), (120, 100), (90, 170)), _arc(140, 185, 50, 48, -1.6, 4.8, 20)])], [six]],
        7: [[P((70, 60), (140, 60), (210, 60), (180, 130), (150, 200), (130, 250))],
            [P((80, 55), (200, 55), (120, 235))]],
        8: [[np.concatenate([_arc(140, 90, 45, 45, 3.14, -3.13)[::-1], _arc(140, 185, 55, 50)])],
            [np.concatenate([_arc(140, 95, 40, 45, n=20), _arc(140, 185, 50, 50, n=20)])]],
        9: [[np.concatenate([_arc(140, 95, 50, 48, 1.6, 1.6 + 2 * np.pi, 20), P((190, 95), (180, 235))])],
            [np.concatenate([_arc(135, 90, 45, 42, 2.0, 2.0 + 2 * np.pi, 20), P((178, 100), (140, 235))])]],
    }  # fmt: skip


__all__ = [
    "GLYPHS", "KINDS", "LETTERS", "glyph", "letter_strokes", "pad_digits", "random_strokes", "render", "scribbles",
    "shape_strokes", "to_mnist",
]  # fmt: skip
