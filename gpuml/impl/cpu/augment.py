"""Augmentation passes as numpy twins of the kernels (shaders/augment/), reading the same packed parameters
(gpuml/impl/augment_params.py): float32 arithmetic in the kernels' order, so results match them to rounding."""

from __future__ import annotations

import math

import numpy as np

from ...tensor import Tensor
from ..augment_params import CONTRAST, CUTOUT, GEO_SLOTS, MATRIX, NOISE, NORMALIZE


def augment_passes(x: Tensor, passes: list, raw: bytes, bases: list[int], clip: bool, lo: float, hi: float, shape,
            u8_layout: str | None = None, out_u8: bool = False) -> Tensor:  # fmt: skip
    """gpuml/impl/webgpu/augment.py's ``augment_passes`` on a cpu tensor (float32, or uint8 packed as ``u8_layout``)."""
    n, c, h, w = shape
    host = x.host()
    if u8_layout == "u8px":
        host = host.reshape(-1)[: n * h * w].view(np.uint8).reshape(n, h, w, 4)[..., :c].transpose(0, 3, 1, 2)
        host = host.astype(np.float32) * np.float32(1.0 / 255.0)
    elif u8_layout is not None:
        host = host.reshape(-1).view(np.uint8)[: n * c * h * w].reshape(n, c, h, w)
        host = host.astype(np.float32) * np.float32(1.0 / 255.0)
    out = twin(host, passes, raw, bases, clip, lo, hi)
    if out_u8:
        u8 = np.clip(np.rint(out * np.float32(255.0)), 0, 255).astype(np.uint8)  # io.to_uint8
        px = np.zeros((*out.shape[:1], *out.shape[2:], 4), np.uint8)
        px[..., :c] = u8.transpose(0, 2, 3, 1)
        out = px.view("<u4").reshape(-1)
    return Tensor.wrap_numpy(out, x.device)


def pcg_hash(v):
    """numpy twin of shaders/common/hash.wgsl (uint32 arithmetic, wrapping)."""
    v = np.asarray(v, dtype=np.uint32)
    state = v * np.uint32(747796405) + np.uint32(2891336453)
    word = ((state >> ((state >> np.uint32(28)) + np.uint32(4))) ^ state) * np.uint32(277803737)
    return (word >> np.uint32(22)) ^ word


def _hash(v):
    with np.errstate(over="ignore"):
        return pcg_hash(v)


def _u01(h):
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def gauss_twin(seed: int, idx):
    """numpy twin of gauss() in common.wgsl (float64 transcendental, float32 result)."""
    with np.errstate(over="ignore"):
        idx = np.asarray(idx, np.uint32)
        s = np.uint32(seed)
        u1 = _u01(_hash(s ^ _hash(np.uint32(2) * idx))).astype(np.float64)
        u2 = _u01(_hash(s ^ _hash(np.uint32(2) * idx + np.uint32(1)))).astype(np.float64)
    return (np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2 * math.pi * u2)).astype(np.float32)


def elastic_twin(qx, qy, spacing, seed):
    """numpy twin of elastic_field() (float32)."""
    f32 = np.float32
    gx, gy = qx / f32(spacing), qy / f32(spacing)
    fx, fy = np.floor(gx), np.floor(gy)
    tx, ty = gx - fx, gy - fy
    sx, sy = tx * tx * (f32(3) - f32(2) * tx), ty * ty * (f32(3) - f32(2) * ty)
    ix, iy = fx.astype(np.int32).view(np.uint32), fy.astype(np.int32).view(np.uint32)
    s = np.uint32(seed)
    out = []
    with np.errstate(over="ignore"):
        for comp in (0, 1):

            def lat(ax, ay, comp=comp):
                h = _hash(s ^ _hash(ax ^ _hash(ay * np.uint32(2) + np.uint32(comp))))
                return f32(2) * _u01(h) - f32(1)

            v00, v10 = lat(ix, iy), lat(ix + np.uint32(1), iy)
            v01, v11 = lat(ix, iy + np.uint32(1)), lat(ix + np.uint32(1), iy + np.uint32(1))
            top = v00 + (v10 - v00) * sx
            bot = v01 + (v11 - v01) * sx
            out.append(top + (bot - top) * sy)
    return out


