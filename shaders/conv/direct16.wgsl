// Direct convolution, 16-channel variant of conv/direct.wgsl (same bindings, params and weight packing with OCB =
// 4 * ceil(OCg / 16) 4-channel blocks): each invocation computes 16 output channels (of one group) x 8 adjacent
// output pixels of one row, with bias and ReLU fused. Taken when OCg > 8 (conv.py): each input load feeds 16
// channels, a (c, kh) row costs 7 + KW input loads and 4 * KW vec4 weight loads for 128 * KW FMAs.
// The same kernel computes the input gradient of a stride-1 convolution ("transposed" mode, conv.py
// _direct_grad_x): grad_x = conv(grad_out, flipped W^T, padding dilation*(K-1) - padding); the flip/transpose
// happens in conv/direct_wpack.wgsl, which packs the weights as one vec4 of 4 output channels per tap.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 wp: array<vec4<f32>> (read)
//   G*OCB x Cg x KH*KW (conv/direct_wpack.wgsl),
//   3 bias: array<f32> (read) OC (ignored unless has_bias = 1), 4 out: array<f32> (read_write) N x OC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = N * G * (OCB / 4) * OH * OWB, OCB = 4 * ceil(OCg / 16),
//   OWB = ceil(OW / 8). Lanes run along output pixels (adjacent lanes read adjacent inputs).
// Template: WG. Weights are staged in 16 KiB of workgroup memory when the workgroup shares them (wsh_max vec4s).
// Why this shape (lavapipe, a storage load ~50 FMAs): with stride = dilation = 1 the 8 pixels' inputs slide along
// the kernel row, so a (c, kh) row costs 7 + KW input loads and KW vec4 weight loads for 32 * KW FMAs (the 4x4
// version: 8 loads per 16 FMAs; 1.5-3x slower). Other strides load 8 inputs per tap.

#include "common/index.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, OCg: u32, OC: u32, KH: u32,
    KW: u32, OH: u32, OW: u32, OCB: u32, OWB: u32, G: u32, sh: u32, sw: u32,
    ph: u32, pw: u32, dh: u32, dw: u32, has_bias: u32, relu: u32, wsh_max: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// the workgroup's packed weights, staged once when all its invocations share one channel block (see main)
var<workgroup> wsh: array<vec4<f32>, 1024>;
var<private> use_sh: bool;
var<private> wbase: u32;

fn wload(t: u32) -> vec4<f32> {
    if (use_sh) {
        return wsh[t - wbase];
    }
    return wp[t];
}

fn finish(v: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return select(v + b, max(v + b, vec4<f32>(0.0)), p.relu == 1u);
}

// bias of 4 channels, loaded once per invocation (0 without bias)
fn bias4(oc: vec4<u32>) -> vec4<f32> {
    if (p.has_bias == 1u) {
        return vec4<f32>(bias[oc.x], bias[oc.y], bias[oc.z], bias[oc.w]);
    }
    return vec4<f32>();
}

// input at column iw of row offset xrow, 0 outside the image (clamped address, no divergent branch)
fn ld(xrow: u32, iw: i32) -> f32 {
    let W = i32(p.W);
    return select(0.0, x_in[xrow + u32(clamp(iw, 0, W - 1))], iw >= 0 && iw < W);
}

