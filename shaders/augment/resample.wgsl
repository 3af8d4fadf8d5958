// One resampling pass of an augmentation pipeline: every output pixel is mapped to the source image by the
// per-image composed affine matrix A (and, with an elastic stage, a smooth random displacement then matrix
// B), sampled (nearest or bilinear, Pillow's convention: pixel centres at +0.5, points outside [0, W) x [0, H)
// get `fill`, bilinear taps clamp to the edge), then the pass's first run of pixel ops is applied in registers.
// See common.wgsl for the parameter block and the op codes.
//
// Bindings: 0 p (uniform Params), 1 prm: array<vec4<u32>> (read, per-image parameters),
//   2 src: array<SRC_T> (read, N x C x H x W: float32, or uint8 packed 4 per u32 word, little-endian, read as
//   byte / 255 — a quarter of the upload for 8-bit images), 3 stats: array<f32> (read, unused here: contrast never starts a
//   resampling pass, but the shared op code names it), 4 out: array<f32> (read_write, N x C x ho x wo).
// Template: WG workgroup size; SRC_T / FETCH the source element type and the WGSL expression reading element i
//   as f32, from the fixed table in gpuml/augment/engine.py (SOURCES).
// Dispatch: ceil(n * ho * wq / WG) workgroups over Device.grid_1d, wq = ceil(wo / PX); one invocation per
//   PX = 4 output pixels of one row (all channels).
// Why this shape: on lavapipe a storage load costs ~50 FMAs, so the per-image parameters (2-5 vec4 + 3 per
//   op) are loaded once per 4 pixels, coordinates and colour ops are pure ALU, and the only per-pixel loads
//   are the 1 (nearest) or 4 (bilinear) taps per channel.

#include "augment/common.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> prm: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> src: array<{{SRC_T}}>;

fn fetch(i: u32) -> f32 {
    return {{FETCH}};
}
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn sample(img: u32, c0: u32, q: vec2<f32>) -> vec4<f32> {
    var v = vec4<f32>(p.fill);
    if (!(q.x >= 0.0 && q.x < f32(p.w) && q.y >= 0.0 && q.y < f32(p.h))) {
        return v;
    }
    let plane = p.h * p.w;
    let nch = min(4u, p.c - c0);
    if (p.mode == 0u) {
        let ix = min(u32(q.x), p.w - 1u);
        let iy = min(u32(q.y), p.h - 1u);
        for (var j = 0u; j < nch; j++) {
            v[j] = fetch(img + (c0 + j) * plane + iy * p.w + ix);
        }
        return v;
    }
    let s = q - vec2<f32>(0.5);
    let f = floor(s);
    let t = s - f;
    let wmax = i32(p.w) - 1;
    let hmax = i32(p.h) - 1;
    let x0 = u32(clamp(i32(f.x), 0, wmax));
    let x1 = u32(clamp(i32(f.x) + 1, 0, wmax));
    let y0 = u32(clamp(i32(f.y), 0, hmax)) * p.w;
    let y1 = u32(clamp(i32(f.y) + 1, 0, hmax)) * p.w;
    for (var j = 0u; j < nch; j++) {
        let b = img + (c0 + j) * plane;
        let v00 = fetch(b + y0 + x0);
        let v10 = fetch(b + y0 + x1);
        let v01 = fetch(b + y1 + x0);
        let v11 = fetch(b + y1 + x1);
        let top = v00 + (v10 - v00) * t.x;
        let bot = v01 + (v11 - v01) * t.x;
        v[j] = top + (bot - top) * t.y;
    }
    return v;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n * p.ho * p.wq) {
        return;
    }
    let xq = i % p.wq;
    let row = i / p.wq;
    let y = row % p.ho;
    let n = row / p.ho;
    let blk = p.base + n * p.stride;
    let a0 = slot(blk);
    let a1 = slot(blk + 1u);
    var b0 = vec4<f32>(1.0, 0.0, 0.0, 0.0);
    var b1 = vec4<f32>(0.0, 1.0, 0.0, 0.0);
    var e = vec4<f32>(0.0);
    if (p.elastic != 0u) {
        b0 = slot(blk + 2u);
        b1 = slot(blk + 3u);
        e = slot(blk + 4u);
    }
    let x0 = xq * PX;
    let img = n * p.c * p.h * p.w;
    let py = f32(y) + 0.5;
    for (var c0 = 0u; c0 < p.c; c0 += 4u) {
        var vals: array<vec4<f32>, PX>;
        for (var k = 0u; k < PX; k++) {
            let px = f32(min(x0 + k, p.wo - 1u)) + 0.5;
            var q = vec2<f32>(a0.x * px + a0.y * py + a0.z, a1.x * px + a1.y * py + a1.z);
            if (p.elastic != 0u) {
                let d = q + e.x * elastic_field(q, e.y, bitcast<u32>(e.z));
                q = vec2<f32>(b0.x * d.x + b0.y * d.y + b0.z, b1.x * d.x + b1.y * d.y + b1.z);
            }
            vals[k] = sample(img, c0, q);
        }
        run_ops(&vals, n, blk, c0, y, x0);
        store(&vals, n, c0, y, x0);
    }
}
