"""Test helpers: the one tolerance table every kernel test uses, and a comparison that names the worst element.

Tolerances are relative to the largest magnitude of the float64 reference (``max|ref|``), because f32 kernels
accumulate rounding in proportion to the values involved, not to each output's own size.
"""

from __future__ import annotations

import numpy as np

# kind -> (relative to max|ref|, absolute floor)
TOLERANCES: dict[str, tuple[float, float]] = {
    "exact": (0.0, 0.0),  # copies, transposes, max/min, indices
    "elementwise": (2e-7, 1e-30),  # one f32 rounding
    "transcendental": (4e-6, 1e-7),  # exp/log/tanh/sigmoid: a few ulp in the WGSL builtins
    "reduction": (2e-6, 1e-6),  # f32 sums of up to ~1e6 terms (pairwise/tree order)
    "matmul": (1e-5, 1e-6),  # f32 dot products, K up to a few thousand
    "half": (2e-3, 1e-4),  # float16 storage (11-bit mantissa, 2^-11 ~ 4.9e-4 per rounding), f32 sums in kernels
}


def assert_close(actual, reference, kind: str, name: str = "") -> None:
    """Check shape, dtype family and values of ``actual`` against a float64 ``reference``. NaN and +-Inf must appear
    exactly where the reference has them (numpy semantics); the tolerance applies to the finite elements."""
    actual = np.asarray(actual)
    reference = np.asarray(reference)
    label = f"{name}: " if name else ""
    assert actual.shape == reference.shape, f"{label}shape {actual.shape} != reference {reference.shape}"
    if kind == "exact":
        floats = actual.dtype.kind == "f"
        if not np.array_equal(actual, reference.astype(actual.dtype), equal_nan=floats):
            same = (actual == reference) | (np.isnan(actual) & np.isnan(reference)) if floats else actual == reference
            bad = np.argwhere(~same)
            raise AssertionError(f"{label}{len(bad)} elements differ, first at {tuple(bad[0])}")
        return
    finite = np.isfinite(reference)
    if not finite.all():
        special = ~finite
        same = np.isnan(actual[special]) == np.isnan(reference[special])
        same &= (actual[special] == reference[special]) | np.isnan(reference[special])
        if not same.all():
            bad = np.argwhere(special)[~same]
            shown = ", ".join(
                f"{actual[tuple(b)]} at {tuple(int(i) for i in b)} (expected {reference[tuple(b)]})" for b in bad[:6]
            )
            raise AssertionError(f"{label}{len(bad)} NaN/Inf elements differ from numpy's: got {shown}")
        actual, reference = actual[finite], reference[finite]
    rel, floor = TOLERANCES[kind]
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    limit = rel * scale + floor
    err = np.abs(actual.astype(np.float64) - reference)
    if reference.size and not (np.all(np.isfinite(actual) == np.isfinite(reference)) and err.max() <= limit):
        at = np.unravel_index(np.nanargmax(np.where(np.isfinite(err), err, np.inf)), err.shape)
        raise AssertionError(
            f"{label}max error {err[at]:.3g} at {tuple(int(i) for i in at)} (got {actual[at]!r}, "
            f"expected {reference[at]!r}) exceeds {limit:.3g} = {rel:g} * max|ref| {scale:.3g} + {floor:g} ({kind})"
        )


def max_relative_error(actual, reference) -> float:
    """max |actual - reference| / max |reference| (the figure reported in docs and benchmarks)."""
    reference = np.asarray(reference, np.float64)
    scale = float(np.max(np.abs(reference))) or 1.0
    return float(np.max(np.abs(np.asarray(actual, np.float64) - reference)) / scale)
