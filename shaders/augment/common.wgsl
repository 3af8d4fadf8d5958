// Shared by the augment kernels (resample.wgsl, color.wgsl, image_mean.wgsl): the uniform layout, per-image
// parameter access, bilinear/nearest sampling with Pillow's pixel-centre convention, the elastic displacement
// field and the per-pixel op program. Written by gpuml/augment/engine.py, which carries the numpy twin.
//
// Images are (N, C, H, W) float32. Per-image parameters live in `prm: array<vec4<u32>>` (floats as bit
// patterns, so u32 seeds survive), `stride` vec4 slots per image starting at slot `base`:
//   slots 0-1  matrix A (rows a b c _ / d e f _): output pixel centre (x+0.5, y+0.5) -> q = A (x, y, 1)
//   slots 2-3  matrix B: (q + elastic displacement) -> source coordinate (read only when `elastic` != 0)
//   slot 4     elastic: alpha (px), lattice spacing (px), seed (u32 bits), _
//   slots op_slot + 3k .. +2: parameters of pixel op k (12 values)
// Pixel ops (`ops` codes, run in order, each followed by a clamp to [lo, hi] when `clip` != 0):
//   0 colour matrix: RGB' = M RGB + t (rows m0 m1 m2 t in the 3 slots); one channel: x' = m00 x + t0
//   1 contrast: v' = mean + f (v - mean), mean = stats[n] (grey mean from image_mean.wgsl), f in slot.x
//   2 Gaussian noise: v' = v + sigma * N(0, 1), N from a PCG hash of (seed, channel, y, x) (Box-Muller)
//   3 cutout: v' = fill where x0 <= x < x1 and y0 <= y < y1 (slot 0: x0 y0 x1 y1, slot 1.x: fill)

#include "common/index.wgsl"
#include "common/hash.wgsl"

const PX: u32 = 4u;  // output pixels per invocation along x: per-image parameters are loaded once per PX pixels

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    ho: u32,
    wo: u32,
    wq: u32,
    stride: u32,
    base: u32,
    op_slot: u32,
    op_first: u32,
    op_count: u32,
    mode: u32,
    elastic: u32,
    clip: u32,
    fill: f32,
    lo: f32,
    hi: f32,
    _pad0: u32,
    _pad1: u32,
    ops: array<vec4<u32>, 4>,
}

fn slot(i: u32) -> vec4<f32> {
    return bitcast<vec4<f32>>(prm[i]);
}

// Standard normal from two hashed uniforms (Box-Muller); 1 - u is in (0, 1], so the log is finite.
fn gauss(seed: u32, idx: u32) -> f32 {
    let u1 = uniform01(pcg_hash(seed ^ pcg_hash(2u * idx)));
    let u2 = uniform01(pcg_hash(seed ^ pcg_hash(2u * idx + 1u)));
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.2831853071795864 * u2);
}

// Random value in [-1, 1) at lattice point (ix, iy), component comp, of the elastic field.
fn lattice(ix: i32, iy: i32, seed: u32, comp: u32) -> f32 {
    let h = pcg_hash(seed ^ pcg_hash(bitcast<u32>(ix) ^ pcg_hash(bitcast<u32>(iy) * 2u + comp)));
    return 2.0 * uniform01(h) - 1.0;
}

// Smooth random displacement in [-1, 1]^2: lattice values every `spacing` px, blended with smoothstep
// weights (C1-continuous), a pure function of (seed, q).
fn elastic_field(q: vec2<f32>, spacing: f32, seed: u32) -> vec2<f32> {
    let g = q / spacing;
    let f = floor(g);
    let t = g - f;
    let s = t * t * (3.0 - 2.0 * t);
    let i = vec2<i32>(f);
    var d = vec2<f32>(0.0);
    for (var comp = 0u; comp < 2u; comp++) {
        let v00 = lattice(i.x, i.y, seed, comp);
        let v10 = lattice(i.x + 1, i.y, seed, comp);
        let v01 = lattice(i.x, i.y + 1, seed, comp);
        let v11 = lattice(i.x + 1, i.y + 1, seed, comp);
        let top = v00 + (v10 - v00) * s.x;
        let bot = v01 + (v11 - v01) * s.x;
        d[comp] = top + (bot - top) * s.y;
    }
    return d;
}

// Run pixel ops [op_first, op_first + op_count) on PX pixels (channels c0..c0+3) of image n, row y.
fn run_ops(vals: ptr<function, array<vec4<f32>, PX>>, n: u32, blk: u32, c0: u32, y: u32, x0: u32) {
    let ncol = select(1u, 3u, p.c >= 3u);  // colour channels mixed by matrix/contrast ops
    for (var k = 0u; k < p.op_count; k++) {
        let j = p.op_first + k;
        let code = p.ops[j / 4u][j % 4u];
        let s0 = slot(blk + p.op_slot + 3u * j);
        let s1 = slot(blk + p.op_slot + 3u * j + 1u);
        let s2 = slot(blk + p.op_slot + 3u * j + 2u);
        let mean = select(0.0, stats[n], code == 1u);
        for (var i = 0u; i < PX; i++) {
            var v = (*vals)[i];
            let x = x0 + i;
            if (code == 0u) {
                if (c0 == 0u) {
                    if (ncol == 3u) {
                        let rgb = v.xyz;
                        v.x = dot(s0.xyz, rgb) + s0.w;
                        v.y = dot(s1.xyz, rgb) + s1.w;
                        v.z = dot(s2.xyz, rgb) + s2.w;
                    } else {
                        v.x = s0.x * v.x + s0.w;
                    }
                }
            } else if (code == 1u) {
                if (c0 == 0u) {
                    let m = vec3<f32>(mean) + s0.x * (v.xyz - vec3<f32>(mean));
                    if (ncol == 3u) {
                        v = vec4<f32>(m, v.w);
                    } else {
                        v.x = m.x;
                    }
                }
            } else if (code == 2u) {
                let seed = bitcast<u32>(s0.y);
                for (var j2 = 0u; j2 < 4u; j2++) {
                    if (c0 + j2 < p.c) {
                        v[j2] = v[j2] + s0.x * gauss(seed, ((c0 + j2) * p.ho + y) * p.wo + x);
                    }
                }
            } else if (code == 3u) {
                let fx = f32(x);
                let fy = f32(y);
                if (fx >= s0.x && fx < s0.z && fy >= s0.y && fy < s0.w) {
                    v = vec4<f32>(s1.x);
                }
            }
            if (p.clip != 0u) {
                v = clamp(v, vec4<f32>(p.lo), vec4<f32>(p.hi));
            }
            (*vals)[i] = v;
        }
    }
}

// Store PX pixels (channels c0..c0+3) of image n, row y, columns x0.. (the tail past wo is dropped).
fn store(vals: ptr<function, array<vec4<f32>, PX>>, n: u32, c0: u32, y: u32, x0: u32) {
    for (var i = 0u; i < PX; i++) {
        let x = x0 + i;
        if (x < p.wo) {
            for (var j = 0u; j < 4u; j++) {
                if (c0 + j < p.c) {
                    out[((n * p.c + c0 + j) * p.ho + y) * p.wo + x] = (*vals)[i][j];
                }
            }
        }
    }
}
