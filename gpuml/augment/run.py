"""Running a pipeline over a batch: fused segments around Python callables, host batches in chunks that fit the
adapter's largest storage binding, and the value-range check of float input.

A ``Compose`` may hold plain callables (tensor -> tensor) between its transforms. The transforms between two
callables form one fused segment (planned and run as one Compose: a few dispatches); each callable then gets that
segment's float32 (N, C, H, W) output on the device and returns the next segment's input. Per-image parameters are
drawn for the whole batch when a segment is first reached, from the same generator in order, so a pipeline replays
from ``params_`` and gives the same result whole or in chunks.

Host batches (numpy / PIL) are uploaded, augmented and read back in chunks of images whose every buffer (input,
each pass's output, parameters) fits ``device.max_binding_bytes``; parameters are drawn once for the whole batch
and each chunk takes its images' slice (``Transform.select``), so chunking never changes the result. Device
tensors (``apply_batch``) already fit the device; an output or intermediate that would not raises a ValueError.

This module imports without numpy (Pyodide core); only the host path uses it.
"""

from __future__ import annotations

import random

from ..tensor import Tensor, tensor
from . import engine
from .io import U8Batch
from .stages import pack, plan


def segments(items: list) -> list:
    """Runs of consecutive transforms (lists of indices into ``items``) and callables (an index)."""
    out, run = [], []
    for i, t in enumerate(items):
        if hasattr(t, "generate"):
            run.append(i)
            continue
        if run:
            out.append(run)
            run = []
        out.append(i)
    if run:
        out.append(run)
    return out


def _execute(pipe, cur, stages, out_u8: bool, out_shape):
    kw = {"clip": pipe.clip, "value_range": pipe.value_range, "out_u8": out_u8}
    if isinstance(cur, U8Batch):
        res = engine.execute(cur.words, stages, u8_shape=cur.shape, u8_layout=cur.layout, **kw)
    else:
        res = engine.execute(cur, stages, **kw)
    return U8Batch(res, (cur.shape[0], *out_shape), "u8px") if out_u8 else res


def _call(fn, x: Tensor) -> Tensor:
    name = getattr(fn, "__name__", repr(fn))
    y = fn(x)
    if not isinstance(y, Tensor):
        y = tensor(y, device=x.device)
    if y.device is not x.device or y.dtype_name != "float32" or y.ndim != 4 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"Compose: the callable {name} must return an (N, C, H, W) float32 tensor of {x.shape[0]} images on "
            f"the input's device; got {y.shape} {y.dtype_name} on {y.device.name}"
        )
    return y


def run_chunk(pipe, x, params: list, rng: random.Random | None, n_total: int, first: int, out_u8: bool):
    """Images [first, first + len(x)) of a batch of ``n_total``: ``x`` a 4-D float32 Tensor or U8Batch. ``params``
    is aligned with ``pipe._items()``; a transform's entry that is None is drawn from ``rng`` for the whole batch."""
    items = pipe._items()
    last_image = first + x.shape[0]
    cur, normalized = x, False
    segs = segments(items)
    for k, seg in enumerate(segs):
        if isinstance(seg, int):
            if isinstance(cur, U8Batch):
                cur = _execute(pipe, cur, [], False, cur.shape[1:])
            cur = _call(items[seg], cur)
            continue
        shape = tuple(cur.shape[1:])
        if params[seg[0]] is None:
            if rng is None:
                raise ValueError("params given without the entries of some transforms; pass the full params_")
            sh = shape
            for i in seg:
                params[i] = items[i].generate(n_total, sh, rng)
                sh = items[i].output_shape(sh)
        stages, sh = [], shape
        for i in seg:
            stages += items[i].stages(items[i].select(params[i], first, last_image), sh)
            sh = items[i].output_shape(sh)
        normalized = engine.check_order(stages, pipe.clip, normalized, out_u8 and k == len(segs) - 1)
        cur = _execute(pipe, cur, stages, out_u8 and k == len(segs) - 1, sh)
    if out_u8 and not isinstance(cur, U8Batch):  # a callable came last (or nothing ran)
        engine.check_order([], pipe.clip, normalized, True)
        cur = _execute(pipe, cur, [], True, cur.shape[1:])
    return cur


