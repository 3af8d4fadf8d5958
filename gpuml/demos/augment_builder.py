"""The augmentation window's pipeline builder (the "builder" tab of ``gpuml demo augment``), on the mouse and
the keyboard: a list of transforms to add from, the pipeline's steps (each with a slider per parameter in its
unit, a probability slider, move up / down and remove buttons) and the pipeline's text spec as an editable field.
Steps and spec stay in sync both ways through :class:`gpuml.playground.augment.AugmentModel` (``edit_steps``,
``use_spec``); a value the model refuses leaves the pipeline as it was and its one-line error shows beside the
control that sent it.
"""

from __future__ import annotations

from ..playground.augment_steps import NO_P, STEPS
from .render import DIM, TEXT
from .widgets import ERROR, fit

ADD_BOX = (40, 288, 200, 318)  # x, y, w, h in design pixels (1280 x 800)
STEPS_BOX = (768, 70, 472, 666)
SPEC_BOX = (260, 584, 488, 152)
HEADER, ROW, GAP, ERR = 28, 22, 8, 16


def fields(step: dict) -> list[tuple]:
    """A step's sliders: (parameter index or None for the probability, label, lo, hi, integer, unit)."""
    if "raw" in step:
        return []
    out = [(k, key, lo, hi, integer, unit) for k, (key, _, lo, hi, unit, integer) in enumerate(STEPS[step["name"]][0])]
    return out + ([] if step["name"] in NO_P else [(None, "probability", 0.0, 1.0, False, "")])


def _fmt(v) -> str:
    return str(v) if isinstance(v, int) else f"{v:.3g}"


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


