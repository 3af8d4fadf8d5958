// Convolution forward, stride 1 across, for CPU adapters (lavapipe, SwiftShader): an implicit GEMM whose B operand
// is a window sliding along one input row and whose A operand (the weights) is shared across lanes with
// subgroupBroadcast. out[n, oc, oh, ow..ow+3] = act(bias + sum over (c, kh, kw) of W[oc, c, kh, kw] *
// x[n, c, oh*sh + kh*dh - ph, ow + kw - pw]) for ROWS output channels per workgroup.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 wp: array<vec4<f32>> (read)
//   OC x C x KH x 8 (the weights with each kernel row zero-padded to 8 taps, layout/pad2d), 3 bias: array<f32>
//   (read) OC (ignored unless has_bias = 1), 4 out: array<f32> (read_write) N x OC x OH x OW.
// Dispatch: (ceil(npx / 8), RB, 1) workgroups of 8; npx = N * OH * OWq pixel quads (OWq = ceil(OW / 4)), RB =
//   ceil(OC / ROWS) blocks of output channels. Needs KW <= 5 (the 8-value window) and stride 1, dilation 1 across.
// Template: ROWS (8 or 16): output channels per workgroup; KW (1..5): the kernel width; LANES (8: subgroups of >= 8 lanes numbered like the
//   local index; 4: any subgroup of >= 4 lanes, SwiftShader).
// Why (lavapipe, where a per-lane storage load costs ~50 FMAs): per (c, kh) a lane loads 8 input values and
// ROWS / 4 weight vec4s (lane q holds the rows of channels q and q + 8), not the 4 * KW gathered inputs and
// ROWS * KW / 4 weight loads of conv/implicit.wgsl; the taps are constant swizzles of the window. With LANES 4
// lane q holds channels q, q + 4, ... and the broadcasts come from lanes 0..3. Kernel rows that miss the input for
// every lane of the subgroup are skipped (subgroupMin/Max of the lanes' ranges): grad_x's 4-row zero padding of
// LeNet conv2. Interleaved A/B, loaded lavapipe, GPU time: conv1 N=64 forward 1.30 -> 1.04 ms, conv2 1.31 -> 0.97,
// conv2 grad_x 3.44 -> 2.04 (named accumulators, the LANES template instead of a run-time branch, the row skip).

enable subgroups;
// the broadcasts follow a clamped, per-lane pixel index that Tint cannot prove subgroup-uniform
diagnostic(off, subgroup_uniformity);

#include "common/nan.wgsl"

