"""Controls of a demo model and the model base class.

A :class:`Control` describes one input a demo takes (a slider with its range, a choice with its options, a
button), so every front end (native window keys, the web page's widgets) drives a model the same way and a bad
value fails the same way: a one-line ``ValueError`` naming the control and its range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Control", "DemoModel", "button", "choice", "got", "slider", "toggle"]


def got(value) -> str:
    """A bad value as an error message shows it: an empty field is "nothing", not None or ''."""
    return "nothing" if value is None or (isinstance(value, str) and not value.strip()) else repr(value)


@dataclass(frozen=True)
class Control:
    """``kind`` is "slider" (a number in [lo, hi]; ``integer``; ``log``: the front end moves it on a log scale;
    ``step``: its increment), "choice" (one of ``choices``) or "button" (an action, no value)."""

    name: str
    kind: str
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    integer: bool = False
    log: bool = False
    step: float | None = None
    label: str = ""

    def describe(self) -> str:
        if self.kind == "slider":
            what = "an integer" if self.integer else "a number"
            return f"{what} in [{self.lo:g}, {self.hi:g}]"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return "a button (no value)"

    def validate(self, value):
        """``value`` checked and normalised (int/float for sliders); raises ValueError naming the control."""
        if self.kind == "slider":
            ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
            if ok and self.integer:
                ok = float(value).is_integer()
            if not ok or not self.lo <= value <= self.hi:
                raise ValueError(f"control {self.name!r} takes {self.describe()}, got {got(value)}")
            return int(value) if self.integer else float(value)
        if self.kind == "choice":
            for c in self.choices:
                if value == c and type(value) is type(c):
                    return c
            raise ValueError(f"control {self.name!r} takes {self.describe()}, got {got(value)}")
        raise ValueError(f"control {self.name!r} is a button: press it, it takes no value")

    def as_dict(self) -> dict:
        """JSON-able spec (for a front end building its widgets)."""
        out = {"name": self.name, "kind": self.kind, "default": self.default, "label": self.label or self.name}
        if self.kind == "slider":
            out.update(lo=self.lo, hi=self.hi, integer=self.integer, log=self.log, step=self.step)
        elif self.kind == "choice":
            out["choices"] = list(self.choices)
        return out


def slider(name, default, lo, hi, *, integer=False, log=False, step=None, label="") -> Control:
    return Control(name, "slider", default, lo, hi, integer=integer, log=log, step=step, label=label)


def choice(name, default, choices, label="") -> Control:
    return Control(name, "choice", default, choices=tuple(choices), label=label)


def toggle(name, default: bool, label="") -> Control:
    return Control(name, "choice", bool(default), choices=(False, True), label=label)


def button(name, label="") -> Control:
    return Control(name, "button", label=label)


class DemoModel:
    """A demo's state and behaviour without any drawing code: ``controls`` (its inputs), ``set``/``press`` (input),
    ``step`` (advance the computation once), ``view`` (what to draw, as plain data: numbers, lists, arrays, text;
    the front end lays it out) and ``state`` (a JSON-able summary for tests and tools)."""

    name = "demo"
    title = "gpuml demo"
    controls: tuple[Control, ...] = ()

    def __init__(self):
        self.values = {c.name: c.default for c in self.controls if c.kind != "button"}

    def control(self, name: str) -> Control:
        for c in self.controls:
            if c.name == name:
                return c
        raise ValueError(f"{self.name} has no control {name!r}; its controls: {', '.join(self.control_names())}")

    def control_names(self) -> list[str]:
        return [c.name for c in self.controls]

    def get(self, name: str):
        self.control(name)
        return self.values[name]

    def set(self, name: str, value) -> None:
        """Validate ``value`` for control ``name`` and apply it (``_changed`` reacts)."""
        value = self.control(name).validate(value)
        old = self.values.get(name)
        self.values[name] = value
        if value != old:
            self._changed(name, value)

    def press(self, name: str) -> None:
        c = self.control(name)
        if c.kind != "button":
            raise ValueError(f"control {name!r} is a {c.kind}, not a button: set a value ({c.describe()})")
        self._pressed(name)

    def nudge(self, name: str, up: bool) -> None:
        """One increment of a slider (``step``, or x10^(1/4) for ``log`` sliders), clamped to its range; the next
        or previous option of a choice (clamped)."""
        c = self.control(name)
        v = self.values[name]
        if c.kind == "slider":
            if c.log:
                v = v * (1.25 if up else 0.8)
            else:
                v = v + (c.step or 1) * (1 if up else -1)
            v = min(max(v, c.lo), c.hi)
            self.set(name, round(v) if c.integer else v)
        elif c.kind == "choice":
            i = c.choices.index(v) + (1 if up else -1)
            self.set(name, c.choices[min(max(i, 0), len(c.choices) - 1)])

    def _changed(self, name: str, value) -> None:
        pass

    def _pressed(self, name: str) -> None:
        pass

    def step(self) -> None:
        pass

    def view(self) -> dict:
        return {}

    def state(self) -> dict:
        return {}
