"""Mouse controls for the native demo windows: buttons, sliders and a one-field text editor, drawn with a
:class:`~gpuml.demos.render.Renderer` and hit-tested against the boxes of the last frame drawn (immediate mode: a
demo draws its controls every frame from its model's state, so a control never holds a stale value).

Use: ``w = Widgets()`` in the demo; ``w.begin()`` at the start of ``draw``, then ``w.button(...)``,
``w.slider(...)``, ``w.text_field(...)`` where they go; ``w.pointer(kind, x, y, buttons)`` first in
``on_pointer`` and ``w.key(key)`` first in ``on_key`` (each returns True when a control took the event).
Callbacks get the new value; they apply it to the model (whose ``ValueError`` the demo shows beside the control).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .render import DIM, PALETTE, TEXT

FACE, FACE_HOT, EDGE, TRACK = "#2c303c", "#3a4050", "#4a5064", "#3a3e4c"
ERROR = "#ff8a80"


def nice_step(span: float) -> float:
    """The slider quantum for a range: the smallest 1/2/5 x 10^k at least span / 200 (a pixel or two a step)."""
    raw = max(span, 1e-12) / 200
    e = 10.0 ** math.floor(math.log10(raw))
    return next(m * e for m in (1, 2, 5, 10) if m * e >= raw)


@dataclass
class _Box:
    x: float
    y: float
    w: float
    h: float
    key: str
    kind: str  # "button" | "slider" | "text"
    action: Callable
    lo: float = 0.0
    hi: float = 1.0
    integer: bool = False
    track: tuple[float, float] = (0.0, 0.0)  # slider: the track's x and width
    text: str = ""  # text field: what it showed (an edit starts from it)

    def inside(self, x, y) -> bool:
        return self.x <= x < self.x + self.w and self.y <= y < self.y + self.h

    def value_at(self, x) -> float:
        tx, tw = self.track
        v = self.lo + min(max((x - tx) / tw, 0.0), 1.0) * (self.hi - self.lo)
        if self.integer:
            return round(v)
        q = nice_step(self.hi - self.lo)
        return round(min(max(round(v / q) * q, self.lo), self.hi), 6)


class Widgets:
    """The controls of one window; see the module docstring."""

    def __init__(self):
        self.boxes: list[_Box] = []
        self.hover: str | None = None  # key of the control under the pointer
        self.dragging: _Box | None = None
        self.focus: str | None = None  # key of the text field being edited
        self.draft, self.caret = "", 0
        self._commit: Callable | None = None

    def begin(self) -> None:
        self.boxes = []

    def at(self, x, y) -> _Box | None:
        for box in reversed(self.boxes):  # drawn last = on top
            if box.inside(x, y):
                return box
        return None

    # --- drawing -------------------------------------------------------------------------------------------------
    def button(self, r, key, x, y, w, h, label, action, *, active=False, enabled=True, size=12, icon=None) -> None:
        """A push button; ``active`` draws it selected (a tab, a toggle that is on); ``icon`` "up"/"down" draws a
        triangle instead of the label."""
        face = PALETTE[0] + "66" if active else (FACE_HOT if self.hover == key and enabled else FACE)
        r.rect(x, y, w, h, face)
        r.frame(x, y, w, h, PALETTE[0] if active else EDGE)
        color = TEXT if enabled else "#5a5e6c"
        if icon:
            _triangle(r, x + w / 2, y + h / 2, min(w, h) * 0.5, icon == "up", color)
        else:
            lh = r.atlas.size(size)[1]
            r.text(label, x + w / 2, y + (h - lh) / 2, size, color, "center")
        if enabled:
            self.boxes.append(_Box(x, y, w, h, key, "button", action))

    def checkbox(self, r, key, x, y, w, label, on, action, *, size=14) -> None:
        """A square that is filled when ``on`` and its label; a click anywhere on them calls ``action()``."""
        lh = r.atlas.size(size)[1]
        r.rect(x, y + (lh - 14) / 2, 14, 14, PALETTE[4] if on else "#3a3e4c")
        if self.hover == key:
            r.frame(x - 1, y + (lh - 14) / 2 - 1, 16, 16, TEXT)
        r.text(label, x + 22, y, size, TEXT if on else DIM)
        self.boxes.append(_Box(x - 2, y - 2, w, lh + 4, key, "button", action))

    def slider(self, r, key, x, y, w, value, lo, hi, action, *, integer=False, active=False, h=18) -> None:
        """A horizontal slider over [lo, hi]: click or drag anywhere on it; ``action(value)`` gets the value
        under the pointer (whole numbers when ``integer``, else quantised by :func:`nice_step`)."""
        cy = y + h / 2
        frac = 0.0 if hi <= lo else min(max((value - lo) / (hi - lo), 0.0), 1.0)
        hot = active or self.hover == key or (self.dragging is not None and self.dragging.key == key)
        r.rect(x, cy - 2, w, 4, TRACK)
        r.rect(x, cy - 2, w * frac, 4, PALETTE[1] if hot else "#8a8fa3")
        r.rect(x + w * frac - 4, cy - 8, 8, 16, PALETTE[5] if hot else "#c8cbd6")
        self.boxes.append(_Box(x - 6, y, w + 12, h, key, "slider", action, lo, hi, integer, (x, w)))

    def text_field(self, r, key, x, y, w, h, text, commit, *, size=12, hint="") -> None:
        """A text box showing ``text`` wrapped to its width; a click edits it (typing, Backspace / Delete,
        Left / Right / Home / End), Enter calls ``commit(draft)``: a True result ends the edit, a False one keeps
        it open (the caller shows why). A click elsewhere drops the draft."""
        focused = self.focus == key
        r.rect(x, y, w, h, "#15171d")
        r.frame(x, y, w, h, PALETTE[0] if focused else (FACE_HOT if self.hover == key else EDGE))
        cw, lh, _ = r.atlas.size(size)
        shown = self.draft if focused else text
        starts = _wrap_starts(shown, max(int((w - 12) // cw), 1))
        rows = max(int((h - 8) // lh), 1)
        row = max(j for j, s in enumerate(starts) if s <= self.caret) if focused else 0
        first = max(0, row - rows + 1)  # keep the caret's line in view
        ends = [*starts[1:], len(shown)]
        for i in range(first, min(first + rows, len(starts))):
            r.text(shown[starts[i] : ends[i]], x + 6, y + 4 + (i - first) * lh, size, TEXT)
        if not shown and not focused and hint:
            r.text(hint, x + 6, y + 4, size, DIM)
        if focused:
            r.rect(x + 6 + (self.caret - starts[row]) * cw, y + 4 + (row - first) * lh, 2, lh, PALETTE[5])
        self.boxes.append(_Box(x, y, w, h, key, "text", commit, text=text))

    # --- input ---------------------------------------------------------------------------------------------------
    def pointer(self, kind, x, y, buttons=()) -> bool:
        """Route a pointer event; True when a control took it."""
        if kind == "pointer_move":
            box = self.at(x, y)
            self.hover = box.key if box else None
            if self.dragging is not None and 1 not in buttons:  # released outside the window: no up came
                self.dragging = None
            if self.dragging is not None:
                self.dragging.action(self.dragging.value_at(x))
                return True
            return False
        if kind == "pointer_up":
            was = self.dragging is not None
            self.dragging = None
            return was
        if kind != "pointer_down":
            return False
        box = self.at(x, y)
        if self.focus is not None and (box is None or box.key != self.focus):
            self.focus = None  # a click elsewhere drops the draft: the field shows the model's text again
        if box is None:
            return False
        if box.kind == "button":
            box.action()
            self.boxes = []  # the layout may have changed: no more clicks on it until the next frame is drawn
        elif box.kind == "slider":
            self.dragging = box
            box.action(box.value_at(x))
        elif box.kind == "text" and self.focus != box.key:
            self.focus, self._commit = box.key, box.action
            self.draft = box.text
            self.caret = len(self.draft)
        return True

    def key(self, key: str) -> bool:
        """Keys go to the focused text field (True) or, with none focused, to the demo (False)."""
        if self.focus is None:
            return False
        d, c = self.draft, self.caret
        if key == "Enter":
            if self._commit is not None and self._commit(d):
                self.focus = None
        elif key == "Backspace" and c > 0:
            self.draft, self.caret = d[: c - 1] + d[c:], c - 1
        elif key == "Delete":
            self.draft = d[:c] + d[c + 1 :]
        elif key in ("ArrowLeft", "ArrowRight"):
            self.caret = min(max(c + (1 if key == "ArrowRight" else -1), 0), len(d))
        elif key in ("Home", "End"):
            self.caret = 0 if key == "Home" else len(d)
        elif key == "Tab":
            self.focus = None
        elif len(key) == 1 and key.isprintable():
            self.draft, self.caret = d[:c] + key + d[c:], c + 1
        return True


def clip(text: str, n: int) -> str:
    """``text`` in at most ``n`` characters (an ellipsis where it was cut)."""
    return text if len(text) <= n else text[: n - 1] + "…"


def fit(r, text: str, width: float, size: int) -> str:
    """``text`` clipped to ``width`` pixels at font ``size`` (one line)."""
    return clip(text, max(int(width // r.atlas.size(size)[0]), 1))


def _wrap_starts(text: str, width: int) -> list[int]:
    """Where each line of ``text`` starts when wrapped to ``width`` characters, after a space where possible."""
    starts, i = [0], 0
    while len(text) - i > width:
        cut = text.rfind(", ", i, i + width) + 1 or text.rfind(" ", i, i + width + 1)  # items stay whole
        i = cut + 1 if cut > i else i + width
        starts.append(i)
    return starts


def _triangle(r, cx, cy, size, up: bool, color) -> None:
    """A filled triangle from 1-pixel rows (the renderer draws rectangles and text)."""
    n = max(int(size), 2)
    for i in range(n):
        half = (i + 1) / n * size / 2 * 1.15
        y = cy - n / 2 + (i if up else n - 1 - i)
        r.rect(cx - half, y, 2 * half, 1, color)
