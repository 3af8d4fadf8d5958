// Shared by the augment kernels (resample.wgsl, color.wgsl): the uniform layout, the quad layout, per-image
// parameter access, the pixel ops and the quad store. Written by gpuml/impl/webgpu/augment.py, which carries the
// numpy twin and generates the op sequence (template OPS).
//
// Images are (N, C, H, W) float32. The unit of work is a *quad*: 4 consecutive pixels of one image's plane (flat
// index e0 .. e0 + 3 of the ho x wo plane, wrapping to the next row; the last quad of a plane keeps only m < 4
// of them when ho * wo is not a multiple of 4), all C channels. In registers a quad is a mat4x4<f32> whose
// column k is pixel k (channels c0 .. c0 + 3); transpose() gives the per-channel rows that are loaded and stored
// (one vec4 per channel when ho * wo % 4 == 0: OUT_T = vec4<f32>), or, for uint8 output (PIXEL_OUT, C <= 4),
// each column is packed into one u32 word per pixel. One invocation owns QUADS consecutive quads
// of one image (`qpi` invocations per image), so the image's parameters are loaded once for all of them.
//
// Per-image parameters live in `prm: array<vec4<u32>>` (floats as bit patterns, so u32 seeds survive),
// `stride` vec4 slots per image starting at slot `base`:
//   slots 0-1  matrix A (rows a b c _ / d e f _): output pixel centre (x+0.5, y+0.5) -> q = A (x, y, 1)
//   slots 2-3  matrix B: (q + elastic displacement) -> source coordinate (read only with ELASTIC)
//   slot 4     elastic: alpha (px), lattice spacing (px), seed (u32 bits), _
//   slots 5 + 3k .. +2: parameters of pixel op k (12 values)
// Pixel ops (generated straight-line code: OPS_LOAD loads their parameters once per invocation into o<k>_<slot>,
// OPS applies them to a quad, each followed by a clamp to [lo, hi] when clipping):
//   op_matrix / op_scale: RGB' = M RGB + t (rows m0 m1 m2 t in the 3 slots); one channel: x' = m00 x + t0
//   op_contrast: v' = mean + f (v - mean), mean = stats[n] (grey mean of the image before the op)
//   op_noise: v' = v + sigma * N(0, 1), N from a PCG hash of (seed, channel, y, x) (Box-Muller)
//   op_cutout: v' = fill where x0 <= x < x1 and y0 <= y < y1 (slot 0: x0 y0 x1 y1, slot 1.x: fill)
//   op_normalize: v' = (v - mean) / std on channel group g (slot 0: mean, slot 1: std, slot 2.x: g); no clamp
// Template values are compile-time constants (C channels, the op sequence, the output element type) so that
// lavapipe keeps every index constant: a dynamically indexed private array or vector goes to per-lane scratch
// memory (docs/ENGINEERING.md, "Measuring"), which made the previous generic kernels 3-5x slower.

#include "common/index.wgsl"
#include "common/hash.wgsl"

const C: u32 = {{C}}u;
const QUADS: u32 = {{QUADS}}u;  // quads per invocation
const PARTIALS: bool = {{PARTIALS}};  // write each quad's grey sum to partials[] (for the next contrast op)

// The uniform Params, copied into registers by main (`P = p;`): functions read P, not p. Lavapipe reloads a
// uniform field at every use (~0.7 ns each, dozens per quad); the copy made the kernels ~10% faster.
var<private> P: Params;

struct Params {
    n: u32,
    h: u32,
    w: u32,
    ho: u32,
    wo: u32,
    plane: u32,
    quads: u32,
    qpi: u32,
    stride: u32,
    base: u32,
    fill: f32,
    lo: f32,
    hi: f32,
}

// A quad: image n, global quad index g = n * quads + quad (the partials slot), first flat index e0, valid
// pixels m (0 past the plane's end), and the (x, y) of its 4 pixels.
struct Quad {
    n: u32,
    g: u32,
    e0: u32,
    m: u32,
    xs: vec4<u32>,
    ys: vec4<u32>,
}

