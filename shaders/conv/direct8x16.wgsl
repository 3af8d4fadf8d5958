// Direct convolution, 8 output channels x 16 pixels: conv/direct.wgsl (OC_BLOCK = 8) with twice the pixels per
// invocation (same bindings, params and weight packing; OWB = ceil(OW / 16)). Taken on CPU adapters when
// 4 < OCg <= 8, OW > 8 and Cg * KH >= 16 (conv.py): a (c, kh) row costs 15 + KW input loads and 2 * KW vec4 weight
// loads for 128 * KW FMAs, ~30% fewer loads per FMA than direct.wgsl's 8 x 8; the larger epilogue only pays off
// over many rows (LeNet conv2's grad_x 1.14x, conv1's forward with 5 rows 0.5x on lavapipe).
//
// Bindings (conv/direct_common.wgsl): 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W,
//   2 wp: array<vec4<f32>> (read) G*OCB x Cg x KH*KW (conv/direct_wpack.wgsl),
//   3 bias: array<f32> (read) OC (ignored unless has_bias = 1), 4 out: array<f32> (read_write) N x OC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = N * G * (OCB / 2) * OH * OWB, OCB = 2 * ceil(OCg / 8),
//   OWB = ceil(OW / 16). Lanes run along output pixels (adjacent lanes read adjacent inputs).
// Template: WG. Weights are staged in 16 KiB of workgroup memory when the workgroup shares them (wsh_max vec4s).
// Why a separate kernel: the 16-pixel sliding window is hand-unrolled (named registers; naga/lavapipe spill
// dynamically indexed private arrays), and its shift chain differs from the 8-pixel one in conv/direct.wgsl.

