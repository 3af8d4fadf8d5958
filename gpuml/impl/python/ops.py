"""Pure-Python twins of the ops, for the ``python`` backend (no numpy, no WebGPU; see gpuml/backends/python.py).

Each function takes and returns python-backend tensors and follows the numpy twin's semantics (float32 storage,
float64 arithmetic in between). Hot loops are dot products over Python lists with ``math.sumprod`` (C speed on
Python >= 3.12, which Pyodide has), so convolution and matmul build rows (im2col patches, weight rows) and dot
them; everything else is list comprehensions. Correct first, fast enough for the browser page's small work.
"""

from __future__ import annotations

import math
import operator

from ...tensor import Tensor

try:
    dot = math.sumprod  # Python >= 3.12
except AttributeError:  # pragma: no cover - depends on the Python version

    def dot(a, b):
        return sum(map(operator.mul, a, b))


INF = math.inf


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def _log(x):
    if x > 0:
        return math.log(x)
    return -INF if x == 0 else math.nan


def _sqrt(x):
    return math.sqrt(x) if x >= 0 else math.nan


def _div(a, b):
    if b:
        return a / b
    if a != a or a == 0:
        return math.nan
    return math.copysign(INF, a) * math.copysign(1.0, b)


def _tanh(x):
    return math.tanh(x)


def _sigmoid(x):
    return 1.0 / (1.0 + _exp(-x))


# op name -> f(x, alpha, beta), the same table of ops as elementwise.UNARY
UNARY = {
    "neg": lambda x, a, b: -x,
    "relu": lambda x, a, b: x if x > 0 else 0.0,
    "exp": lambda x, a, b: _exp(x),
    "log": lambda x, a, b: _log(x),
    "sqrt": lambda x, a, b: _sqrt(x),
    "abs": lambda x, a, b: abs(x),
    "square": lambda x, a, b: x * x,
    "tanh": lambda x, a, b: _tanh(x),
    "sigmoid": lambda x, a, b: _sigmoid(x),
    "scale": lambda x, a, b: x * a,
    "add_scalar": lambda x, a, b: x + a,
    "rsub_scalar": lambda x, a, b: a - x,
    "rdiv_scalar": lambda x, a, b: _div(a, x),
    "clip": lambda x, a, b: min(max(x, a), b),
    "leaky_relu": lambda x, a, b: x if x > 0 else x * a,
    "rsqrt_eps": lambda x, a, b: _div(1.0, _sqrt(x + a)),
}

# op name -> f(a, b, alpha), the same table as elementwise.BINARY
BINARY = {
    "add": lambda a, b, al: a + b,
    "sub": lambda a, b, al: a - b,
    "mul": lambda a, b, al: a * b,
    "div": lambda a, b, al: _div(a, b),
    "maximum": lambda a, b, al: a if a >= b else b,
    "minimum": lambda a, b, al: a if a <= b else b,
    "axpy": lambda a, b, al: al * a + b,
    "add_relu": lambda a, b, al: max(a + b, 0.0),
    "relu_grad": lambda a, b, al: a if b > 0 else 0.0,
    "guided_relu_grad": lambda a, b, al: a if (b > 0 and a > 0) else 0.0,
    "tanh_grad": lambda a, b, al: a * (1.0 - b * b),
    "sigmoid_grad": lambda a, b, al: a * b * (1.0 - b),
}


def _out(values, shape, device, dtype="float32") -> Tensor:
    return Tensor.from_values(values, shape, device, dtype)


# --- elementwise ----------------------------------------------------------------------------------------------------
def unary(op: str, x: Tensor, alpha: float, beta: float) -> Tensor:
    f = UNARY[op]
    if op == "relu":
        return _out([v if v > 0 else 0.0 for v in x.values()], x.shape, x.device)
    if op == "scale":
        return _out([v * alpha for v in x.values()], x.shape, x.device)
    return _out([f(v, alpha, beta) for v in x.values()], x.shape, x.device)


def gather_index(shape: tuple[int, ...], strides: list[int]) -> list[int]:
    """Flat source index of every element of ``shape`` (row-major) for per-axis ``strides`` (0 = broadcast)."""
    idx = [0]
    for d, s in zip(shape, strides, strict=True):
        steps = [k * s for k in range(d)]
        idx = [i + o for i in idx for o in steps]
    return idx