// (image, first quad) of this invocation; the image is >= P.n for the idle tail of the grid.
fn first_quad(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> vec2<u32> {
    let inv = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    let n = inv / P.qpi;
    return vec2<u32>(n, (inv - n * P.qpi) * QUADS);
}

// Quad `quad` of image n (one integer division, for its first row).
fn quad_at(n: u32, quad: u32) -> Quad {
    let e0 = 4u * quad;
    let y0 = e0 / P.wo;
    return quad_from(n, n * P.quads + quad, e0, e0 - y0 * P.wo, y0);
}

// The next quad of the same image: 4 pixels further, without a division.
fn quad_next(r: Quad) -> Quad {
    var x = r.xs.x + 4u;
    var y = r.ys.x;
    for (var k = 0u; k < 4u; k++) {  // wrap to the next row (at most 4 times, for wo = 1)
        let wrap = x >= P.wo;
        x = select(x, x - P.wo, wrap);
        y = select(y, y + 1u, wrap);
    }
    return quad_from(r.n, r.g + 1u, r.e0 + 4u, x, y);
}

// The quad whose first pixel is flat index e0 = (x0, y0).
fn quad_from(n: u32, g: u32, e0: u32, x0: u32, y0: u32) -> Quad {
    var r: Quad;
    r.n = n;
    r.g = g;
    r.e0 = e0;
    r.m = select(0u, min(4u, P.plane - min(e0, P.plane)), e0 < P.plane);
    var xs = vec4<u32>(x0) + vec4<u32>(0u, 1u, 2u, 3u);
    var ys = vec4<u32>(y0);
    for (var k = 0u; k < 3u; k++) {  // wrap to the next row (at most 3 times, for wo = 1)
        let wrap = xs >= vec4<u32>(P.wo);
        xs = select(xs, xs - vec4<u32>(P.wo), wrap);
        ys = select(ys, ys + vec4<u32>(1u), wrap);
    }
    r.xs = xs;
    r.ys = ys;
    return r;
}

fn slot(i: u32) -> vec4<f32> {
    return bitcast<vec4<f32>>(prm[i]);
}

// --- pixel ops on a quad (column k = pixel k) -----------------------------------------------------------------
fn clip_quad(q: mat4x4<f32>) -> mat4x4<f32> {
    let lo = vec4<f32>(P.lo);
    let hi = vec4<f32>(P.hi);
    return mat4x4<f32>(clamp(q[0], lo, hi), clamp(q[1], lo, hi), clamp(q[2], lo, hi), clamp(q[3], lo, hi));
}

fn matrix_px(v: vec4<f32>, m0: vec4<f32>, m1: vec4<f32>, m2: vec4<f32>) -> vec4<f32> {
    let rgb = v.xyz;
    return vec4<f32>(dot(m0.xyz, rgb) + m0.w, dot(m1.xyz, rgb) + m1.w, dot(m2.xyz, rgb) + m2.w, v.w);
}

// Colour matrix on channels 0-2 (C >= 3; only the channel group c0 = 0 holds them).
fn op_matrix(q: mat4x4<f32>, c0: u32, m0: vec4<f32>, m1: vec4<f32>, m2: vec4<f32>) -> mat4x4<f32> {
    if (c0 != 0u) {
        return q;
    }
    return mat4x4<f32>(matrix_px(q[0], m0, m1, m2), matrix_px(q[1], m0, m1, m2), matrix_px(q[2], m0, m1, m2),
                       matrix_px(q[3], m0, m1, m2));
}

// The one-channel form of op_matrix (C < 3): x' = m00 x + t0.
fn op_scale(q: mat4x4<f32>, c0: u32, m0: vec4<f32>) -> mat4x4<f32> {
    if (c0 != 0u) {
        return q;
    }
    var r = q;
    r[0].x = m0.x * q[0].x + m0.w;
    r[1].x = m0.x * q[1].x + m0.w;
    r[2].x = m0.x * q[2].x + m0.w;
    r[3].x = m0.x * q[3].x + m0.w;
    return r;
}

fn contrast_px(v: vec4<f32>, f: f32, mean: f32) -> vec4<f32> {
    let m = vec3<f32>(mean) + f * (v.xyz - vec3<f32>(mean));
    if (C >= 3u) {
        return vec4<f32>(m, v.w);
    }
    return vec4<f32>(m.x, v.yzw);
}

fn op_contrast(q: mat4x4<f32>, c0: u32, f: f32, mean: f32) -> mat4x4<f32> {
    if (c0 != 0u) {
        return q;
    }
    return mat4x4<f32>(contrast_px(q[0], f, mean), contrast_px(q[1], f, mean), contrast_px(q[2], f, mean),
                       contrast_px(q[3], f, mean));
}

// Standard normal from two hashed uniforms (Box-Muller); 1 - u is in (0, 1], so the log is finite.
fn gauss(seed: u32, idx: u32) -> f32 {
    let u1 = uniform01(pcg_hash(seed ^ pcg_hash(2u * idx)));
    let u2 = uniform01(pcg_hash(seed ^ pcg_hash(2u * idx + 1u)));
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.2831853071795864 * u2);
}