class Builder:
    """The builder's state (selection, scroll, errors per control) and its actions; ``draw`` lays it out."""

    def __init__(self, model, widgets):
        self.model, self.w = model, widgets
        self.sel, self.param, self.add_next = 0, 0, 0  # the keyboard's step, parameter and next "a" transform
        self.first = 0  # the first step shown (the list scrolls when the steps do not fit)
        self._followed = 0  # the selected step the list last scrolled to
        self.errors: dict[str, str] = {}  # control ("add", "spec", "step<i>") -> its one-line error
        self.error = ""  # the latest error, wherever it came from ("" after a change that worked)

    # --- actions (mouse and keys) --------------------------------------------------------------------------------
    def apply(self, where: str, change) -> bool:
        """Run ``change`` on the model and the pipeline once; on a ValueError put the pipeline back and show the
        error beside ``where``."""
        m = self.model
        before = (m.custom_spec, m.steps)
        try:
            change()
            m.step()  # a spec can parse and still not run (a crop larger than the image): find out now
        except ValueError as exc:
            m.custom_spec, m.steps, m.dirty = *before, True
            self.error = str(exc).splitlines()[0]
            self.errors = {where: self.error}
            return False
        self.error, self.errors = "", {}
        return True

    def add(self, name: str) -> None:
        if self.apply("add", lambda: self.model.edit_steps("add", arg=name)):
            self.sel, self.param = len(self.model.steps) - 1, 0

    def remove(self, i: int) -> None:
        if self.apply(f"step{i}", lambda: self.model.edit_steps("remove", i)):
            self.sel = max(0, min(i, len(self.model.steps) - 1))

    def move(self, i: int, up: bool) -> None:
        if self.apply(f"step{i}", lambda: self.model.edit_steps("up" if up else "down", i)):
            self.sel = max(0, min(len(self.model.steps) - 1, i + (-1 if up else 1)))

    def set_value(self, i: int, k: int | None, value) -> None:
        """Parameter ``k`` of step ``i`` (None: its probability) to ``value``."""
        if i < len(self.model.steps):
            step = self.model.steps[i]
            self.sel = i
            self.param = next((j for j, f in enumerate(fields(step)) if f[0] == k), 0)
            old = step.get("p") if k is None else step.get("values", [None] * (k + 1))[k]
            if value != old:
                self.apply(f"step{i}", lambda: self.model.edit_steps("set", i, value, k))

    def commit_spec(self, text: str) -> bool:
        """The spec field's Enter: the steps follow the text (True), or the error shows under the field."""
        if self.apply("spec", lambda: self.model.use_spec(text.strip())):
            self.sel = min(self.sel, max(len(self.model.steps) - 1, 0))
            return True
        return False

    def scroll(self, down: bool) -> None:
        self.first = max(0, min(self.first + (1 if down else -1), len(self.model.steps) - 1))

    def key(self, key: str) -> None:
        """The builder's keys (see AugmentDemo.builder_help)."""
        steps = self.model.steps
        i = min(self.sel, max(len(steps) - 1, 0))
        if key == "a":
            names = list(STEPS)
            self.add(names[self.add_next % len(names)])
            self.add_next += 1
        elif not steps:
            return
        elif key in ("x", "Delete"):
            self.remove(i)
        elif key in ("[", "]"):
            self.move(i, key == "[")
        elif key in ("ArrowUp", "ArrowDown"):
            self.sel, self.param = (i + (1 if key == "ArrowDown" else -1)) % len(steps), 0
        elif key == "Tab":
            self.param = (self.param + 1) % max(1, len(fields(steps[i])))
        elif key in ("ArrowRight", "ArrowLeft", "+", "=", "-", "WheelUp", "WheelDown"):
            fs = fields(steps[i])
            if not fs:
                self.error = f"step {i + 1} ({steps[i]['name']}) is edited in the text spec only"
                self.errors = {f"step{i}": self.error}
                return
            k, _, lo, hi, integer, _ = fs[self.param % len(fs)]
            old = steps[i]["p"] if k is None else steps[i]["values"][k]
            delta = (1 if integer else (hi - lo) / 20) * (1 if key in ("ArrowRight", "+", "=", "WheelUp") else -1)
            new = min(max(old + delta, lo), hi)
            self.set_value(i, k, round(new) if integer else round(new, 6))

    # --- drawing -------------------------------------------------------------------------------------------------
    def draw(self, r) -> None:
        self._draw_add(r)
        self._draw_steps(r)
        self._draw_spec(r)

    def _draw_add(self, r) -> None:
        x, y, w, h = ADD_BOX
        r.panel(x, y, w, h, "add a transform")
        names = list(STEPS)
        for n, name in enumerate(names):
            bx, by = x + 8 + (n % 2) * 94, y + 30 + (n // 2) * 28
            self.w.button(r, f"add:{name}", bx, by, 90, 24, name, lambda name=name: self.add(name))
        hover = (self.w.hover or "").removeprefix("add:")
        name = hover if hover in STEPS else names[self.add_next % len(names)]
        what = STEPS[name][2].replace("±", "+/-")
        for j, line in enumerate(_wrap(f"{name}: {what}", 30)[:3]):
            r.text(line, x + 10, y + 260 + j * 13, 10, DIM)
        if "add" in self.errors:
            r.text(fit(r, self.errors["add"], w - 20, 10), x + 10, y + h - 16, 10, ERROR)

    def _height(self, i: int, step: dict) -> int:
        rows = 1 if "raw" in step else len(fields(step)) + (step["name"] in NO_P)
        return HEADER + ROW * rows + (ERR if f"step{i}" in self.errors else 0) + GAP

    def _draw_steps(self, r) -> None:
        x, y, w, h = STEPS_BOX
        steps = self.model.steps
        r.panel(x, y, w, h, f"pipeline: {len(steps)} step{'s' * (len(steps) != 1)}, top to bottom")
        top, bottom = y + 32, y + h - 28
        heights = [self._height(i, s) for i, s in enumerate(steps)]
        self.first = min(self.first, max(len(steps) - 1, 0))
        if self.sel != self._followed:  # a newly selected step comes into view (scrolling leaves it)
            self.first = min(self.first, self.sel)
            while self.first < self.sel < len(steps) and sum(heights[self.first : self.sel + 1]) > bottom - top:
                self.first += 1
            self._followed = self.sel
        if self.first:
            self.w.button(
                r, "scroll_up", x + w - 128, y + 4, 120, 20, f"{self.first} more above", lambda: self.scroll(False)
            )
        cy, i = top, self.first
        while i < len(steps) and cy + heights[i] <= bottom:
            self._draw_step(r, i, steps[i], x + 8, cy, w - 16, heights[i] - GAP)
            cy, i = cy + heights[i], i + 1
        if i < len(steps):
            label = f"{len(steps) - i} more below"
            self.w.button(r, "scroll_down", x + w - 128, y + h - 26, 120, 20, label, lambda: self.scroll(True))
        if not steps:
            for j, line in enumerate(
                ("no steps: the variants are copies of the original.", "Add a transform on the left.")
            ):
                r.text(line, x + 16, top + 8 + j * 18, 12, DIM)

    def _draw_step(self, r, i, step, x, y, w, h) -> None:
        selected = i == self.sel
        r.rect(x, y, w, h, "#2a2e3a" if selected else "#23262f")
        r.text(f"{i + 1}. {step['name']}", x + 8, y + 6, 14, TEXT)
        bx, n = x + w - 88, len(self.model.steps)
        self.w.button(r, f"up{i}", bx, y + 4, 26, 20, "", lambda: self.move(i, True), icon="up", enabled=i > 0)
        self.w.button(
            r, f"down{i}", bx + 29, y + 4, 26, 20, "", lambda: self.move(i, False), icon="down", enabled=i < n - 1
        )
        self.w.button(r, f"remove{i}", bx + 58, y + 4, 26, 20, "×", lambda: self.remove(i), size=14)
        ry = y + HEADER
        if "raw" in step:
            r.text(fit(r, f"kept as written (edit it in the spec): {step['raw']}", w - 24, 11), x + 16, ry + 3, 11, DIM)
            ry += ROW
        fs = fields(step)
        for j, (k, label, lo, hi, integer, unit) in enumerate(fs):
            value = step["p"] if k is None else step["values"][k]
            active = selected and j == self.param % len(fs)
            r.text(label, x + 16, ry + 3, 11, TEXT if active else DIM)
            self.w.slider(r, f"s{i}:{k}", x + 104, ry + 2, 200, value, lo, hi,
                          lambda v, k=k: self.set_value(i, k, v), integer=integer, active=active)  # fmt: skip
            r.text(f"{_fmt(value)} {unit}", x + 318, ry + 3, 11, TEXT)
            ry += ROW
        if step["name"] in NO_P and "raw" not in step:
            r.text("always applied: it changes the image size", x + 16, ry + 3, 11, DIM)
            ry += ROW
        if f"step{i}" in self.errors:
            r.text(fit(r, self.errors[f"step{i}"], w - 24, 11), x + 16, ry, 11, ERROR)

    def _draw_spec(self, r) -> None:
        x, y, w, h = SPEC_BOX
        r.panel(x, y, w, h, "text spec (advanced): click to edit, Enter applies")
        hint = "(no transform) click, type e.g. rotate 20, noise 0.1"
        self.w.text_field(r, "spec", x + 10, y + 28, w - 20, h - 54, self.model.spec(), self.commit_spec, hint=hint)
        if "spec" in self.errors:
            r.text(fit(r, self.errors["spec"], w - 20, 11), x + 10, y + h - 20, 11, ERROR)
        else:
            r.text("the same spec works in gpuml train --augment and gpuml augment", x + 10, y + h - 20, 11, DIM)