def binary(op: str, a: Tensor, b: Tensor, alpha: float, shape: tuple[int, ...], strides_a, strides_b) -> Tensor:
    f = BINARY[op]
    av, bv = a.values(), b.values()
    if a.shape != shape:
        av = [av[i] for i in gather_index(shape, strides_a)]
    if b.shape != shape:
        bv = [bv[i] for i in gather_index(shape, strides_b)]
    if op == "add":
        vals = list(map(operator.add, av, bv))
    elif op == "mul":
        vals = list(map(operator.mul, av, bv))
    elif op == "sub":
        vals = list(map(operator.sub, av, bv))
    else:
        vals = [f(p, q, alpha) for p, q in zip(av, bv, strict=True)]
    return _out(vals, shape, a.device)


def fill(out: Tensor, value) -> Tensor:
    out.words()[:] = Tensor.from_values([value] * out.size, out.shape, out.device, out.dtype_name).words()
    return out


# --- layout ---------------------------------------------------------------------------------------------------------
def transpose(x: Tensor, axes: tuple[int, ...], shape: tuple[int, ...], strides: list[int]) -> Tensor:
    vals = x.values()
    src = gather_index(shape, [strides[a] for a in axes])
    return _out([vals[i] for i in src], shape, x.device, x.dtype_name)


def copy_into(src: Tensor, dst: Tensor) -> Tensor:
    dst.words()[:] = src.words()
    return dst


def copy(x: Tensor) -> Tensor:
    return copy_into(x, Tensor.empty(x.shape, x.dtype_name, x.device))


# --- reductions -----------------------------------------------------------------------------------------------------
def reduce(kind: str, index: bool, x: Tensor, outer: int, r: int, inner: int, out_shape) -> Tensor:
    vals = x.values()
    rows = [vals[o * r * inner + i : (o + 1) * r * inner : inner] for o in range(outer) for i in range(inner)]
    if index:
        pick = max if kind == "max" else min
        return _out([row.index(pick(row)) for row in rows], out_shape, x.device, "int32")
    if kind in ("sum", "mean"):
        out = [math.fsum(row) for row in rows]
        if kind == "mean":
            out = [v / r for v in out]
    else:
        out = [(max if kind == "max" else min)(row) for row in rows]
    return _out(out, out_shape, x.device)


# --- linear algebra -------------------------------------------------------------------------------------------------
def _rows(vals: list, n_rows: int, length: int) -> list[list]:
    return [vals[i * length : (i + 1) * length] for i in range(n_rows)]


def matmul(a: Tensor, b: Tensor, batch_shape, m: int, k: int, n: int, final_shape, kernel=None) -> Tensor:
    """(batch..., m, k) @ (batch..., k, n); batch dimensions of size 1 (or missing) broadcast."""
    av, bv = a.values(), b.values()
    a_batch = a.shape[:-2] if a.ndim > 2 else ()
    b_batch = b.shape[:-2] if b.ndim > 2 else ()
    nd = len(batch_shape)

    def starts(bshape, size):
        full = (1,) * (nd - len(bshape)) + tuple(bshape)
        strides, acc = [], size
        for d in reversed(full):
            strides.append(0 if d == 1 else acc)
            acc *= d
        return gather_index(batch_shape, strides[::-1])

    out = []
    for sa, sb in zip(starts(a_batch, m * k), starts(b_batch, k * n), strict=True):
        a_rows = _rows(av[sa : sa + m * k], m, k)
        b_cols = [bv[sb + j : sb + k * n : n] for j in range(n)]
        for row in a_rows:
            out.extend([dot(row, col) for col in b_cols])
    return _out(out, final_shape, a.device)


def linear(x: Tensor, w: Tensor, b: Tensor | None, relu: bool) -> Tensor:
    """x (N, in) @ w (out, in)^T + b, optionally ReLU: rows of x dotted with rows of w."""
    n, k = x.shape
    o = w.shape[0]
    xr, wr = _rows(x.values(), n, k), _rows(w.values(), o, k)
    bias = b.values() if b is not None else [0.0] * o
    out = []
    for row in xr:
        y = [dot(row, wrow) + bb for wrow, bb in zip(wr, bias, strict=True)]
        out.extend([v if v > 0 else 0.0 for v in y] if relu else y)
    return _out(out, (n, o), x.device)