// Noise of pixel (x, y), channels c0 .. c0 + 3: index ((c * ho) + y) * wo + x per channel.
fn noise_px(v: vec4<f32>, c0: u32, sigma: f32, seed: u32, x: u32, y: u32) -> vec4<f32> {
    let i = (c0 * P.ho + y) * P.wo + x;
    var r = v;
    r.x = v.x + sigma * gauss(seed, i);
    if (c0 + 1u < C) {
        r.y = v.y + sigma * gauss(seed, i + P.plane);
    }
    if (c0 + 2u < C) {
        r.z = v.z + sigma * gauss(seed, i + 2u * P.plane);
    }
    if (c0 + 3u < C) {
        r.w = v.w + sigma * gauss(seed, i + 3u * P.plane);
    }
    return r;
}

fn op_noise(q: mat4x4<f32>, c0: u32, s: vec4<f32>, xs: vec4<u32>, ys: vec4<u32>) -> mat4x4<f32> {
    let seed = bitcast<u32>(s.y);
    return mat4x4<f32>(noise_px(q[0], c0, s.x, seed, xs.x, ys.x), noise_px(q[1], c0, s.x, seed, xs.y, ys.y),
                       noise_px(q[2], c0, s.x, seed, xs.z, ys.z), noise_px(q[3], c0, s.x, seed, xs.w, ys.w));
}

fn op_cutout(q: mat4x4<f32>, r: vec4<f32>, fill: f32, xs: vec4<u32>, ys: vec4<u32>) -> mat4x4<f32> {
    let fx = vec4<f32>(xs);
    let fy = vec4<f32>(ys);
    let inside = (fx >= vec4<f32>(r.x)) & (fx < vec4<f32>(r.z)) & (fy >= vec4<f32>(r.y)) & (fy < vec4<f32>(r.w));
    let f = vec4<f32>(fill);
    return mat4x4<f32>(select(q[0], f, inside.x), select(q[1], f, inside.y), select(q[2], f, inside.z),
                       select(q[3], f, inside.w));
}

// Per-channel standardisation of channel group g (c0 = 4 g): v' = (v - mean) / std (Normalize; absent channels
// have mean 0, std 1).
fn op_normalize(q: mat4x4<f32>, c0: u32, m: vec4<f32>, s: vec4<f32>, g: f32) -> mat4x4<f32> {
    if (c0 != 4u * u32(g)) {
        return q;
    }
    return mat4x4<f32>((q[0] - m) / s, (q[1] - m) / s, (q[2] - m) / s, (q[3] - m) / s);
}

// --- quad store ---------------------------------------------------------------------------------------------
const PIXEL_OUT: bool = {{PIXEL_OUT}};  // out holds uint8 pixels, one u32 word each (store_pixels), not float rows

// Row store: channel values v of a quad's m valid pixels at element i of a float32 (N, C, ho, wo) `out`. Body
// from OUTPUTS in gpuml/impl/webgpu/augment.py (empty when PIXEL_OUT).
fn store4(i: u32, v: vec4<f32>, m: u32) {
    {{PUT}}
}

// Pixel store: the quad as uint8 words, one per pixel with channel c in byte c, into `out` (N x ho x wo words,
// the "u8px" layout of gpuml.augment.io.U8Batch). Body from OUTPUTS (empty unless PIXEL_OUT).
fn store_pixels(q: mat4x4<f32>, r: Quad) {
    {{PUT_PX}}
}

// Channels 0..C-1 of one pixel as bytes: clamp(round-half-even(v * 255), 0, 255), as gpuml.augment.io.to_uint8.
fn pack_u8(v: vec4<f32>) -> u32 {
    let b = vec4<u32>(clamp(round(v * 255.0), vec4<f32>(0.0), vec4<f32>(255.0)));
    let word = b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
    return word & (0xffffffffu >> (32u - 8u * min(C, 4u)));  // absent channels' bytes are 0
}

fn store_quad(q: mat4x4<f32>, c0: u32, r: Quad) {
    if (PIXEL_OUT) {
        store_pixels(q, r);
        return;
    }
    let t = transpose(q);
    let i = (r.n * C + c0) * P.plane + r.e0;
    store4(i, t[0], r.m);
    if (c0 + 1u < C) {
        store4(i + P.plane, t[1], r.m);
    }
    if (c0 + 2u < C) {
        store4(i + 2u * P.plane, t[2], r.m);
    }
    if (c0 + 3u < C) {
        store4(i + 3u * P.plane, t[3], r.m);
    }
}

// Sum over the quad's valid pixels of the grey level 0.299 R + 0.587 G + 0.114 B (ITU-R 601, Pillow's "L"; the
// single channel when C < 3); image_mean.wgsl adds a plane's quads.
fn quad_grey(q: mat4x4<f32>, m: u32) -> f32 {
    let t = transpose(q);
    var g = t[0];
    if (C >= 3u) {
        g = 0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2];
    }
    let valid = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(m);
    return dot(select(vec4<f32>(0.0), g, valid), vec4<f32>(1.0));
}
