// One resampling pass of an augmentation pipeline: every output pixel is mapped to the source image by the
// per-image composed affine matrix A (and, with ELASTIC, a smooth random displacement then matrix B), sampled
// (nearest or bilinear, Pillow's convention: pixel centres at +0.5, points outside [0, W) x [0, H) get `fill`,
// bilinear taps clamp to the edge), then the pass's first run of pixel ops (OPS) is applied in registers.
// See common.wgsl for the quad layout, the parameter block and the ops.
//
// Bindings: 0 p (uniform Params; h, w: source size, ho, wo: output size), 1 prm: array<vec4<u32>> (read,
//   per-image parameters), 2 src: array<SRC_T> (read, the source images in layout LAYOUT: 0 float32
//   N x C x H x W; 1 uint8 N x C x H x W packed 4 per u32 word, little-endian; 2 uint8 one u32 word per pixel,
//   N x H x W, channel c in byte c, C <= 4; uint8 reads as byte / 255), 3 stats: array<f32> (read,
//   per-image grey mean; only a generated contrast op reads it), 4 partials: array<f32> (read_write, one grey sum
//   per quad, written when PARTIALS), 5 out: array<OUT_T> (read_write, N x C x ho x wo float32, or with
//   PIXEL_OUT N x ho x wo uint8 pixels, one u32 word each).
// Template: WG workgroup size; C channels; MODE 0 nearest / 1 bilinear; ELASTIC; SRC_T / LAYOUT the source
//   element type and layout (SOURCES in gpuml/impl/webgpu/augment.py); OUT_T /
//   PUT / PUT_PX / PIXEL_OUT the output element type and store bodies (OUTPUTS); OPS_LOAD / OPS the generated op
//   sequence; QUADS quads per invocation; PARTIALS.
// Dispatch: ceil(n * qpi / WG) workgroups over Device.grid_1d, qpi = ceil(quads / QUADS) invocations per image,
//   quads = ceil(ho * wo / 4); one invocation per QUADS quads of 4 output pixels (all channels) of one image.
// Why this shape: on lavapipe a storage load costs ~50 FMAs, so the per-image parameters are loaded once per
//   QUADS quads, coordinates and colour ops are pure ALU, the only per-pixel loads are the 1 (nearest) or 4
//   (bilinear) taps per channel (per pixel with LAYOUT 2: one word holds all channels, 3x fewer loads for RGB),
//   and a channel's 4 outputs go out as one vec4 store. Everything indexed (quad columns, channels, ops) is a
//   compile-time constant: the previous kernel, with runtime channel and op loops over a private array, was ~4.5x
//   slower on lavapipe (interleaved A/B, 256 x 224 x 224 RGB; 6-7x with the later steps, benchmarks/RESULTS.md).

#include "augment/common.wgsl"