# --- convolution ----------------------------------------------------------------------------------------------------
def _planes(vals: list, base: int, channels: int, h: int, w: int, top: int, left: int, ph: int, pw: int) -> list:
    """``channels`` planes of an image starting at ``vals[base]``, each as a list of rows placed at (top, left)
    in a zero canvas of (ph, pw) (rows/columns falling outside are dropped: negative offsets crop)."""
    out = []
    zero_row = [0.0] * pw
    for c in range(channels):
        rows = [zero_row] * ph
        start = base + c * h * w
        for y in range(h):
            cy = y + top
            if 0 <= cy < ph:
                src = vals[start + y * w : start + (y + 1) * w]
                lo, hi = max(0, -left), min(w, pw - left)
                if lo >= hi:
                    continue
                rows[cy] = [0.0] * (left + lo) + src[lo:hi] + [0.0] * (pw - left - hi)
        out.append(rows)
    return out


def _patches(planes: list, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, oh: int, ow: int) -> list[list]:
    """im2col: one row per output pixel holding its receptive field (channel, ky, kx order)."""
    span = (kw - 1) * dw + 1
    out = []
    for y in range(oh):
        rows = [plane[y * sh + ky * dh] for plane in planes for ky in range(kh)]
        for x in range(ow):
            x0 = x * sw
            p = []
            if dw == 1:
                for r in rows:
                    p += r[x0 : x0 + span]
            else:
                for r in rows:
                    p += r[x0 : x0 + span : dw]
            out.append(p)
    return out


def conv2d(x: Tensor, w: Tensor, b: Tensor | None, g, relu: bool) -> Tensor:
    """Direct convolution as patches x weight rows (g: ops.conv.ConvGeometry)."""
    xv, wv = x.values(), w.values()
    bias = b.values() if b is not None else [0.0] * g.OC
    w_rows = _rows(wv, g.OC, g.K)
    hp, wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    out = [0.0] * (g.N * g.OC * g.P)
    for n in range(g.N):
        for grp in range(g.G):
            planes = _planes(xv, (n * g.C + grp * g.Cg) * g.H * g.W, g.Cg, g.H, g.W, g.ph, g.pw, hp, wp)
            patches = _patches(planes, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.OH, g.OW)
            for oc in range(grp * g.OCg, (grp + 1) * g.OCg):
                wr, bb = w_rows[oc], bias[oc]
                y = [dot(wr, p) + bb for p in patches]
                start = (n * g.OC + oc) * g.P
                out[start : start + g.P] = [v if v > 0 else 0.0 for v in y] if relu else y
    return _out(out, g.out_shape, x.device)


