"""The augmentation pipeline builder's model: a list of steps (a transform, its parameters, a probability) kept in
sync both ways with the text spec of :mod:`gpuml.augment.spec`. Numpy-free (it runs in the page's Pyodide).

A step is a dict ``{"name", "values": [numbers, one per parameter], "p": probability, "extra": "fill=0.5 ..."}``;
an item the builder has no sliders for (affine, normalize, options it cannot show) is a step ``{"name", "raw":
item}`` that is kept as written. Every value error is one line naming the step and the parameter.

A typed text spec is held to the builder's ranges (:data:`STEPS`, the one table of them): ``rotate 1e9`` is
refused here as its slider refuses 1e9, although ``gpuml.augment`` (the Python API, ``gpuml augment
--pipeline``, ``gpuml train --augment``) takes any finite angle.
"""

from __future__ import annotations

import math

from ..augment.spec import parse_transform

# name -> (parameters, default probability, what it does). A parameter: (key, default, lo, hi, unit, integer).
# Ranges: the transform's own domain (gpuml.augment validates the same), capped at what shows on a small image.
# Units as in gpuml.augment: pixels, degrees, fractions (factor 1 +- v), turns, value-range units.
STEPS: dict[str, tuple[tuple, float, str]] = {
    "rotate": ((("degrees", 20, 0, 180, "degrees", False),), 1.0, "rotate by up to ± degrees"),
    "translate": ((("shift", 3, 0, 16, "pixels", True),), 1.0, "shift by up to ± pixels"),
    "zoom": ((("zoom", 0.2, 0, 0.9, "fraction", False),), 1.0, "scale by a factor in 1 ± zoom"),
    "elastic": (
        (("alpha", 2, 0, 8, "pixels", False), ("spacing", 4, 1, 16, "pixels", False)),
        1.0,
        "smooth random displacement (alpha pixels, control points every spacing pixels)",
    ),
    "crop": ((("size", 24, 4, 48, "pixels", True),), 1.0, "random square crop (output size in pixels)"),
    "hflip": ((), 0.5, "mirror left-right"),
    "vflip": ((), 0.5, "mirror top-bottom"),
    "brightness": ((("strength", 0.3, 0, 1, "fraction", False),), 1.0, "multiply by a factor in 1 ± strength"),
    "contrast": ((("strength", 0.4, 0, 1, "fraction", False),), 1.0, "contrast factor in 1 ± strength"),
    "saturation": ((("strength", 0.5, 0, 1, "fraction", False),), 1.0, "colour factor in 1 ± strength (RGB)"),
    "hue": ((("turns", 0.1, 0, 0.5, "turns", False),), 1.0, "rotate the hue by up to ± turns (RGB)"),
    "grayscale": ((), 0.5, "to grey (RGB)"),
    "noise": ((("sigma", 0.05, 0, 0.5, "value units", False),), 1.0, "add Gaussian noise (sigma)"),
    "cutout": (
        (("size", 8, 1, 24, "pixels", True), ("holes", 1, 1, 8, "count", True)),
        1.0,
        "black squares of size pixels",
    ),
    "erase": ((), 0.5, "random erasing of a rectangle"),
}
_OWN_P = {"hflip", "vflip", "grayscale", "erase"}  # their number is their probability
NO_P = {"crop"}  # size-changing: every image must come out the same size, so it always applies


def catalog() -> list[dict]:
    """The builder's transforms with their parameters' ranges (for the front ends' "add transform" select)."""
    return [
        {
            "name": name,
            "help": what,
            "p": None if name in NO_P else p,
            "params": [
                {"key": k, "default": d, "lo": lo, "hi": hi, "unit": u, "integer": i} for k, d, lo, hi, u, i in params
            ],
        }
        for name, (params, p, what) in STEPS.items()
    ]


def new_step(name: str) -> dict:
    if name not in STEPS:
        raise ValueError(f"unknown transform {name!r}; the builder has: {', '.join(STEPS)}")
    params, p, _ = STEPS[name]
    return {"name": name, "values": [d for _, d, *_ in params], "p": p, "extra": ""}


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _out_of_range(index: int, name: str, key: str, lo, hi, integer: bool, got: str) -> ValueError:
    what = "a whole number" if integer else "a number"
    return ValueError(f"step {index + 1} ({name}): {key} takes {what} in [{lo:g}, {hi:g}], got {got}")


def check_value(step: dict, index: int, k: int | None, value) -> float:
    """``value`` for parameter ``k`` of step ``index`` (None: its probability), checked against the range."""
    name = step["name"]
    if k is None and name in NO_P:
        raise ValueError(f"step {index + 1} ({name}): changes the image size, so it always applies (no probability)")
    if k is None:
        key, lo, hi, integer = "probability", 0.0, 1.0, False
    else:
        key, _, lo, hi, _, integer = STEPS[name][0][k]
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or not lo <= value <= hi:
        raise _out_of_range(index, name, key, lo, hi, integer, repr(value))
    return int(value) if integer else float(value)


def step_item(step: dict) -> str:
    """One step as a spec item."""
    if "raw" in step:
        return step["raw"]
    name, p = step["name"], float(step["p"])
    words = [name, *(_fmt(v) for v in step["values"])]
    if name == "crop":
        words.append(_fmt(step["values"][0]))  # square
    if name in _OWN_P:
        words.append(f"{p:g}")
    elif p != 1.0:
        words.append(f"p={p:g}")
    if step.get("extra"):
        words.append(step["extra"])
    return " ".join(words)


