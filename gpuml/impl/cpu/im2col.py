"""The numpy backend's im2col convolutions (``algo="im2col"``, what ``"auto"`` runs on the cpu device).

Two column layouts, both over chunks of whole images so that every GEMM is one batched ``np.matmul`` over chunks of
at most :data:`CHUNK_COLUMNS` columns (OpenBLAS runs these skinny GEMMs, 6-80 rows, much faster on a few thousand
columns per call than on one matrix of all the columns; benchmarks/RESULTS.md, "numpy backend vs PyTorch (issue
20.3)"):

- *tap columns*: one row per (c, kh, kw) tap, as classic im2col; any stride. The forward GEMM carries the bias as a
  row of ones; the backward's col2im adds KH * KW strided blocks.
- *row columns* (stride 1, when Cg*KH + KW*OCg < 2*Cg*KH*KW, e.g. LeNet's two): one row per (c, kh, r) for the
  first s taps r of a kernel row, KW / s times fewer column rows to copy. The forward GEMM yields one partial output
  per group q of s taps (kw = q * s + r; weights past KW are zero), summed with Q - 1 shifted adds; the backward
  builds the Q shifted copies of grad_out once, and both gradients are one GEMM each with it, so col2im adds only
  KH * s blocks; without the input gradient, grad_w is Q GEMMs over shifted views (no copies). s is 1 unless
  Cg * KH is too shallow a GEMM (:data:`ROW_DEPTH`; LeNet's conv1: s = 3, Q = 2). Non-finite inputs take s = 1 in
  the forward (a zero weight past KW would meet them) and the tap columns in the backward (their garbage columns
  are masked there). The forward's row of ones (the bias) gives the backward's bias gradient in its GEMM.

Columns run over (image in chunk, oh, ow) with full padded rows when the W stride is 1 (:func:`row_width`): tap
runs are OH * Wp contiguous floats; the Wp - OW garbage columns per row are never read back, zero in grad_out's
layout, and make the kw shifts of the row layout wrap onto zeros.
"""

from __future__ import annotations

import copy
import functools

import numpy as np

from . import threads
from .threads import Offload, split

CHUNK_COLUMNS = 3600  # at most this many columns per chunk GEMM (whole images: nc divides N)
BLOCK_BYTES = 3 << 19  # a range runs in blocks of chunks whose columns and GEMM outputs take about this much
# Multiply-adds an op needs before its GEMMs go to a worker thread: LeNet-5's (9-43 M per op at batch 64) ran no
# faster on two threads on the 2-core VM at any load measured but a heavy one (benchmarks/RESULTS.md, issue 20.3)
PIPELINE_MACS = 1 << 28
# ... but a backward with an input gradient hands its weight-gradient GEMMs over from this many (LeNet's conv2,
# 43 M): the caller's input-gradient GEMMs and col2im run meanwhile; with the second core idle LeNet's step ran 7%
# faster, with it busy 4-9% slower, hence threads.cpu_to_spare (benchmarks/RESULTS.md, "numpy backend: LeNet-5
# step on two threads")
STAGED_MACS = 1 << 25
# Row columns take s taps of a kernel row per row when Cg * KH alone is a shallower GEMM than this: LeNet's conv1
# (Cg * KH = 5) forward 0.90-0.92x and backward 0.96x of s = 1 in isolated A/Bs; its conv2 (30) is best at s = 1
# (benchmarks/RESULTS.md, "numpy backend: LeNet-5 step on two threads")
ROW_DEPTH = 16