def conv2d_backward(x: Tensor, w: Tensor, gy: Tensor, g, input_grad: bool):
    """(grad_x or None, grad_w, grad_b). grad_w: patch columns dotted with grad_out rows; grad_x: a stride-1
    convolution of grad_out (zero-inserted for stride, padded by dilation*(k-1) - padding) with the flipped,
    channel-swapped weights."""
    xv, wv, gv = x.values(), w.values(), gy.values()
    hp, wp = g.H + 2 * g.ph, g.W + 2 * g.pw
    gw = [0.0] * (g.OC * g.K)
    gb = [math.fsum(gv[(n * g.OC + oc) * g.P + p] for n in range(g.N) for p in range(g.P)) for oc in range(g.OC)]
    for n in range(g.N):
        for grp in range(g.G):
            planes = _planes(xv, (n * g.C + grp * g.Cg) * g.H * g.W, g.Cg, g.H, g.W, g.ph, g.pw, hp, wp)
            cols = list(zip(*_patches(planes, g.KH, g.KW, g.sh, g.sw, g.dh, g.dw, g.OH, g.OW), strict=True))
            for oc in range(grp * g.OCg, (grp + 1) * g.OCg):
                grow = gv[(n * g.OC + oc) * g.P : (n * g.OC + oc + 1) * g.P]
                base = oc * g.K
                acc = gw[base : base + g.K]
                gw[base : base + g.K] = [a + dot(grow, col) for a, col in zip(acc, cols, strict=True)]
    grad_w = _out(gw, w.shape, x.device)
    grad_b = _out(gb, (g.OC,), x.device)
    if not input_grad:
        return None, grad_w, grad_b
    # flipped weights, (in-channel of the group, out-channel, ky, kx) -> rows per input channel c
    taps = g.KH * g.KW
    flip = []
    for c in range(g.C):
        grp, cg = divmod(c, g.Cg)
        row = []
        for oc in range(grp * g.OCg, (grp + 1) * g.OCg):
            base = (oc * g.Cg + cg) * taps
            row += wv[base : base + taps][::-1]
        flip.append(row)
    # grad_out zero-inserted by the stride, placed so a stride-1 dilated correlation gives grad_x
    eh, ew = g.dh * (g.KH - 1), g.dw * (g.KW - 1)
    ch, cw = g.H + eh, g.W + ew
    top, left = eh - g.ph, ew - g.pw
    gx = [0.0] * (g.N * g.C * g.H * g.W)
    for n in range(g.N):
        for grp in range(g.G):
            planes = []
            for oc in range(grp * g.OCg, (grp + 1) * g.OCg):
                canvas = [[0.0] * cw for _ in range(ch)]
                start = (n * g.OC + oc) * g.P
                for y in range(g.OH):
                    cy = top + y * g.sh
                    if not 0 <= cy < ch:
                        continue
                    row, src = canvas[cy], gv[start + y * g.OW : start + (y + 1) * g.OW]
                    for xo, v in enumerate(src):
                        cx = left + xo * g.sw
                        if 0 <= cx < cw:
                            row[cx] = v
                planes.append(canvas)
            patches = _patches(planes, g.KH, g.KW, 1, 1, g.dh, g.dw, g.H, g.W)
            for c in range(grp * g.Cg, (grp + 1) * g.Cg):
                start = (n * g.C + c) * g.H * g.W
                gx[start : start + g.H * g.W] = [dot(flip[c], p) for p in patches]
    return _out(gx, x.shape, x.device), grad_w, grad_b


# --- pooling --------------------------------------------------------------------------------------------------------
def _windows(g: dict):
    """Per output pixel, the flat in-plane indices of its window's in-bounds input pixels (and the window size
    including padding, for avg pooling's count_include_pad)."""
    h, w = g["H"], g["W"]
    out = []
    for oy in range(g["OH"]):
        y0 = oy * g["sh"] - g["ph"]
        ys = [y for y in range(y0, y0 + g["KH"]) if 0 <= y < h]
        hs = min(y0 + g["KH"], h + g["ph"]) - y0
        for ox in range(g["OW"]):
            x0 = ox * g["sw"] - g["pw"]
            xs = [xx for xx in range(x0, x0 + g["KW"]) if 0 <= xx < w]
            ws = min(x0 + g["KW"], w + g["pw"]) - x0
            out.append(([y * w + xx for y in ys for xx in xs], max(hs * ws, 1)))
    return out


def max_pool2d(x: Tensor, g: dict):
    vals = x.values()
    wins = _windows(g)
    plane = g["H"] * g["W"]
    out, idx = [], []
    for nc in range(g["N"] * g["C"]):
        base = nc * plane
        for flat, _ in wins:
            best = flat[0]
            bv = vals[base + best]
            for i in flat[1:]:
                v = vals[base + i]
                if v > bv:
                    best, bv = i, v
            out.append(bv)
            idx.append(best)
    shape = (g["N"], g["C"], g["OH"], g["OW"])
    return _out(out, shape, x.device), _out(idx, shape, x.device, "int32")


def max_pool2d_backward(gy: Tensor, idx: Tensor, g: dict, relu_out: Tensor | None) -> Tensor:
    gv, iv = gy.values(), idx.values()
    if relu_out is not None:
        gv = [v if r > 0 else 0.0 for v, r in zip(gv, relu_out.values(), strict=True)]
    plane, per = g["H"] * g["W"], g["OH"] * g["OW"]
    gx = [0.0] * (g["N"] * g["C"] * plane)
    for nc in range(g["N"] * g["C"]):
        base, obase = nc * plane, nc * per
        for j in range(per):
            gx[base + iv[obase + j]] += gv[obase + j]
    return _out(gx, (g["N"], g["C"], g["H"], g["W"]), gy.device)