const MODE: u32 = {{MODE}}u;
const ELASTIC: bool = {{ELASTIC}};
const LAYOUT: u32 = {{LAYOUT}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> prm: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> src: array<{{SRC_T}}>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<{{OUT_T}}>;

// Element i of a planar source (LAYOUT 0 or 1) as f32. bitcast<> is the identity for the matching SRC_T, so
// every branch type-checks for both.
fn fetch(i: u32) -> f32 {
    if (LAYOUT == 0u) {
        return bitcast<f32>(src[i]);
    }
    return f32((bitcast<u32>(src[i >> 2u]) >> ((i & 3u) * 8u)) & 255u) * (1.0 / 255.0);
}

// Random value in [-1, 1) at lattice point (ix, iy), component comp, of the elastic field.
fn lattice(ix: i32, iy: i32, seed: u32, comp: u32) -> f32 {
    let h = pcg_hash(seed ^ pcg_hash(bitcast<u32>(ix) ^ pcg_hash(bitcast<u32>(iy) * 2u + comp)));
    return 2.0 * uniform01(h) - 1.0;
}

fn lattice_blend(i: vec2<i32>, s: vec2<f32>, seed: u32, comp: u32) -> f32 {
    let v00 = lattice(i.x, i.y, seed, comp);
    let v10 = lattice(i.x + 1, i.y, seed, comp);
    let v01 = lattice(i.x, i.y + 1, seed, comp);
    let v11 = lattice(i.x + 1, i.y + 1, seed, comp);
    let top = v00 + (v10 - v00) * s.x;
    let bot = v01 + (v11 - v01) * s.x;
    return top + (bot - top) * s.y;
}

// Smooth random displacement in [-1, 1]^2: lattice values every `spacing` px, blended with smoothstep
// weights (C1-continuous), a pure function of (seed, q).
fn elastic_field(q: vec2<f32>, spacing: f32, seed: u32) -> vec2<f32> {
    let g = q / spacing;
    let f = floor(g);
    let t = g - f;
    let s = t * t * (3.0 - 2.0 * t);
    let i = vec2<i32>(f);
    return vec2<f32>(lattice_blend(i, s, seed, 0u), lattice_blend(i, s, seed, 1u));
}

// q -> B (q + alpha * field(q)): the elastic stage between matrices A and B (e: alpha, spacing, seed bits).
fn warp(q: vec2<f32>, b0: vec4<f32>, b1: vec4<f32>, e: vec4<f32>) -> vec2<f32> {
    let d = q + e.x * elastic_field(q, e.y, bitcast<u32>(e.z));
    return vec2<f32>(b0.x * d.x + b0.y * d.y + b0.z, b1.x * d.x + b1.y * d.y + b1.z);
}

// Channels c0 .. c0 + 3 of source pixel pix (y * w + x) of image n; absent channels read as 0.
fn gather(n: u32, pix: u32, c0: u32) -> vec4<f32> {
    let plane = P.h * P.w;
    if (LAYOUT == 2u) {
        let word = vec4<u32>(bitcast<u32>(src[n * plane + pix]));
        return vec4<f32>((word >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(255u)) * (1.0 / 255.0);
    }
    let o = (n * C + c0) * plane + pix;
    var v = vec4<f32>(fetch(o), 0.0, 0.0, 0.0);
    if (c0 + 1u < C) {
        v.y = fetch(o + plane);
    }
    if (c0 + 2u < C) {
        v.z = fetch(o + 2u * plane);
    }
    if (c0 + 3u < C) {
        v.w = fetch(o + 3u * plane);
    }
    return v;
}

// Source channels c0 .. c0 + 3 of image n at continuous coordinate q.
fn sample(n: u32, c0: u32, q: vec2<f32>) -> vec4<f32> {
    if (!(q.x >= 0.0 && q.x < f32(P.w) && q.y >= 0.0 && q.y < f32(P.h))) {
        return vec4<f32>(P.fill);
    }
    if (MODE == 0u) {
        let ix = min(u32(q.x), P.w - 1u);
        let iy = min(u32(q.y), P.h - 1u);
        return gather(n, iy * P.w + ix, c0);
    }
    let s = q - vec2<f32>(0.5);
    let f = floor(s);
    let t = s - f;
    let wmax = i32(P.w) - 1;
    let hmax = i32(P.h) - 1;
    let x0 = u32(clamp(i32(f.x), 0, wmax));
    let x1 = u32(clamp(i32(f.x) + 1, 0, wmax));
    let y0 = u32(clamp(i32(f.y), 0, hmax)) * P.w;
    let y1 = u32(clamp(i32(f.y) + 1, 0, hmax)) * P.w;
    let v00 = gather(n, y0 + x0, c0);
    let v10 = gather(n, y0 + x1, c0);
    let v01 = gather(n, y1 + x0, c0);
    let v11 = gather(n, y1 + x1, c0);
    let top = v00 + (v10 - v00) * t.x;
    let bot = v01 + (v11 - v01) * t.x;
    return top + (bot - top) * t.y;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    P = p;
    let first = first_quad(wid, nwg, lid);
    let n = first.x;
    if (n >= P.n) {
        return;
    }
    let blk = P.base + n * P.stride;
    let a0 = slot(blk);
    let a1 = slot(blk + 1u);
    var b0 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    var e = vec4<f32>(0.0);
    if (ELASTIC) {
        b0 = slot(blk + 2u);
        b1 = slot(blk + 3u);
        e = slot(blk + 4u);
    }
    {{OPS_LOAD}}
    var r = quad_at(n, first.y);
    for (var k = 0u; k < QUADS && r.m > 0u; k++) {
        let px = vec4<f32>(r.xs) + vec4<f32>(0.5);
        let py = vec4<f32>(r.ys) + vec4<f32>(0.5);
        var qx = a0.x * px + a0.y * py + vec4<f32>(a0.z);
        var qy = a1.x * px + a1.y * py + vec4<f32>(a1.z);
        if (ELASTIC) {
            let w0 = warp(vec2<f32>(qx.x, qy.x), b0, b1, e);
            let w1 = warp(vec2<f32>(qx.y, qy.y), b0, b1, e);
            let w2 = warp(vec2<f32>(qx.z, qy.z), b0, b1, e);
            let w3 = warp(vec2<f32>(qx.w, qy.w), b0, b1, e);
            qx = vec4<f32>(w0.x, w1.x, w2.x, w3.x);
            qy = vec4<f32>(w0.y, w1.y, w2.y, w3.y);
        }
        for (var c0 = 0u; c0 < C; c0 += 4u) {
            var q = mat4x4<f32>(sample(n, c0, vec2<f32>(qx.x, qy.x)), sample(n, c0, vec2<f32>(qx.y, qy.y)),
                                sample(n, c0, vec2<f32>(qx.z, qy.z)), sample(n, c0, vec2<f32>(qx.w, qy.w)));
            {{OPS}}
            if (PARTIALS && c0 == 0u) {
                partials[r.g] = quad_grey(q, r.m);
            }
            store_quad(q, c0, r);
        }
        r = quad_next(r);
    }
}