def _pipeline(p: _Plan, rows: int, macs: int, pre, gemm, post, staged: bool = False) -> None:
    """The op over blocks of whole chunks of about BLOCK_BYTES (``rows`` column-matrix rows per chunk counted:
    columns, GEMM outputs), so a block's arrays stay in the core's L2 cache between the copy that fills them and
    the GEMM that reads them. Per block: ``st = pre(c0, c1)`` (copies), ``gemm(st)``, then ``post(st)`` unless
    None. On several threads the GEMMs run on a worker (:class:`Offload`): one block behind the caller's copies (a
    software pipeline), or, ``staged`` (``post`` does not read what ``gemm`` writes), all of them in one hand-over
    after every ``pre`` while the caller runs the ``post``s (with no ``post``, half the GEMMs). Per-chunk results
    are the same however chunks are grouped and whoever runs them (batched GEMMs, one per chunk), so every thread
    count gives the same bits. Ops under PIPELINE_MACS multiply-adds (``macs``; staged with a ``post``, under the
    smaller of it and STAGED_MACS), or while no CPU is idle (:func:`threads.cpu_to_spare`), run on the calling
    thread alone."""
    per = max(1, BLOCK_BYTES // max(1, rows * p.cols * 4))
    blocks = split(p.nb, -(-p.nb // per))
    limit = min(PIPELINE_MACS, STAGED_MACS) if staged and post is not None else PIPELINE_MACS
    with Offload(macs >= limit and threads.threads() > 1 and threads.cpu_to_spare()) as off:
        if not off.on:
            for c0, c1 in blocks:
                st = pre(c0, c1)
                gemm(st)
                if post is not None:
                    post(st)
            return
        if staged:
            sts = [pre(c0, c1) for c0, c1 in blocks]
            mine = [] if post is not None else sts[: len(sts) // 2]
            task = off.submit(functools.partial(_each, gemm, sts[len(mine) :]))
            _each(gemm, mine)
            if post is not None:
                _each(post, sts)
            task.wait()
            return
        last = None
        for c0, c1 in blocks:
            st = pre(c0, c1)
            task = off.submit(functools.partial(gemm, st))
            if last is not None:
                last[0].wait()
                post(last[1])
            last = (task, st)
        last[0].wait()
        post(last[1])


def _each(fn, items) -> None:
    for item in items:
        fn(item)


def row_width(g) -> int:
    """Columns per output row: with stride 1 along W every output row spans the full padded width Wp (its last
    Wp - OW columns are garbage), so a tap's columns are one contiguous run of OH * Wp input floats per image:
    memcpy-speed copies, much faster than row-by-row ones of OW floats (benchmarks/RESULTS.md, "conv auto
    rule"). Strided rows use the exact OW."""
    return g.W + 2 * g.pw if g.sw == 1 else g.OW


class _Plan:
    """Sizes and element strides of the chunked column layouts of one geometry (cached per ConvGeometry)."""

    def __init__(self, g, s: int | None = None):
        self.N, self.C, self.G, self.Cg, self.OC, self.OCg = g.N, g.C, g.G, g.Cg, g.OC, g.OCg
        self.K, self.KH, self.KW, self.OH, self.OW, self.dh, self.dw = g.K, g.KH, g.KW, g.OH, g.OW, g.dh, g.dw
        self.H, self.W, self.ph, self.pw = g.H, g.W, g.ph, g.pw
        self.key = g
        self.rw = row_width(g)
        self.hp, self.wp = g.H + 2 * g.ph, g.W + 2 * g.pw
        p = self.plane = self.hp * self.wp
        self.size = g.N * g.C * p
        self.slack = (g.KW - 1) * g.dw  # a window starting in the last plane's garbage columns reads this far past it
        pn = g.OH * self.rw
        self.nc = max([d for d in range(1, g.N + 1) if g.N % d == 0 and d * pn <= CHUNK_COLUMNS] or [1])
        self.nb = g.N // self.nc if g.N else 0
        self.cols = self.nc * pn
        # tap columns: (chunk, group, channel, kh, kw, image in chunk, oh, ow) -> element offset in the padded planes
        self.col_strides = (self.nc * g.C * p, g.Cg * p, p, g.dh * self.wp, g.dw, g.C * p, g.sh * self.wp, g.sw)
        self.col_shape = (self.nb, g.G, g.Cg, g.KH, g.KW, self.nc, g.OH, self.rw)
        # col2im: one tap's (chunk, group, channel, image in chunk, oh, ow) in the padded planes
        self.tap_strides = (self.nc * g.C * p, g.Cg * p, p, g.C * p, g.sh * self.wp, g.sw)
        self.tap_offsets = [(kh, kw, kh * g.dh * self.wp + kw * g.dw) for kh in range(g.KH) for kw in range(g.KW)]
        # row columns copy KW times fewer rows than taps but their GEMM writes KW times more: they won up to
        # Cg*KH + KW*OCg = 1.8 K and lost from 2.3 K (strided tap copies cost more than contiguous GEMM writes;
        # benchmarks/RESULTS.md, "numpy backend: cheaper LeNet-5 convolutions")
        self.rows = g.sh == g.sw == 1 and g.Cg * g.KH + g.KW * g.OCg < 2 * g.K
        if s is None:  # the fewest groups Q of s taps that make the GEMM ROW_DEPTH deep, s as small as Q allows
            s = min(g.KW, -(-ROW_DEPTH // (g.Cg * g.KH))) if self.rows else 1
            s = -(-g.KW // -(-g.KW // s))
        self.s, self.q, self.rr = s, -(-g.KW // s), g.Cg * g.KH * s
        # row columns: (chunk, group, channel, kh, r, image in chunk, oh * Wp + ow)
        self.row_shape = (self.nb, g.G, g.Cg, g.KH, s, self.nc, pn)
        self.row_strides = (self.nc * g.C * p, g.Cg * p, p, g.dh * self.wp, g.dw, g.C * p, 1)
        self._parts: dict = {}

    def part(self, c0: int, c1: int) -> _Plan:
        """This plan over chunks ``c0 .. c1`` only (images ``c0 * nc .. c1 * nc``): the same chunks, fewer."""
        sub = self._parts.get(c1 - c0)
        if sub is None:
            sub = self._parts[c1 - c0] = copy.copy(self)
            sub.N, sub.nb = (c1 - c0) * self.nc, c1 - c0
            sub.size = sub.N * self.C * self.plane
            sub.col_shape = (sub.nb, *self.col_shape[1:])
            sub.row_shape = (sub.nb, *self.row_shape[1:])
            sub._parts = {}
        return sub


_PLANS: dict = {}


def plan(g, s: int | None = None) -> _Plan:
    """The plan of ``g`` (``s`` taps per row of the row columns: the rule's unless given)."""
    p = _PLANS.get((g, s))
    if p is None:
        if len(_PLANS) > 512:  # geometries seen in one process are few; bound it anyway
            _PLANS.clear()
        p = _PLANS[(g, s)] = _Plan(g, s)
    return p


# The forward's column matrix, kept for the backward of the same input (LeNet's conv1: not rebuilt). Valid
# only for an input equal to the saved copy (checked exactly: a pass over x, 1/25 of the columns); bounded in size.
KEEP_COLUMNS_BYTES = 32 << 20
_KEPT: dict = {}


def _keep(key, x, cols) -> None:
    if cols.nbytes <= KEEP_COLUMNS_BYTES:
        _KEPT.pop(key, None)
        while len(_KEPT) >= 4:  # the last 4 layers' columns: the first backwards of a deeper network
            _KEPT.pop(next(iter(_KEPT)), None)
        _KEPT[key] = (x.copy(), cols)


def _kept(key, x, rows: int):
    entry = _KEPT.get(key)
    if entry is not None and entry[0].shape == x.shape and np.array_equal(entry[0], x):
        return entry[1][:, :, :rows]
    return None


def _strided(buf, shape, strides, offset: int = 0):
    """A view of the flat contiguous ``buf`` with element ``strides`` from element ``offset`` (the ndarray
    constructor: a tenth of ``as_strided``'s Python cost, and it checks the view stays inside ``buf``)."""
    e = buf.itemsize
    return np.ndarray(shape, buf.dtype, buf, offset * e, tuple(s * e for s in strides))


def _padded(x, p: _Plan):
    """``x`` zero-padded as (N, C, Hp * Wp) planes in one flat buffer, with ``p.slack`` zeros after them."""
    if p.ph == 0 and p.pw == 0:
        buf = np.empty(p.size + p.slack, x.dtype)
        buf[: p.size] = x.reshape(-1)
        buf[p.size :] = 0
    else:
        buf = np.zeros(p.size + p.slack, x.dtype)
        buf[: p.size].reshape(p.N, p.C, p.hp, p.wp)[:, :, p.ph : p.ph + p.H, p.pw : p.pw + p.W] = x
    return buf


def _fill_taps(x, p: _Plan, cols, buf=None, at: int = 0) -> None:
    """Tap columns of ``x`` (p's images) into ``cols[:, :, :K]``; from ``buf`` (x's padded planes, p's images from
    element ``at``) when given."""
    view = _strided(_padded(x, p) if buf is None else buf, p.col_shape, p.col_strides, at)
    np.copyto(np.reshape(cols[:, :, : p.K], p.col_shape, copy=False), view)


def _fill_rows(x, p: _Plan, cols, buf=None, at: int = 0) -> None:
    """Row columns of ``x`` (p's images) into ``cols[:, :, :Cg * KH * s]``: row (c, kh, r) holds the padded rows
    kh * dh ... of channel c from column r * dw on; from ``buf`` (as :func:`_fill_taps`) when given."""
    view = _strided(_padded(x, p) if buf is None else buf, p.row_shape, p.row_strides, at)
    np.copyto(np.reshape(cols[:, :, : p.rr], p.row_shape, copy=False), view)


def tap_columns(x, g, extra: int = 0):
    """(chunks, G, K + extra, nc * OH * RW): k = (c, kh, kw), one strided copy of the padded planes. The ``extra``
    rows after the K are left unwritten (the forward's row of ones that carries the bias)."""
    p = plan(g)
    cols = np.empty((p.nb, p.G, p.K + extra, p.cols), x.dtype)
    _fill_taps(x, p, cols)
    return cols


def _row_weights(w, p: _Plan):
    """w as (G, Q * OCg, Cg * KH * s): row (q, o), column (c, kh, r) holds tap kw = q * s + r (zero past KW)."""
    wq = np.zeros((p.G, p.OCg, p.Cg, p.KH, p.q * p.s), w.dtype)
    wq[..., : p.KW] = w.reshape(p.G, p.OCg, p.Cg, p.KH, p.KW)
    wq = wq.reshape(p.G, p.OCg, p.Cg, p.KH, p.q, p.s).transpose(0, 4, 1, 2, 3, 5)
    return np.ascontiguousarray(wq).reshape(p.G, p.q * p.OCg, p.rr)


def _store(src, out, p: _Plan, relu: bool) -> None:
    """The (chunks, G, OCg, nc * OH * RW) GEMM output into NCHW ``out``, garbage columns dropped, ReLU on the way
    (np.maximum keeps NaN)."""
    src = np.reshape(src, (p.nb, p.G, p.OCg, p.nc, p.OH, p.rw), copy=False)[..., : p.OW].transpose(0, 3, 1, 2, 4, 5)
    dst = out.reshape(p.nb, p.nc, p.G, p.OCg, p.OH, p.OW)
    if relu:
        np.maximum(src, 0, out=dst)
    else:
        np.copyto(dst, src)


def conv2d(x, w, b, g, relu: bool):
    """The forward: NCHW output in the result type of x and w. Blocks of chunks of images, their GEMMs on a worker
    thread where there are several (:func:`_pipeline`); the columns of all of them are kept for the backward."""
    dtype = np.result_type(x, w)
    out = np.empty(g.out_shape, dtype)
    if not g.N or not g.OC:  # no images or filters: nothing to multiply
        out[...] = 0 if b is None else b.reshape(1, -1, 1, 1)
        if relu:
            np.maximum(out, 0, out=out)
        return out
    p = plan(g)
    if p.s > 1 and not _finite(x):  # the zero weights past KW would meet a NaN / Inf: 0 * Inf is NaN
        p = plan(g, 1)
    extra = 0 if b is None else 1
    if p.rows:
        wm, fill = _row_weights(w, p), _fill_rows
        if extra:  # the bias joins the q = 0 partial outputs
            bias = np.zeros((p.G, p.q * p.OCg, 1), wm.dtype)
            bias[:, : p.OCg, 0] = b.reshape(p.G, p.OCg)
            wm = np.concatenate([wm, bias], axis=2)
        cols = np.empty((p.nb, p.G, p.rr + extra, p.cols), x.dtype)
    else:
        wm, fill = w.reshape(p.G, p.OCg, p.K), _fill_taps
        if extra:
            wm = np.concatenate([wm, b.reshape(p.G, p.OCg, 1).astype(wm.dtype)], axis=2)
        cols = np.empty((p.nb, p.G, p.K + extra, p.cols), x.dtype)

    buf = _padded(x, p)  # once: a block's windows read into the next block's planes only in garbage columns

    def pre(c0: int, c1: int) -> list:
        sp = p.part(c0, c1)
        cp = cols[c0:c1]
        fill(None, sp, cp, buf, c0 * p.nc * p.C * p.plane)
        if extra:
            cp[:, :, -1] = 1
        return [c0, c1, sp, cp, None]

    def gemm(st: list) -> None:
        st[4] = np.matmul(wm, st[3])  # (chunks, G, OCg or Q * OCg, cols)

    def post(st: list) -> None:
        c0, c1, sp, _, y = st
        if p.rows:  # y[o, j] = sum over q of part q at j + q * s * dw (the chunk's last columns are garbage)
            y = y.reshape(sp.nb, p.G, p.q, p.OCg, p.cols)
            acc = y[:, :, 0]
            n = p.cols - (p.q - 1) * p.s * p.dw
            for q in range(1, p.q):
                head, d = acc[..., :n], q * p.s * p.dw
                np.add(head, y[:, :, q, :, d : d + n], out=head)
            y = acc
        _store(y, out[c0 * p.nc : c1 * p.nc], sp, relu)

    macs = p.nb * p.G * wm.shape[1] * wm.shape[2] * p.cols
    _pipeline(p, cols.shape[2] + p.G * wm.shape[1], macs, pre, gemm, post)
    _keep((g, "rows", p.s) if p.rows else (g, "taps"), x, cols)
    return out


def _grad_rows(gy, p: _Plan, out=None):
    """grad_out in the column layout, (chunks, G, OCg, nc * OH * RW), zeros in the garbage columns; into ``out``
    (that shape, rows contiguous) when given."""
    if out is None:
        out = np.empty((p.nb, p.G, p.OCg, p.cols), gy.dtype)
    gyr = np.reshape(out, (p.nb, p.G, p.OCg, p.nc, p.OH, p.rw), copy=False)
    gyr[..., p.OW :] = 0
    gyr[..., : p.OW] = gy.reshape(p.nb, p.nc, p.G, p.OCg, p.OH, p.OW).transpose(0, 2, 3, 1, 4, 5)
    return out


def _finite(*arrays) -> bool:
    """All finite, by one sum each (finite iff every term is, unless it overflows: then False, which is safe)."""
    with np.errstate(all="ignore"):
        return all(np.isfinite(np.sum(a)) for a in arrays)


def conv2d_backward(x, w, gy, g, input_grad: bool, grad_w, grad_b):
    """(grad_x or None, grad_w, grad_b) into ``grad_w`` (w's shape) and ``grad_b`` (OC,). grad_out is spread
    over the column layout with zeros in the garbage columns, so they add nothing to grad_w and col2im adds exact
    zeros where a garbage column's window wraps into the next row or plane. Blocks of chunks (:func:`_pipeline`);
    each writes its chunks' weight gradients and its images' bias sums, added up after in chunk order."""
    p = plan(g)
    if not g.N:
        grad_b[...] = 0
        grad_w[...] = 0
        return (np.zeros(x.shape, x.dtype) if input_grad else None), grad_w, grad_b
    gx = np.empty(x.shape, np.result_type(w, gy)) if input_grad else None
    dtype = np.result_type(x, gy)
    if p.rows:
        _backward_rows(x, w, gy, p, grad_b, grad_w, gx, dtype)
    # grad_w of the row columns multiplies every input and grad_out value (garbage columns included): a non-finite
    # one makes it non-finite, so a finite grad_w is right (a check far smaller than x and grad_out); grad_x also
    # reads every weight (w checked, as small). Else the tap columns, which mask what the garbage columns read
    if not p.rows or not _finite(grad_w, *(() if gx is None else (w,))):
        bsum = np.empty((g.N, g.OC), gy.dtype)  # per image: summed over images after the parts
        _backward_taps(x, w, gy, p, bsum, grad_w, gx, dtype)
        bsum.sum(axis=0, out=grad_b)
    return gx, grad_w, grad_b


def _bias_sums(gy, out) -> None:
    n, oc = out.shape
    np.sum(gy.reshape(n, oc, -1), axis=2, out=out)


def _backward_taps(x, w, gy, p: _Plan, bsum, grad_w, gx, dtype) -> None:
    kept = _kept((p.key, "taps"), x, p.K)
    # the garbage columns read inputs outside each row's receptive field: 0 * NaN/Inf there would reach grad_w
    mask = p.rw != p.OW and not np.isfinite(x).all()
    gwc = np.empty((p.nb, p.G, p.K, p.OCg), dtype)
    wt = w.reshape(p.G, p.OCg, p.K).transpose(0, 2, 1)

    def pre(c0: int, c1: int) -> list:
        sp, n0, n1 = p.part(c0, c1), c0 * p.nc, c1 * p.nc
        _bias_sums(gy[n0:n1], bsum[n0:n1])
        gyr = _grad_rows(gy[n0:n1], sp)
        if kept is not None:
            cols = kept[c0:c1]
        else:
            cols = np.empty((sp.nb, p.G, p.K, p.cols), x.dtype)  # (chunks, G, K, cols)
            _fill_taps(x[n0:n1], sp, cols)
        if mask:
            np.reshape(cols, (*sp.col_shape[:3], p.KH * p.KW, p.nc, p.OH, p.rw), copy=False)[..., p.OW :] = 0
        return [c0, c1, sp, gyr, cols]

    def gemm(st: list) -> None:  # (cols @ gyr^T) per chunk: OpenBLAS runs K x OCg faster than gyr @ cols^T
        c0, c1, _, gyr, cols = st
        np.matmul(cols, gyr.transpose(0, 1, 3, 2), out=gwc[c0:c1])

    def post(st: list) -> None:
        c0, c1, sp, gyr, _ = st
        dcols = np.matmul(wt, gyr)  # (chunks, G, K, cols)
        dcols = dcols.reshape(sp.nb, p.G, p.Cg, p.KH, p.KW, p.nc, p.OH, p.rw)
        gbuf = np.zeros(sp.size + p.slack, dcols.dtype)  # its own slack: a block never writes into another's planes
        shape = (sp.nb, p.G, p.Cg, p.nc, p.OH, p.rw)
        for kh, kw, start in p.tap_offsets:  # col2im: every tap's columns added onto the planes they were read from
            tap = _strided(gbuf, shape, p.tap_strides, start)
            np.add(tap, dcols[:, :, :, kh, kw], out=tap)
        _crop(gbuf, sp, gx[c0 * p.nc : c1 * p.nc])

    rows = p.G * (p.K * (1 if gx is None else 2) + p.OCg)
    macs = p.nb * p.G * p.K * p.OCg * p.cols * (1 + (gx is not None))
    _pipeline(p, rows, macs, pre, gemm, None if gx is None else post, staged=True)
    np.copyto(grad_w.reshape(p.G, p.OCg, p.K), gwc.sum(axis=0).transpose(0, 2, 1))


def _crop(gbuf, p: _Plan, out) -> None:
    gxp = gbuf[: p.size].reshape(p.N, p.C, p.hp, p.wp)
    np.copyto(out, gxp[:, :, p.ph : p.ph + p.H, p.pw : p.pw + p.W])


def _backward_rows(x, w, gy, p: _Plan, grad_b, grad_w, gx, dtype) -> None:
    """Row columns: the Q shifted copies of grad_out, row (q, o) = grad_out[o] delayed by q * s * dw columns (zeros
    shift in: the previous row's garbage columns, or the chunk's start); grad_w = shifted @ rows^T and the input
    gradient's (c, kh, r) rows = w @ shifted, added onto the planes in KH * s shifted blocks. The columns carry a
    row of ones (the forward's, for the bias): its grad_w column is the bias gradient."""
    rr = p.rr
    kept = _kept((p.key, "rows", p.s), x, rr + 1)
    if kept is not None and kept.shape[2] == rr:  # a forward without bias: no row of ones
        kept = None
    gwc = np.empty((p.nb, p.G, p.q * p.OCg, rr + 1), dtype)  # per chunk: (G, (q, o), (c, kh, r) and the ones)
    wr = None if gx is None else _row_weights(w, p).transpose(0, 2, 1)

    def pre(c0: int, c1: int) -> list:
        sp, n0, n1 = p.part(c0, c1), c0 * p.nc, c1 * p.nc
        sh = None
        if gx is None:
            gyr = _grad_rows(gy[n0:n1], sp)
        else:  # the input gradient's GEMM reads the shifted copies; grad_out is the q = 0 one, written in place
            sh = np.empty((sp.nb, p.G, p.q, p.OCg, p.cols), gy.dtype)
            gyr = _grad_rows(gy[n0:n1], sp, sh[:, :, 0])
            for q in range(1, p.q):
                d = q * p.s * p.dw
                sh[:, :, q, :, :d] = 0
                sh[:, :, q, :, d:] = gyr[..., : p.cols - d]
            sh = sh.reshape(sp.nb, p.G, p.q * p.OCg, p.cols)
        if kept is not None:
            rows = kept[c0:c1]
        else:
            rows = np.empty((sp.nb, p.G, rr + 1, p.cols), x.dtype)
            _fill_rows(x[n0:n1], sp, rows)
            rows[:, :, rr] = 1
        return [c0, c1, sp, sh, (gyr, rows)]

    def gemm(st: list) -> None:
        c0, c1, _, sh, (gyr, rows) = st
        if sh is not None:  # one GEMM (faster than Q of a Q-th the rows)
            np.matmul(sh, rows.transpose(0, 1, 3, 2), out=gwc[c0:c1])
            return
        # grad_w's q block: grad_out against the rows read q * s * dw columns on, one GEMM over views (no shifted
        # copies); the chunk's last columns it drops are garbage ones, zero in grad_out
        out = gwc[c0:c1].reshape(c1 - c0, p.G, p.q, p.OCg, rr + 1)
        for q in range(p.q):
            d = q * p.s * p.dw
            np.matmul(gyr[..., : p.cols - d], rows[..., d:].transpose(0, 1, 3, 2), out=out[:, :, q])

    def post(st: list) -> None:  # the input gradient's GEMM here: the caller's share while the worker runs gemm
        c0, c1, sp, sh, _ = st
        drows = np.matmul(wr, sh)  # (chunks, G, (c, kh, r), cols)
        drows = drows.reshape(sp.nb, p.G, p.Cg, p.KH, p.s, p.nc, p.cols // p.nc)
        gbuf = np.zeros(sp.size + p.slack, drows.dtype)  # its own slack: the r > 0 blocks reach past the planes
        shape, strides = sp.row_shape[:3] + sp.row_shape[5:], p.row_strides[:3] + p.row_strides[5:]
        for kh in range(p.KH):  # each (c, kh, r) row block added onto the planes kh * dh rows down, r * dw on
            for r in range(p.s):
                blk = _strided(gbuf, shape, strides, kh * p.dh * p.wp + r * p.dw)
                np.add(blk, drows[:, :, :, kh, r], out=blk)
        _crop(gbuf, sp, gx[c0 * p.nc : c1 * p.nc])

    rows = p.G * (rr + 1 + p.OCg if gx is None else 2 * rr + 1 + (p.q + 1) * p.OCg)
    macs = p.nb * p.G * p.q * p.OCg * rr * p.cols * (1 + (gx is not None))
    _pipeline(p, rows, macs, pre, gemm, None if gx is None else post, staged=True)
    gw = gwc.sum(axis=0)  # (G, (q, o), (c, kh, r) and the ones)
    np.copyto(grad_b.reshape(p.G, p.OCg), gw[:, : p.OCg, rr])
    gw = gw[:, :, :rr].reshape(p.G, p.q, p.OCg, p.Cg, p.KH, p.s).transpose(0, 2, 3, 4, 1, 5)
    np.copyto(
        grad_w.reshape(p.G, p.OCg, p.Cg, p.KH, p.KW),
        gw.reshape(p.G, p.OCg, p.Cg, p.KH, p.q * p.s)[..., : p.KW],
    )
