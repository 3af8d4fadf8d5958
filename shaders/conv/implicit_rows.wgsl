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
// Template: ROWS (8 or 16): output channels per workgroup.
// Why (lavapipe, where a per-lane storage load costs ~50 FMAs): per (c, kh) a lane loads 8 input values and
// ROWS / 4 weight vec4s (lane q holds the rows of channels q and q + 8), not the 4 * KW gathered inputs and
// ROWS * KW / 4 weight loads of conv/implicit.wgsl; the taps are constant swizzles of the window. On 4-lane
// subgroups (SwiftShader) lane q holds channels q, q + 4, ... and the broadcasts come from lanes 0..3.

enable subgroups;
// Tint does not treat subgroupAll(...) as subgroup-uniform; the broadcasts below are guarded by it.
diagnostic(off, subgroup_uniformity);

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

alias Acc = array<vec4<f32>, 16>;

// acc[r] += the 5 taps of the window (lo = x[0..3], hi = x[4..7]) times channel r's kernel row (w0 = taps 0..3,
// w4 = tap 4), for the channel whose row lane l holds (r, l constant at every call).
fn taps(acc: ptr<function, Acc>, r: u32, lo: vec4<f32>, hi: vec4<f32>, w0: vec4<f32>, w4: f32) {
    (*acc)[r] += lo * w0.x + vec4<f32>(lo.yzw, hi.x) * w0.y + vec4<f32>(lo.zw, hi.xy) * w0.z
        + vec4<f32>(lo.w, hi.xyz) * w0.w + hi * w4;
}

fn rank8(acc: ptr<function, Acc>, r: u32, lo: vec4<f32>, hi: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>) {
    taps(acc, r, lo, hi, subgroupBroadcast(w0, 0u), subgroupBroadcast(w1.x, 0u));
    taps(acc, r + 1u, lo, hi, subgroupBroadcast(w0, 1u), subgroupBroadcast(w1.x, 1u));
    taps(acc, r + 2u, lo, hi, subgroupBroadcast(w0, 2u), subgroupBroadcast(w1.x, 2u));
    taps(acc, r + 3u, lo, hi, subgroupBroadcast(w0, 3u), subgroupBroadcast(w1.x, 3u));
    taps(acc, r + 4u, lo, hi, subgroupBroadcast(w0, 4u), subgroupBroadcast(w1.x, 4u));
    taps(acc, r + 5u, lo, hi, subgroupBroadcast(w0, 5u), subgroupBroadcast(w1.x, 5u));
    taps(acc, r + 6u, lo, hi, subgroupBroadcast(w0, 6u), subgroupBroadcast(w1.x, 6u));
    taps(acc, r + 7u, lo, hi, subgroupBroadcast(w0, 7u), subgroupBroadcast(w1.x, 7u));
}

fn rank4(acc: ptr<function, Acc>, r: u32, lo: vec4<f32>, hi: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>) {
    taps(acc, r, lo, hi, subgroupBroadcast(w0, 0u), subgroupBroadcast(w1.x, 0u));
    taps(acc, r + 1u, lo, hi, subgroupBroadcast(w0, 1u), subgroupBroadcast(w1.x, 1u));
    taps(acc, r + 2u, lo, hi, subgroupBroadcast(w0, 2u), subgroupBroadcast(w1.x, 2u));
    taps(acc, r + 3u, lo, hi, subgroupBroadcast(w0, 3u), subgroupBroadcast(w1.x, 3u));
}

fn load_or_zero(i: i32, ok: bool) -> f32 {
    return select(0.0, x_in[select(0, i, ok)], ok);
}

// the 4 pixels of channel oc0 + r (constant r), bias and ReLU applied, where they exist
fn store(acc: ptr<function, Acc>, r: u32, oc0: u32, plane: u32, ow0: u32) {
    let oc = oc0 + r;
    if (oc >= p.OC) {
        return;
    }
    var v = (*acc)[r];
    if (p.has_bias == 1u) { v += vec4<f32>(bias[oc]); }
    if (p.relu == 1u) { v = max(v, vec4<f32>(0.0)); }
    let o = plane + oc * p.OH * p.OW;
    out[o] = v.x;
    if (ow0 + 1u < p.OW) { out[o + 1u] = v.y; }
    if (ow0 + 2u < p.OW) { out[o + 2u] = v.z; }
    if (ow0 + 3u < p.OW) { out[o + 3u] = v.w; }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32) {
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
    let fast = subgroupAll(sg_size >= 8u && lane == li);
    // the weight rows this lane holds: channels q + 8j (8-lane subgroups) or q + 4j (4-lane)
    let q = select(lane % 4u, lane, fast);
    let step = select(4u, 8u, fast);
    let oc_last = p.OC - 1u;
    let rw0 = min(oc0 + q, oc_last) * p.C * KH;
    let rw1 = min(oc0 + q + step, oc_last) * p.C * KH;
    let rw2 = min(oc0 + q + 2u * step, oc_last) * p.C * KH;
    let rw3 = min(oc0 + q + 3u * step, oc_last) * p.C * KH;
    var acc: Acc;
    for (var c = 0u; c < p.C; c++) {
        let plane = i32((n * p.C + c) * p.H * p.W);
        for (var kh = 0u; kh < KH; kh++) {
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
            if (fast) {
                rank8(&acc, 0u, lo, hi, wp[(rw0 + t) * 2u], wp[(rw0 + t) * 2u + 1u]);
                if (ROWS == 16u) {
                    rank8(&acc, 8u, lo, hi, wp[(rw1 + t) * 2u], wp[(rw1 + t) * 2u + 1u]);
                }
            } else {
                rank4(&acc, 0u, lo, hi, wp[(rw0 + t) * 2u], wp[(rw0 + t) * 2u + 1u]);
                rank4(&acc, 4u, lo, hi, wp[(rw1 + t) * 2u], wp[(rw1 + t) * 2u + 1u]);
                if (ROWS == 16u) {
                    rank4(&acc, 8u, lo, hi, wp[(rw2 + t) * 2u], wp[(rw2 + t) * 2u + 1u]);
                    rank4(&acc, 12u, lo, hi, wp[(rw3 + t) * 2u], wp[(rw3 + t) * 2u + 1u]);
                }
            }
        }
    }
    if (!live) {
        return;
    }
    let plane = n * p.OC * p.OH * p.OW + oh * p.OW + ow0;
    store(&acc, 0u, oc0, plane, ow0); store(&acc, 1u, oc0, plane, ow0);
    store(&acc, 2u, oc0, plane, ow0); store(&acc, 3u, oc0, plane, ow0);
    store(&acc, 4u, oc0, plane, ow0); store(&acc, 5u, oc0, plane, ow0);
    store(&acc, 6u, oc0, plane, ow0); store(&acc, 7u, oc0, plane, ow0);
    if (ROWS == 16u) {
        store(&acc, 8u, oc0, plane, ow0); store(&acc, 9u, oc0, plane, ow0);
        store(&acc, 10u, oc0, plane, ow0); store(&acc, 11u, oc0, plane, ow0);
        store(&acc, 12u, oc0, plane, ow0); store(&acc, 13u, oc0, plane, ow0);
        store(&acc, 14u, oc0, plane, ow0); store(&acc, 15u, oc0, plane, ow0);
    }
}