def steps_to_spec(steps: list[dict]) -> str:
    return ", ".join(step_item(s) for s in steps)


def _number(tok: str):
    try:
        v = float(tok)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


# A spec item's positional numbers -> the builder parameter (STEPS[name][0][k]) whose range each is held to:
# translate's TY and crop's W share their first number's range; affine's D T S are rotate's, translate's and
# zoom's quantities in the same units (its shear has no slider: gpuml.augment checks it).
_SPEC_ARGS = {
    "translate": (("translate", 0), ("translate", 0)),
    "crop": (("crop", 0), ("crop", 0)),
    "affine": (("rotate", 0), ("translate", 0), ("zoom", 0)),
}


def _check_item(name: str, numbers: list[tuple[str, float | None]], item: str, index: int) -> None:
    """The builder's range for each of an item's numbers (as typed): a one-line error naming the step, the
    parameter, the value and the range."""
    if name in _OWN_P:  # their number is their probability: gpuml.augment holds it to [0, 1]
        return
    args = _SPEC_ARGS.get(name) or tuple((name, k) for k in range(len(STEPS[name][0])))
    for (tok, v), (owner, k) in zip(numbers, args, strict=False):
        key, _, lo, hi, _, integer = STEPS[owner][0][k]
        integer = integer and name != "affine"  # affine takes any pixel shift; the builder's translate whole ones
        if v is None or not lo <= v <= hi or (integer and not v.is_integer()):
            raise ValueError(f"{_out_of_range(index, name, key, lo, hi, integer, tok)} (text spec item {item!r})")


def parse_step(item: str, index: int, *, strict: bool = True) -> dict:
    """A spec item as a builder step (validated by gpuml.augment first: its error names the item). ``strict``:
    its numbers must also lie in the builder's ranges (a typed spec); else a value beyond a slider keeps the item
    as written (the native demo's switches, whose sizes scale with the image)."""
    parse_transform(item)
    tokens = item.split()
    name = tokens[0].lower()
    name = "hflip" if name == "flip" else name
    if name not in STEPS and name not in _SPEC_ARGS:
        return {"name": name, "raw": item}
    p = STEPS[name][1] if name in STEPS else 1.0
    numbers, extra = [], []
    for tok in tokens[1:]:
        if tok.startswith("p="):
            p = float(tok[2:])
        elif "=" in tok or tok.lower() in ("nearest", "bilinear"):
            extra.append(tok)
        else:
            numbers.append((tok, _number(tok)))
    if strict:
        _check_item(name, numbers, item, index)
    if name not in STEPS:
        return {"name": name, "raw": item}
    params = STEPS[name][0]
    nums = [v for _, v in numbers]
    if name in _OWN_P and nums:
        p = nums.pop(0)
    if name == "crop" and len(nums) == 2 and nums[0] == nums[1]:
        nums.pop()  # square: the builder's one size
    if len(nums) > len(params):  # a number the builder has no slider for (translate's TY, a non-square crop)
        return {"name": name, "raw": item}
    values = [*nums, *(d for _, d, *_ in params[len(nums) :])]
    step = {"name": name, "values": [], "p": p, "extra": " ".join(extra)}
    for k, v in enumerate(values):
        try:
            step["values"].append(check_value(step, index, k, v))
        except ValueError:
            return {"name": name, "raw": item}  # valid for gpuml.augment, beyond the sliders: kept as written
    if not 0 <= p <= 1:
        return {"name": name, "raw": item}
    return step


def spec_to_steps(spec: str, *, strict: bool = True) -> list[dict]:
    """The builder's steps for a text spec; a bad item raises gpuml.augment's one-line ValueError naming it, and
    (``strict``) a number outside its builder range a one-line ValueError naming the step, parameter and range."""
    items = [s.strip() for s in spec.replace(";", ",").split(",") if s.strip()]
    return [parse_step(s, i, strict=strict) for i, s in enumerate(items)]


def edit(steps: list[dict], op: str, index: int = 0, arg=None, key: int | None = None) -> list[dict]:
    """A new step list after ``op``: "add" (arg: name), "remove", "up", "down", "set" (parameter ``key``, None:
    the probability, to ``arg``). Bad values raise a one-line ValueError naming the step and parameter."""
    out = [dict(s, values=list(s.get("values", []))) for s in steps]
    if op == "add":
        out.append(new_step(arg))
        return out
    if not 0 <= index < len(out):
        raise ValueError(f"no step {index + 1} (the pipeline has {len(out)})")
    if op == "remove":
        del out[index]
    elif op in ("up", "down"):
        j = index - 1 if op == "up" else index + 1
        if 0 <= j < len(out):
            out[index], out[j] = out[j], out[index]
    elif op == "set":
        step = out[index]
        if "raw" in step:
            raise ValueError(f"step {index + 1} ({step['name']}) is edited in the text spec only")
        value = check_value(step, index, key, arg)
        if key is None:
            step["p"] = value
        else:
            step["values"][key] = value
    else:
        raise ValueError(f"unknown builder operation {op!r}")
    return out