fn store4(base: u32, plane: u32, o0: u32, oc: vec4<u32>, v: vec4<f32>) {
    if (o0 < p.OCg) { out[base + oc.x * plane] = v.x; }
    if (o0 + 1u < p.OCg) { out[base + oc.y * plane] = v.y; }
    if (o0 + 2u < p.OCg) { out[base + oc.z * plane] = v.z; }
    if (o0 + 3u < p.OCg) { out[base + oc.w * plane] = v.w; }
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wg0 = flat_workgroup(wid, nwg) * {{WG}}u;
    let i = wg0 + lid;
    // Stage the weights in workgroup memory (a workgroup load is ~2x cheaper than a storage load on lavapipe) when
    // every invocation of the workgroup uses the same 4 weight block(s): one block per group and G == 1, or the
    // workgroup lies within one (image, block) run of OH * OWB invocations. wsh_max = 0 turns this off.
    let run = p.OH * p.OWB;
    let nbt = p.G * p.OCB / 4u;
    let r_first = wg0 / run;
    let r_last = (min(wg0 + {{WG}}u, p.n) - 1u) / run;
    let span = 4u * p.Cg * p.KH * p.KW;
    use_sh = (nbt == 1u || r_first == r_last) && span <= p.wsh_max;
    if (use_sh) {
        let bf = r_first % nbt;
        wbase = ((bf / (p.OCB / 4u)) * p.OCB + (bf % (p.OCB / 4u)) * 4u) * p.Cg * p.KH * p.KW;
        for (var k = lid; k < span; k += {{WG}}u) {
            wsh[k] = wp[wbase + k];
        }
    }
    workgroupBarrier();
    if (i >= p.n) {
        return;
    }
    let owb = i % p.OWB;
    var r = i / p.OWB;
    let oh = r % p.OH;
    r = r / p.OH;
    let nb16 = p.OCB / 4u;
    let b16 = r % (p.G * nb16);
    let n = r / (p.G * nb16);
    let g = b16 / nb16;
    let blk = g * p.OCB + (b16 % nb16) * 4u;    // first of the four 4-channel weight blocks
    let o0 = (b16 % nb16) * 16u;
    let last = p.OCg - 1u;
    // clamped: junk channels are computed, never stored
    let ol = vec4<u32>(min(o0, last), min(o0 + 1u, last), min(o0 + 2u, last), min(o0 + 3u, last));
    let ol2 = vec4<u32>(min(o0 + 4u, last), min(o0 + 5u, last), min(o0 + 6u, last), min(o0 + 7u, last));
    let ol3 = vec4<u32>(min(o0 + 8u, last), min(o0 + 9u, last), min(o0 + 10u, last), min(o0 + 11u, last));
    let ol4 = vec4<u32>(min(o0 + 12u, last), min(o0 + 13u, last), min(o0 + 14u, last), min(o0 + 15u, last));
    let ow0 = owb * 8u;
    let iw0 = i32(ow0 * p.sw) - i32(p.pw);
    let ih0 = i32(oh * p.sh) - i32(p.ph);
    let slide = p.sw == 1u && p.dw == 1u;
    let step = i32(p.sw);
    var a0 = vec4<f32>(); var a1 = vec4<f32>(); var a2 = vec4<f32>(); var a3 = vec4<f32>();
    var a4 = vec4<f32>(); var a5 = vec4<f32>(); var a6 = vec4<f32>(); var a7 = vec4<f32>();
    var b0 = vec4<f32>(); var b1 = vec4<f32>(); var b2 = vec4<f32>(); var b3 = vec4<f32>();
    var b4 = vec4<f32>(); var b5 = vec4<f32>(); var b6 = vec4<f32>(); var b7 = vec4<f32>();
    var c0 = vec4<f32>(); var c1 = vec4<f32>(); var c2 = vec4<f32>(); var c3 = vec4<f32>();
    var c4 = vec4<f32>(); var c5 = vec4<f32>(); var c6 = vec4<f32>(); var c7 = vec4<f32>();
    var d0 = vec4<f32>(); var d1 = vec4<f32>(); var d2 = vec4<f32>(); var d3 = vec4<f32>();
    var d4 = vec4<f32>(); var d5 = vec4<f32>(); var d6 = vec4<f32>(); var d7 = vec4<f32>();
    let khw = p.KH * p.KW;
    let wstep = p.Cg * khw;                     // from block blk to blk + 1
    for (var c = 0u; c < p.Cg; c++) {
        let xc = (n * p.C + g * p.Cg + c) * p.H;
        let wc = (blk * p.Cg + c) * khw;
        for (var kh = 0u; kh < p.KH; kh++) {
            let ih = ih0 + i32(kh * p.dh);
            if (ih < 0 || ih >= i32(p.H)) {
                continue;
            }
            let xrow = (xc + u32(ih)) * p.W;
            var t = wc + kh * p.KW;
            if (slide) {
                var x0 = ld(xrow, iw0); var x1 = ld(xrow, iw0 + 1); var x2 = ld(xrow, iw0 + 2);
                var x3 = ld(xrow, iw0 + 3); var x4 = ld(xrow, iw0 + 4); var x5 = ld(xrow, iw0 + 5);
                var x6 = ld(xrow, iw0 + 6);
                for (var kw = 0u; kw < p.KW; kw++) {
                    let x7 = ld(xrow, iw0 + 7 + i32(kw));
                    let wv = wload(t);
                    let wu = wload(t + wstep);
                    a0 += wv * x0; a1 += wv * x1; a2 += wv * x2; a3 += wv * x3;
                    a4 += wv * x4; a5 += wv * x5; a6 += wv * x6; a7 += wv * x7;
                    b0 += wu * x0; b1 += wu * x1; b2 += wu * x2; b3 += wu * x3;
                    b4 += wu * x4; b5 += wu * x5; b6 += wu * x6; b7 += wu * x7;
                    let w2 = wload(t + 2u * wstep);
                    let w3 = wload(t + 3u * wstep);
                    c0 += w2 * x0; c1 += w2 * x1; c2 += w2 * x2; c3 += w2 * x3;
                    c4 += w2 * x4; c5 += w2 * x5; c6 += w2 * x6; c7 += w2 * x7;
                    d0 += w3 * x0; d1 += w3 * x1; d2 += w3 * x2; d3 += w3 * x3;
                    d4 += w3 * x4; d5 += w3 * x5; d6 += w3 * x6; d7 += w3 * x7;
                    x0 = x1; x1 = x2; x2 = x3; x3 = x4; x4 = x5; x5 = x6; x6 = x7;
                    t++;
                }
            } else {
                for (var kw = 0u; kw < p.KW; kw++) {
                    let iw = iw0 + i32(kw * p.dw);
                    let wv = wload(t);
                    let wu = wload(t + wstep);
                    let x0 = ld(xrow, iw); let x1 = ld(xrow, iw + step); let x2 = ld(xrow, iw + 2 * step);
                    let x3 = ld(xrow, iw + 3 * step); let x4 = ld(xrow, iw + 4 * step);
                    let x5 = ld(xrow, iw + 5 * step); let x6 = ld(xrow, iw + 6 * step);
                    let x7 = ld(xrow, iw + 7 * step);
                    a0 += wv * x0; a1 += wv * x1; a2 += wv * x2; a3 += wv * x3;
                    a4 += wv * x4; a5 += wv * x5; a6 += wv * x6; a7 += wv * x7;
                    b0 += wu * x0; b1 += wu * x1; b2 += wu * x2; b3 += wu * x3;
                    b4 += wu * x4; b5 += wu * x5; b6 += wu * x6; b7 += wu * x7;
                    let w2 = wload(t + 2u * wstep);
                    let w3 = wload(t + 3u * wstep);
                    c0 += w2 * x0; c1 += w2 * x1; c2 += w2 * x2; c3 += w2 * x3;
                    c4 += w2 * x4; c5 += w2 * x5; c6 += w2 * x6; c7 += w2 * x7;
                    d0 += w3 * x0; d1 += w3 * x1; d2 += w3 * x2; d3 += w3 * x3;
                    d4 += w3 * x4; d5 += w3 * x5; d6 += w3 * x6; d7 += w3 * x7;
                    t++;
                }
            }
        }
    }
    // a_e = 4 channels at pixel ow0 + e
    let plane = p.OH * p.OW;
    let base = n * p.OC * plane + oh * p.OW + ow0;
    let oc = vec4<u32>(g * p.OCg) + ol;
    let oc2 = vec4<u32>(g * p.OCg) + ol2;
    let oc3 = vec4<u32>(g * p.OCg) + ol3;
    let oc4 = vec4<u32>(g * p.OCg) + ol4;
    let bv = bias4(oc);
    let bv2 = bias4(oc2);
    let bv3 = bias4(oc3);
    let bv4 = bias4(oc4);
    let accs = array<vec4<f32>, 8>(a0, a1, a2, a3, a4, a5, a6, a7);
    let accs2 = array<vec4<f32>, 8>(b0, b1, b2, b3, b4, b5, b6, b7);
    let accs3 = array<vec4<f32>, 8>(c0, c1, c2, c3, c4, c5, c6, c7);
    let accs4 = array<vec4<f32>, 8>(d0, d1, d2, d3, d4, d5, d6, d7);
    for (var e = 0u; e < 8u; e++) {
        if (ow0 + e >= p.OW) { break; }
        store4(base + e, plane, o0, oc, finish(accs[e], bv));
        store4(base + e, plane, o0 + 4u, oc2, finish(accs2[e], bv2));
        store4(base + e, plane, o0 + 8u, oc3, finish(accs3[e], bv3));
        store4(base + e, plane, o0 + 12u, oc4, finish(accs4[e], bv4));
    }
}