def _sample(x, qx, qy, mode: str, fill: float):
    """x (C, H, W); qx, qy (Ho, Wo) float32 source coords -> (C, Ho, Wo)."""
    _c, h, w = x.shape
    inside = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
    if mode == "nearest":
        ix = np.clip(np.floor(qx), 0, w - 1).astype(np.intp)
        iy = np.clip(np.floor(qy), 0, h - 1).astype(np.intp)
        out = x[:, iy, ix]
    else:
        sx, sy = qx - np.float32(0.5), qy - np.float32(0.5)
        fx, fy = np.floor(sx), np.floor(sy)
        tx, ty = sx - fx, sy - fy
        fx = np.clip(fx, -2, w + 1).astype(np.intp)  # keep the int cast in range for far-outside points
        fy = np.clip(fy, -2, h + 1).astype(np.intp)
        x0, x1 = np.clip(fx, 0, w - 1), np.clip(fx + 1, 0, w - 1)
        y0, y1 = np.clip(fy, 0, h - 1), np.clip(fy + 1, 0, h - 1)
        v00, v10, v01, v11 = x[:, y0, x0], x[:, y0, x1], x[:, y1, x0], x[:, y1, x1]
        top = v00 + (v10 - v00) * tx
        bot = v01 + (v11 - v01) * tx
        out = top + (bot - top) * ty
    return np.where(inside, out, np.float32(fill)).astype(np.float32)


def _run_ops_twin(img, ops_f, ops_u, codes, first, count, mean, clip, lo, hi):
    """img (C, Ho, Wo) float32 in place; ops_f / ops_u: (nops, 12) float32 / uint32 views of this image."""
    c, ho, wo = img.shape
    ncol = 3 if c >= 3 else 1
    f32 = np.float32
    for j in range(first, first + count):
        code, q, qu = codes[j], ops_f[j], ops_u[j]
        if code == MATRIX:
            if ncol == 3:
                rgb = img[:3].copy()
                for r in range(3):
                    row = q[4 * r : 4 * r + 4]
                    img[r] = row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2] + row[3]
            else:
                img[0] = q[0] * img[0] + q[3]
        elif code == CONTRAST:
            m = f32(mean)
            img[:ncol] = m + q[0] * (img[:ncol] - m)
        elif code == NOISE:
            idx = np.arange(c * ho * wo, dtype=np.uint32).reshape(c, ho, wo)
            img += q[0] * gauss_twin(int(qu[1]), idx)
        elif code == CUTOUT:
            ys = np.arange(ho, dtype=np.float32)[:, None]
            xs = np.arange(wo, dtype=np.float32)[None, :]
            inside = (xs >= q[0]) & (xs < q[2]) & (ys >= q[1]) & (ys < q[3])
            img[:, inside] = q[4]
        elif code == NORMALIZE:
            c0 = 4 * int(q[8])
            k = min(4, c - c0)
            img[c0 : c0 + k] = (img[c0 : c0 + k] - q[:k, None, None]) / q[4 : 4 + k, None, None]
            continue  # never clipped
        if clip:
            np.clip(img, f32(lo), f32(hi), out=img)


def twin(x, passes: list, raw: bytes, bases: list[int], clip: bool, lo: float, hi: float):
    """The passes over a (N, C, H, W) float32 array, reading the same packed parameters as the kernels."""
    f32 = np.float32
    slots_f = np.frombuffer(raw, "<f4").reshape(-1, 4)
    slots_u = np.frombuffer(raw, "<u4").reshape(-1, 4)
    cur = np.asarray(x, np.float32)
    n, c = cur.shape[:2]
    for ps, base in zip(passes, bases, strict=True):
        ho, wo = ps.out_hw
        out = np.empty((n, c, ho, wo), np.float32)
        py, px = np.meshgrid(np.arange(ho, dtype=f32) + f32(0.5), np.arange(wo, dtype=f32) + f32(0.5), indexing="ij")
        codes = [op.code for op in ps.ops]
        for i in range(n):
            blk = base + i * ps.stride
            a0, a1 = slots_f[blk], slots_f[blk + 1]
            qx = a0[0] * px + a0[1] * py + a0[2]
            qy = a1[0] * px + a1[1] * py + a1[2]
            if ps.elastic is not None:
                b0, b1, e = slots_f[blk + 2], slots_f[blk + 3], slots_f[blk + 4]
                dx, dy = elastic_twin(qx, qy, e[1], int(slots_u[blk + 4][2]))
                ex, ey = qx + e[0] * dx, qy + e[0] * dy
                qx = b0[0] * ex + b0[1] * ey + b0[2]
                qy = b1[0] * ex + b1[1] * ey + b1[2]
            img = _sample(cur[i], qx, qy, ps.mode, ps.fill)
            ops_f = slots_f[blk + GEO_SLOTS : blk + ps.stride].reshape(-1, 12)
            ops_u = slots_u[blk + GEO_SLOTS : blk + ps.stride].reshape(-1, 12)
            for si, (first, count) in enumerate(ps.segments or [(0, 0)]):
                mean = 0.0
                if si > 0:
                    gray = img[0] if c < 3 else f32(0.299) * img[0] + f32(0.587) * img[1] + f32(0.114) * img[2]
                    mean = float(gray.astype(np.float64).mean())
                _run_ops_twin(img, ops_f, ops_u, codes, first, count, mean, clip, lo, hi)
            out[i] = img
        cur = out
    return cur