struct Params {
    npx: u32, C: u32, H: u32, W: u32, OC: u32, KH: u32, OH: u32, OW: u32,
    OWq: u32, sh: u32, ph: u32, pw: u32, dh: u32, has_bias: u32, relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const ROWS: u32 = {{ROWS}}u;

const LANES: u32 = {{LANES}}u;

const KW: u32 = {{KW}}u;

// the KW taps of the window (lo = x[0..3], hi = x[4..7]) times one channel's kernel row (w0 = taps 0..3, w4 = tap
// 4). Only the kernel's own taps are multiplied: the zero weights past KW would turn a NaN/Inf input just outside
// the receptive field into NaN (0 * Inf), and the constant KW folds them away.
fn taps(lo: vec4<f32>, hi: vec4<f32>, w0: vec4<f32>, w4: f32) -> vec4<f32> {
    var s = lo * w0.x;
    if (KW >= 2u) { s += vec4<f32>(lo.yzw, hi.x) * w0.y; }
    if (KW >= 3u) { s += vec4<f32>(lo.zw, hi.xy) * w0.z; }
    if (KW >= 4u) { s += vec4<f32>(lo.w, hi.xyz) * w0.w; }
    if (KW == 5u) { s += hi * w4; }
    return s;
}

// Accumulators are named variables passed by pointer, not a private array: lavapipe kept an array that the (not
// unrolled) channel loop touches in scratch memory, constant indices or not.
// a0..a3 += the window times the kernel rows lanes 0..3 (rank_lo) or 4..7 (rank_hi) hold (w0 taps 0..3, w1.x tap 4)
fn rank_lo(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>, a2: ptr<function, vec4<f32>>,
           a3: ptr<function, vec4<f32>>, lo: vec4<f32>, hi: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>) {
    *a0 += taps(lo, hi, subgroupBroadcast(w0, 0u), subgroupBroadcast(w1.x, 0u));
    *a1 += taps(lo, hi, subgroupBroadcast(w0, 1u), subgroupBroadcast(w1.x, 1u));
    *a2 += taps(lo, hi, subgroupBroadcast(w0, 2u), subgroupBroadcast(w1.x, 2u));
    *a3 += taps(lo, hi, subgroupBroadcast(w0, 3u), subgroupBroadcast(w1.x, 3u));
}

fn rank_hi(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>, a2: ptr<function, vec4<f32>>,
           a3: ptr<function, vec4<f32>>, lo: vec4<f32>, hi: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>) {
    *a0 += taps(lo, hi, subgroupBroadcast(w0, 4u), subgroupBroadcast(w1.x, 4u));
    *a1 += taps(lo, hi, subgroupBroadcast(w0, 5u), subgroupBroadcast(w1.x, 5u));
    *a2 += taps(lo, hi, subgroupBroadcast(w0, 6u), subgroupBroadcast(w1.x, 6u));
    *a3 += taps(lo, hi, subgroupBroadcast(w0, 7u), subgroupBroadcast(w1.x, 7u));
}

fn load_or_zero(i: i32, ok: bool) -> f32 {
    return select(0.0, x_in[select(0, i, ok)], ok);
}

// the 4 pixels v of channel oc0 + r (constant r), bias and ReLU applied, where they exist
fn store(v0: vec4<f32>, r: u32, oc0: u32, plane: u32, ow0: u32) {
    let oc = oc0 + r;
    if (oc >= p.OC) {
        return;
    }
    var v = v0;
    if (p.has_bias == 1u) { v += vec4<f32>(bias[oc]); }
    if (p.relu == 1u) { v = max_nan4(v, vec4<f32>(0.0)); }  // NaN stays NaN (numpy's maximum)
    let o = plane + oc * p.OH * p.OW;
    out[o] = v.x;
    if (ow0 + 1u < p.OW) { out[o + 1u] = v.y; }
    if (ow0 + 2u < p.OW) { out[o + 2u] = v.z; }
    if (ow0 + 3u < p.OW) { out[o + 3u] = v.w; }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let i = min(wg.x * 8u + li, p.npx - 1u);     // clamped: surplus lanes repeat the last quad, never store
    let live = wg.x * 8u + li < p.npx;
    let owq = i % p.OWq;
    let row = i / p.OWq;
    let oh = row % p.OH;
    let n = row / p.OH;
    let ow0 = owq * 4u;
    let oc0 = wg.y * ROWS;
    let H = i32(p.H);
    let W = i32(p.W);
    let x0 = i32(ow0) - i32(p.pw);
    let y0 = i32(oh * p.sh) - i32(p.ph);
    let KH = p.KH;
    // the weight rows this lane holds: channels q + 8j (LANES 8) or q + 4j (LANES 4)
    let q = li % LANES;
    let step = LANES;
    let oc_last = p.OC - 1u;
    let rw0 = min(oc0 + q, oc_last) * p.C * KH;
    let rw1 = min(oc0 + q + step, oc_last) * p.C * KH;
    let rw2 = min(oc0 + q + 2u * step, oc_last) * p.C * KH;
    let rw3 = min(oc0 + q + 3u * step, oc_last) * p.C * KH;
    var a0 = vec4<f32>(); var a1 = vec4<f32>(); var a2 = vec4<f32>(); var a3 = vec4<f32>();
    var a4 = vec4<f32>(); var a5 = vec4<f32>(); var a6 = vec4<f32>(); var a7 = vec4<f32>();
    var a8 = vec4<f32>(); var a9 = vec4<f32>(); var a10 = vec4<f32>(); var a11 = vec4<f32>();
    var a12 = vec4<f32>(); var a13 = vec4<f32>(); var a14 = vec4<f32>(); var a15 = vec4<f32>();
    // kernel rows that meet the input for some lane of the subgroup (the padding rows of grad_x are skipped)
    let dh = i32(p.dh);
    let lane_lo = select(0, (dh - 1 - y0) / dh, y0 < 0);
    let lane_hi = clamp((H - y0 + dh - 1) / dh, lane_lo, i32(KH));
    let kh_lo = subgroupMin(u32(lane_lo));
    let kh_hi = subgroupMax(u32(lane_hi));
    for (var c = 0u; c < p.C; c++) {
        let plane = i32((n * p.C + c) * p.H * p.W);
        for (var kh = kh_lo; kh < kh_hi; kh++) {
            let y = y0 + i32(kh * p.dh);
            let yok = y >= 0 && y < H;
            let base = plane + y * W + x0;
            let lo = vec4<f32>(load_or_zero(base, yok && x0 >= 0 && x0 < W),
                               load_or_zero(base + 1, yok && x0 + 1 >= 0 && x0 + 1 < W),
                               load_or_zero(base + 2, yok && x0 + 2 >= 0 && x0 + 2 < W),
                               load_or_zero(base + 3, yok && x0 + 3 >= 0 && x0 + 3 < W));
            let hi = vec4<f32>(load_or_zero(base + 4, yok && x0 + 4 >= 0 && x0 + 4 < W),
                               load_or_zero(base + 5, yok && x0 + 5 >= 0 && x0 + 5 < W),
                               load_or_zero(base + 6, yok && x0 + 6 >= 0 && x0 + 6 < W),
                               load_or_zero(base + 7, yok && x0 + 7 >= 0 && x0 + 7 < W));
            let t = c * KH + kh;                 // kernel row (c, kh): two vec4s of each channel's row
            let wa = wp[(rw0 + t) * 2u];
            let wb = wp[(rw0 + t) * 2u + 1u];
            if (LANES == 8u) {
                rank_lo(&a0, &a1, &a2, &a3, lo, hi, wa, wb);
                rank_hi(&a4, &a5, &a6, &a7, lo, hi, wa, wb);
                if (ROWS == 16u) {
                    let wc = wp[(rw1 + t) * 2u];
                    let wd = wp[(rw1 + t) * 2u + 1u];
                    rank_lo(&a8, &a9, &a10, &a11, lo, hi, wc, wd);
                    rank_hi(&a12, &a13, &a14, &a15, lo, hi, wc, wd);
                }
            } else {
                rank_lo(&a0, &a1, &a2, &a3, lo, hi, wa, wb);
                rank_lo(&a4, &a5, &a6, &a7, lo, hi, wp[(rw1 + t) * 2u], wp[(rw1 + t) * 2u + 1u]);
                if (ROWS == 16u) {
                    rank_lo(&a8, &a9, &a10, &a11, lo, hi, wp[(rw2 + t) * 2u], wp[(rw2 + t) * 2u + 1u]);
                    rank_lo(&a12, &a13, &a14, &a15, lo, hi, wp[(rw3 + t) * 2u], wp[(rw3 + t) * 2u + 1u]);
                }
            }
        }
    }
    if (!live) {
        return;
    }
    let plane = n * p.OC * p.OH * p.OW + oh * p.OW + ow0;
    store(a0, 0u, oc0, plane, ow0); store(a1, 1u, oc0, plane, ow0);
    store(a2, 2u, oc0, plane, ow0); store(a3, 3u, oc0, plane, ow0);
    store(a4, 4u, oc0, plane, ow0); store(a5, 5u, oc0, plane, ow0);
    store(a6, 6u, oc0, plane, ow0); store(a7, 7u, oc0, plane, ow0);
    if (ROWS == 16u) {
        store(a8, 8u, oc0, plane, ow0); store(a9, 9u, oc0, plane, ow0);
        store(a10, 10u, oc0, plane, ow0); store(a11, 11u, oc0, plane, ow0);
        store(a12, 12u, oc0, plane, ow0); store(a13, 13u, oc0, plane, ow0);
        store(a14, 14u, oc0, plane, ow0); store(a15, 15u, oc0, plane, ow0);
    }
}