#include "conv/direct_common.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wg0 = flat_workgroup(wid, nwg) * {{WG}}u;
    let i = wg0 + lid;
    stage_weights(wg0, lid, 2u);
    if (i >= p.n) {
        return;
    }
    let at = place(i, 2u, 16u);
    let iw0 = i32(at.ow0 * p.sw) - i32(p.pw);
    let ih0 = i32(at.oh * p.sh) - i32(p.ph);
    let slide = p.sw == 1u && p.dw == 1u;
    let step = i32(p.sw);
    // a: channels o0..o0+3, b: o0+4..o0+7; digit = pixel ow0 + digit
    var a0 = vec4<f32>(); var b0 = vec4<f32>();
    var a1 = vec4<f32>(); var b1 = vec4<f32>();
    var a2 = vec4<f32>(); var b2 = vec4<f32>();
    var a3 = vec4<f32>(); var b3 = vec4<f32>();
    var a4 = vec4<f32>(); var b4 = vec4<f32>();
    var a5 = vec4<f32>(); var b5 = vec4<f32>();
    var a6 = vec4<f32>(); var b6 = vec4<f32>();
    var a7 = vec4<f32>(); var b7 = vec4<f32>();
    var a8 = vec4<f32>(); var b8 = vec4<f32>();
    var a9 = vec4<f32>(); var b9 = vec4<f32>();
    var a10 = vec4<f32>(); var b10 = vec4<f32>();
    var a11 = vec4<f32>(); var b11 = vec4<f32>();
    var a12 = vec4<f32>(); var b12 = vec4<f32>();
    var a13 = vec4<f32>(); var b13 = vec4<f32>();
    var a14 = vec4<f32>(); var b14 = vec4<f32>();
    var a15 = vec4<f32>(); var b15 = vec4<f32>();
    let khw = p.KH * p.KW;
    let wstep = p.Cg * khw;                     // from block blk to blk + 1
    for (var c = 0u; c < p.Cg; c++) {
        let wc = (at.blk * p.Cg + c) * khw;
        for (var kh = 0u; kh < p.KH; kh++) {
            let ih = ih0 + i32(kh * p.dh);
            if (!row_inside(ih)) {
                continue;
            }
            let xrow = xrow_of(at.n, at.g, c, ih);
            var t = wc + kh * p.KW;
            if (slide) {
                var x0 = ld(xrow, iw0 + 0);
                var x1 = ld(xrow, iw0 + 1);
                var x2 = ld(xrow, iw0 + 2);
                var x3 = ld(xrow, iw0 + 3);
                var x4 = ld(xrow, iw0 + 4);
                var x5 = ld(xrow, iw0 + 5);
                var x6 = ld(xrow, iw0 + 6);
                var x7 = ld(xrow, iw0 + 7);
                var x8 = ld(xrow, iw0 + 8);
                var x9 = ld(xrow, iw0 + 9);
                var x10 = ld(xrow, iw0 + 10);
                var x11 = ld(xrow, iw0 + 11);
                var x12 = ld(xrow, iw0 + 12);
                var x13 = ld(xrow, iw0 + 13);
                var x14 = ld(xrow, iw0 + 14);
                for (var kw = 0u; kw < p.KW; kw++) {
                    let x15 = ld(xrow, iw0 + 15 + i32(kw));
                    let wv = wload(t);
                    let wu = wload(t + wstep);
                    a0 += wv * x0; b0 += wu * x0;
                    a1 += wv * x1; b1 += wu * x1;
                    a2 += wv * x2; b2 += wu * x2;
                    a3 += wv * x3; b3 += wu * x3;
                    a4 += wv * x4; b4 += wu * x4;
                    a5 += wv * x5; b5 += wu * x5;
                    a6 += wv * x6; b6 += wu * x6;
                    a7 += wv * x7; b7 += wu * x7;
                    a8 += wv * x8; b8 += wu * x8;
                    a9 += wv * x9; b9 += wu * x9;
                    a10 += wv * x10; b10 += wu * x10;
                    a11 += wv * x11; b11 += wu * x11;
                    a12 += wv * x12; b12 += wu * x12;
                    a13 += wv * x13; b13 += wu * x13;
                    a14 += wv * x14; b14 += wu * x14;
                    a15 += wv * x15; b15 += wu * x15;
                    x0 = x1; x1 = x2; x2 = x3; x3 = x4; x4 = x5; x5 = x6; x6 = x7; x7 = x8; x8 = x9; x9 = x10; x10 = x11; x11 = x12; x12 = x13; x13 = x14; x14 = x15;
                    t++;
                }
            } else {
                for (var kw = 0u; kw < p.KW; kw++) {
                    let iw = iw0 + i32(kw * p.dw);
                    let wv = wload(t);
                    let wu = wload(t + wstep);
                    let x0 = ld(xrow, iw + 0 * step);
                    a0 += wv * x0; b0 += wu * x0;
                    let x1 = ld(xrow, iw + 1 * step);
                    a1 += wv * x1; b1 += wu * x1;
                    let x2 = ld(xrow, iw + 2 * step);
                    a2 += wv * x2; b2 += wu * x2;
                    let x3 = ld(xrow, iw + 3 * step);
                    a3 += wv * x3; b3 += wu * x3;
                    let x4 = ld(xrow, iw + 4 * step);
                    a4 += wv * x4; b4 += wu * x4;
                    let x5 = ld(xrow, iw + 5 * step);
                    a5 += wv * x5; b5 += wu * x5;
                    let x6 = ld(xrow, iw + 6 * step);
                    a6 += wv * x6; b6 += wu * x6;
                    let x7 = ld(xrow, iw + 7 * step);
                    a7 += wv * x7; b7 += wu * x7;
                    let x8 = ld(xrow, iw + 8 * step);
                    a8 += wv * x8; b8 += wu * x8;
                    let x9 = ld(xrow, iw + 9 * step);
                    a9 += wv * x9; b9 += wu * x9;
                    let x10 = ld(xrow, iw + 10 * step);
                    a10 += wv * x10; b10 += wu * x10;
                    let x11 = ld(xrow, iw + 11 * step);
                    a11 += wv * x11; b11 += wu * x11;
                    let x12 = ld(xrow, iw + 12 * step);
                    a12 += wv * x12; b12 += wu * x12;
                    let x13 = ld(xrow, iw + 13 * step);
                    a13 += wv * x13; b13 += wu * x13;
                    let x14 = ld(xrow, iw + 14 * step);
                    a14 += wv * x14; b14 += wu * x14;
                    let x15 = ld(xrow, iw + 15 * step);
                    a15 += wv * x15; b15 += wu * x15;
                    t++;
                }
            }
        }
    }
    let plane = p.OH * p.OW;
    let base = at.n * p.OC * plane + at.oh * p.OW + at.ow0;
    let oa = chans4(at.g, at.o0);
    let ob = chans4(at.g, at.o0 + 4u);
    let ba = bias4(oa);
    let bb = bias4(ob);
    let accs = array<vec4<f32>, 16>(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
    let accs2 = array<vec4<f32>, 16>(b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15);
    for (var e = 0u; e < 16u; e++) {
        if (at.ow0 + e >= p.OW) { break; }
        store4(base + e, plane, at.o0, oa, finish(accs[e], ba));
        store4(base + e, plane, at.o0 + 4u, ob, finish(accs2[e], bb));
    }
}