def _avg_windows(g: dict, count_include_pad: bool):
    return [(flat, full if count_include_pad else max(len(flat), 1)) for flat, full in _windows(g)]


def avg_pool2d(x: Tensor, g: dict, count_include_pad: bool) -> Tensor:
    vals = x.values()
    wins = _avg_windows(g, count_include_pad)
    plane = g["H"] * g["W"]
    out = []
    for nc in range(g["N"] * g["C"]):
        base = nc * plane
        out.extend([math.fsum(vals[base + i] for i in flat) / cnt for flat, cnt in wins])
    return _out(out, (g["N"], g["C"], g["OH"], g["OW"]), x.device)


def avg_pool2d_backward(gy: Tensor, g: dict, count_include_pad: bool) -> Tensor:
    gv = gy.values()
    wins = _avg_windows(g, count_include_pad)
    plane, per = g["H"] * g["W"], g["OH"] * g["OW"]
    gx = [0.0] * (g["N"] * g["C"] * plane)
    for nc in range(g["N"] * g["C"]):
        base, obase = nc * plane, nc * per
        for j, (flat, cnt) in enumerate(wins):
            share = gv[obase + j] / cnt
            for i in flat:
                gx[base + i] += share
    return _out(gx, (g["N"], g["C"], g["H"], g["W"]), gy.device)


# --- layer kernels (gpuml.nn.functional) ----------------------------------------------------------------------------
def softmax_cross_entropy(logits: Tensor, labels: Tensor, scale: float):
    n, k = logits.shape
    z_rows = _rows(logits.values(), n, k)
    y = labels.values()
    if n and (min(y) < 0 or max(y) >= k):
        raise ValueError(f"softmax_cross_entropy: labels must lie in [0, {k})")
    loss, correct, grad = [], [], []
    for row, t in zip(z_rows, y, strict=True):
        m = max(row)
        e = [math.exp(v - m) for v in row]
        s = math.fsum(e)
        loss.append(math.log(s) - (row[t] - m))
        correct.append(1.0 if row.index(m) == t else 0.0)
        p = [v / s * scale for v in e]
        p[t] -= scale
        grad.extend(p)
    dev = logits.device
    return _out(loss, (n,), dev), _out(correct, (n,), dev), _out(grad, (n, k), dev)


def pcg_hash(v: int) -> int:
    """Pure twin of shaders/common/hash.wgsl (uint32 arithmetic, wrapping)."""
    state = (v * 747796405 + 2891336453) & 0xFFFFFFFF
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & 0xFFFFFFFF
    return (word >> 22) ^ word


def dropout(x: Tensor, rate: float, seed: int, scale: float) -> Tensor:
    import struct

    rate32, scale = (struct.unpack("<f", struct.pack("<f", v))[0] for v in (rate, scale))  # the kernel's f32s
    s = pcg_hash(seed)
    out = []
    for i, v in enumerate(x.values()):
        keep = (pcg_hash(i ^ s) >> 8) * (1.0 / 16777216.0) >= rate32
        out.append(v * scale if keep else 0.0)
    return _out(out, x.shape, x.device)


def channel_affine(x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    c = x.shape[1]
    hw = x.size // (x.shape[0] * c) if x.size else 1
    sc, sh = scale.values(), shift.values()
    vals = x.values()
    out = []
    for i in range(0, x.size, hw):
        ch = (i // hw) % c
        a, b = sc[ch], sh[ch]
        out.extend([v * a + b for v in vals[i : i + hw]])
    return _out(out, x.shape, x.device)


def batchnorm_input_grad(x, dy, mean, rstd, scale, dgamma, dbeta) -> Tensor:
    c = x.shape[1]
    m = x.size // c
    hw = m // x.shape[0]
    mu, rs, sc, dg, db = (t.values() for t in (mean, rstd, scale, dgamma, dbeta))
    xv, dv = x.values(), dy.values()
    out = []
    for i in range(0, x.size, hw):
        ch = (i // hw) % c
        a, r, s, gg, bb = mu[ch], rs[ch], sc[ch], dg[ch], db[ch]
        out.extend([s * (d - (bb + (v - a) * r * gg) / m) for v, d in zip(xv[i : i + hw], dv[i : i + hw], strict=True)])
    return _out(out, x.shape, x.device)