def bytes_per_image(pipe, shape, layout: str | None, out_u8: bool) -> int:
    """The largest device buffer the pipeline needs, per image of ``shape`` (C, H, W) (parameters drawn for one
    image from a throwaway generator: buffer sizes do not depend on the values). A callable is assumed to keep
    the size."""
    c, h, w = shape
    best = {None: 4 * c * h * w, "u8": c * h * w + 4, "u8px": 4 * h * w}[layout]
    items, rng, sh = pipe._items(), random.Random(0), tuple(shape)
    segs = segments(items)
    for k, seg in enumerate(segs):
        if isinstance(seg, int):
            best = max(best, 4 * sh[0] * sh[1] * sh[2])
            continue
        stages, out = [], sh
        for i in seg:
            stages += items[i].stages(items[i].generate(1, out, rng), out)
            out = items[i].output_shape(out)
        passes = plan(stages, 1, sh[1:])
        best = max(best, len(pack(passes, 1)[0]))
        for j, ps in enumerate(passes):
            plane = ps.out_hw[0] * ps.out_hw[1]
            u8_here = out_u8 and k == len(segs) - 1 and j == len(passes) - 1
            if not u8_here or len(ps.segments) > 1:
                best = max(best, 4 * sh[0] * plane)
            if len(ps.segments) > 1:
                best = max(best, 4 * -(-plane // 4))
        sh = out
    return max(best, 4 * sh[1] * sh[2]) if out_u8 else best


def images_per_chunk(pipe, device, shape, layout: str | None, out_u8: bool) -> int:
    per, limit = bytes_per_image(pipe, shape, layout, out_u8), device.max_binding_bytes
    if per > limit:
        raise ValueError(
            f"{type(pipe).__name__}: one {shape} image needs a {per:,}-byte buffer, over this adapter's "
            f"max_storage_buffer_binding_size ({limit:,} bytes)"
        )
    return limit // per


def check_host_range(pipe, arr) -> None:
    """Float images must lie in the pipeline's value_range (a NaN never does); uint8 images need value_range
    (0, 1), the range they are read into (byte / 255)."""
    import numpy as np

    lo, hi = pipe.value_range
    name = type(pipe).__name__
    if arr.dtype == np.uint8:
        if (lo, hi) != (0.0, 1.0):
            raise ValueError(
                f"{name}: uint8 images are read as byte / 255, in [0, 1]; value_range={pipe.value_range} is for "
                "float images (pass floats in that range)"
            )
        return
    if not arr.size:
        return
    found = (float(np.min(arr)), float(np.max(arr)))
    if found[0] != found[0] or found[1] != found[1]:
        raise ValueError(f"{name}: the images contain NaN")
    if found[0] < lo or found[1] > hi:
        raise ValueError(
            f"{name}: float images must lie in value_range [{lo:g}, {hi:g}], found [{found[0]:g}, {found[1]:g}]; "
            "scale them (e.g. x / 255), pass uint8 images, or declare the range: Compose([...], value_range=(lo, hi))"
        )


def check_tensor_range(pipe, x: Tensor) -> None:
    """check_host_range for a device tensor: a min / max reduction and one small readback."""
    from ..ops import reduce

    lo, hi = pipe.value_range
    found = (float(reduce.min(x).item()), float(reduce.max(x).item()))
    if found[0] != found[0] or found[1] != found[1] or found[0] < lo or found[1] > hi:
        raise ValueError(
            f"{type(pipe).__name__}: float images must lie in value_range [{lo:g}, {hi:g}], found "
            f"[{found[0]:g}, {found[1]:g}]"
        )
