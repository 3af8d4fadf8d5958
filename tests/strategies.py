"""Hypothesis strategies and float64 references for tests/test_properties.py.

Arrays are drawn as (numpy seed, special positions) rather than element by element: thousands of elements stay
cheap, and a failing example still shrinks to a small seed and a short list of NaN/Inf positions.
"""

from __future__ import annotations

import math
import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# --- profiles --------------------------------------------------------------------------------------------------
_COMMON = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=15, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=300, derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# --- shapes ----------------------------------------------------------------------------------------------------
# awkward extents: 1, primes, one off the workgroup sizes (4, 16, 64, 256)
AWKWARD = (1, 2, 3, 5, 7, 13, 15, 17, 31, 63, 65, 127, 257)
MAX_ELEMS = {"native": 3000, "cpu": 3000, "python": 240}


def dims() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(AWKWARD), st.integers(1, 40))


@st.composite
def shapes(draw, max_elems: int, min_dims: int = 1, max_dims: int = 4) -> tuple[int, ...]:
    """A shape of ``min_dims..max_dims`` awkward extents with at most ``max_elems`` elements (the largest extents
    are shrunk until it fits, so big primes still appear in small tensors)."""
    shape = draw(st.lists(dims(), min_size=min_dims, max_size=max_dims))
    while math.prod(shape) > max_elems:
        i = int(np.argmax(shape))
        shape[i] = max(1, shape[i] // 2)
    return tuple(shape)


@st.composite
def broadcast_pair(draw, max_elems: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast together (numpy's rule): each drops some leading axes and sets some extents to 1."""
    out = draw(shapes(max_elems))

    def operand():
        lead = draw(st.integers(0, len(out) - 1)) if len(out) > 1 else 0
        return tuple(1 if draw(st.booleans()) and draw(st.booleans()) else d for d in out[lead:])

    return operand(), operand()


# --- values ----------------------------------------------------------------------------------------------------
SPECIALS = (np.nan, np.inf, -np.inf, 0.0, -0.0)
FLOAT_DTYPES = ("float32", "float64")  # float64 is converted to float32 on upload (with a DtypeWarning)
INT_DTYPES = ("int32", "uint8")


def specials(max_size: int = 6) -> st.SearchStrategy[list[tuple[float, float]]]:
    """(position in [0, 1), value) pairs: where (as a fraction of the size) to put which special value."""
    return st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from(SPECIALS)), max_size=max_size)


def make_array(shape, seed: int, scale: float = 1.0, spots=(), dtype: str = "float32", positive: bool = False):
    """Standard normal values times ``scale`` (of |x| + 0.1 when ``positive``), with ``spots`` written in, as
    ``dtype`` (integers: uniform over a small range)."""
    rng = np.random.default_rng(seed)
    if dtype in INT_DTYPES:
        lo, hi = (0, 256) if dtype == "uint8" else (-1000, 1000)
        return rng.integers(lo, hi, size=shape).astype(dtype)
    x = rng.standard_normal(shape) * scale
    if positive:
        x = np.abs(x) + 0.1
    x = x.astype(np.float32)
    flat = x.reshape(-1)
    for where, value in spots:
        if flat.size:
            flat[int(where * flat.size)] = value
    return x.astype(dtype)


# --- comparison ------------------------------------------------------------------------------------------------
def assert_same_specials_and_close(actual, reference, kind: str, name: str = "", scale: float | None = None) -> None:
    """NaN and ±Inf exactly where the float64 reference (rounded to float32, so overflow is Inf) has them; the
    finite values within gpuml.testing.TOLERANCES[kind] of the reference, relative to its largest finite value or
    to ``scale`` (a sum's magnitude is that of its terms, sum |x|, not of a result that cancels)."""
    from gpuml.testing import TOLERANCES, assert_close

    actual = np.asarray(actual)
    reference = np.asarray(reference, np.float64)
    assert actual.shape == reference.shape, f"{name}: shape {actual.shape} != reference {reference.shape}"
    with np.errstate(over="ignore", invalid="ignore"):
        ref32 = reference.astype(np.float32)
    a = actual.astype(np.float64)
    for what, test in (("NaN", np.isnan), ("+Inf", np.isposinf), ("-Inf", np.isneginf)):
        got, want = test(a), test(ref32)
        if not np.array_equal(got, want):
            at = tuple(int(i) for i in np.argwhere(got != want)[0])
            raise AssertionError(
                f"{name}: {what} positions differ ({int(got.sum())} vs {int(want.sum())} in the reference), first at "
                f"{at}: got {actual[at]!r}, expected {reference[at]!r}"
            )
    finite = np.isfinite(ref32)
    if not finite.any():
        return
    if scale is None:
        assert_close(a[finite], reference[finite], kind, name)
        return
    rel, floor = TOLERANCES[kind]
    err = np.abs(a[finite] - reference[finite])
    limit = rel * scale + floor
    assert err.max() <= limit, (
        f"{name}: max error {err.max():.3g} exceeds {limit:.3g} = {rel:g} * {scale:.3g} + {floor:g}"
    )
