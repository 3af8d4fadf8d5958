"""Reductions on WebGPU over the (outer, R, inner) view of a tensor around the reduced axis.

A long last axis (inner == 1, R >= 256) goes to shaders/reduce/reduce_rows.wgsl (a workgroup per row chunk, tree
in workgroup memory); every other case to reduce_cols.wgsl (an invocation per output, adjacent invocations on
adjacent memory). When there are too few outputs to fill the device, R is split into chunks and a second pass
reduces the partial results, carrying argmax/argmin indices along.
"""

from __future__ import annotations

from ...tensor import Tensor
from ._common import WG

_NONE = "0xffffffffu"  # index of the identity element: "no value yet"
# max/min as numpy: the first NaN wins (np.max is NaN, np.argmax its index), else the extreme value, ties to the
# lower index. NaN is tested on the bits (common/nan.wgsl): float compares may be folded as if NaN never occurs.
_PICK = (
    "if (a.i == {none}) {{ return b; }}\n"
    "    if (b.i == {none}) {{ return a; }}\n"
    "    let na = is_nan(a.v);\n"
    "    let nb = is_nan(b.v);\n"
    "    if (nb && (!na || b.i < a.i)) {{ return b; }}\n"
    "    if (na) {{ return a; }}\n"
    "    if (b.v {cmp} a.v || (b.v == a.v && b.i < a.i)) {{ return b; }}\n"
    "    return a;"
)
# op -> (IDENTITY, COMBINE) for shaders/reduce/pair.wgsl
KINDS = {
    "sum": (f"Pair(0.0, {_NONE})", "return Pair(a.v + b.v, 0u);"),
    "max": (f"Pair(0.0, {_NONE})", _PICK.format(none=_NONE, cmp=">")),
    "min": (f"Pair(0.0, {_NONE})", _PICK.format(none=_NONE, cmp="<")),
}
ROWS_WG = 256
ROWS_CHUNK = ROWS_WG * 16  # elements per workgroup in reduce_rows
TARGET_THREADS = 8192  # below this many outputs, reduce_cols splits R to keep the device busy
MIN_CHUNK = 64


def reduce(kind: str, index: bool, x: Tensor, outer: int, r: int, inner: int, out_shape) -> Tensor:
    device = x.device
    mean = kind == "mean"
    identity, combine = KINDS["sum" if mean else kind]
    if r == 0 or outer * inner == 0:
        out = Tensor.empty(out_shape, "int32" if index else "float32", device)
        return device.impl.fill(out, 0)
    # the first pass binds no index input: a 4-word placeholder kept per device
    dummy = device.op_state.get("reduce.dummy")
    if dummy is None:
        dummy = device.op_state["reduce.dummy"] = Tensor.empty((4,), "uint32", device)
    values, indices, indexed = x, dummy, False
    total = r
    while True:
        if inner == 1 and r >= ROWS_WG:
            chunks = -(-r // ROWS_CHUNK)
            chunk = -(-r // chunks)
            path, groups, wg = "reduce/reduce_rows.wgsl", outer * chunks, ROWS_WG
            params = {"rows": outer, "r": r, "chunks": chunks, "chunk": chunk}
        else:
            threads = outer * inner
            chunks = 1 if threads >= TARGET_THREADS else max(1, min(-(-r // MIN_CHUNK), TARGET_THREADS // threads))
            chunk = -(-r // chunks)
            chunks = -(-r // chunk)
            path, groups, wg = "reduce/reduce_cols.wgsl", -(-outer * chunks * inner // WG), WG
            params = {"outer": outer, "r": r, "inner": inner, "chunks": chunks, "chunk": chunk}
        params["scale"] = 1.0 / total if (mean and chunks == 1) else 1.0
        out = Tensor.empty((outer * chunks * inner,), "float32", device)
        out_idx = Tensor.empty((outer * chunks * inner,), "int32", device)
        # a sum's combine ignores indices: its second pass runs the first pass's kernel (one pipeline less)
        kernel = device.kernel(
            path, WG=wg, INDEXED=indexed and kind in ("max", "min"), IDENTITY=identity, COMBINE=combine
        )
        kernel(device.grid_1d(groups), params, x_in=values, x_idx=indices, out=out, out_idx=out_idx)
        if chunks == 1:
            return (out_idx if index else out).reshape(out_shape)
        values, indices, indexed, r = out, out_idx, True, chunks
