// Direct convolution, register-blocked: each invocation computes OC_BLOCK = 4, 8 or 16 output channels (of one
// group) x 8 adjacent output pixels of one row, with bias and ReLU fused. No barriers outside the weight staging.
// The same kernel computes the input gradient of a stride-1 convolution ("transposed" mode, conv.py
// _direct_grad_x): grad_x = conv(grad_out, flipped W^T, padding dilation*(K-1) - padding); the flip/transpose
// happens in conv/direct_wpack.wgsl, which packs the weights as one vec4 of 4 output channels per tap.
//
// Bindings (conv/direct_common.wgsl): 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W,
//   2 wp: array<vec4<f32>> (read) G*OCB x Cg x KH*KW (conv/direct_wpack.wgsl),
//   3 bias: array<f32> (read) OC (ignored unless has_bias = 1), 4 out: array<f32> (read_write) N x OC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = N * G * (OCB / NB) * OH * OWB, NB = OC_BLOCK / 4
//   weight blocks per invocation, OCB = NB * ceil(OCg / OC_BLOCK), OWB = ceil(OW / 8).
// Template: WG; OC_BLOCK (4, 8, 16: 8 and 16 hold 64 / 128 accumulators, CPU adapters only, conv.py). Weights are
//   staged in 16 KiB of workgroup memory when the workgroup shares them (wsh_max vec4s).
// Why this shape (lavapipe, a storage load ~50 FMAs): with stride = dilation = 1 the 8 pixels' inputs slide along
// the kernel row, so a (c, kh) row costs 7 + KW input loads and NB * KW vec4 weight loads for 32 * NB * KW FMAs
// (the 4x4 version: 8 loads per 16 FMAs; 1.5-3x slower). Other strides load 8 inputs per tap. The accumulators
// are struct members, never indexed arrays (naga/lavapipe spill dynamically indexed private arrays); the NB >= 2 /
// NB == 4 branches have constant conditions and fold away, leaving one kernel per OC_BLOCK as if hand-written.

#include "conv/direct_common.wgsl"

const NB: u32 = {{OC_BLOCK}}u / 4u;

// the inputs under the 8 pixels for one tap, and 4 channels x 8 pixels of accumulators (struct members, not
// arrays: they stay registers)
struct Px8 { x0: f32, x1: f32, x2: f32, x3: f32, x4: f32, x5: f32, x6: f32, x7: f32 }
struct Acc8 {
    e0: vec4<f32>, e1: vec4<f32>, e2: vec4<f32>, e3: vec4<f32>,
    e4: vec4<f32>, e5: vec4<f32>, e6: vec4<f32>, e7: vec4<f32>,
}

fn fma8(acc: ptr<function, Acc8>, w: vec4<f32>, x: Px8) {
    (*acc).e0 += w * x.x0; (*acc).e1 += w * x.x1; (*acc).e2 += w * x.x2; (*acc).e3 += w * x.x3;
    (*acc).e4 += w * x.x4; (*acc).e5 += w * x.x5; (*acc).e6 += w * x.x6; (*acc).e7 += w * x.x7;
}

// one tap (weight vec4s t, t + wstep, ...) of the NB channel blocks
fn tap(a: ptr<function, Acc8>, b: ptr<function, Acc8>, c: ptr<function, Acc8>, d: ptr<function, Acc8>,
       t: u32, wstep: u32, x: Px8) {
    fma8(a, wload(t), x);
    if (NB >= 2u) {
        fma8(b, wload(t + wstep), x);
    }
    if (NB == 4u) {
        fma8(c, wload(t + 2u * wstep), x);
        fma8(d, wload(t + 3u * wstep), x);
    }
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wg0 = flat_workgroup(wid, nwg) * {{WG}}u;
    let i = wg0 + lid;
    stage_weights(wg0, lid, NB);
    if (i >= p.n) {
        return;
    }
    let at = place(i, NB, 8u);
    let iw0 = i32(at.ow0 * p.sw) - i32(p.pw);
    let ih0 = i32(at.oh * p.sh) - i32(p.ph);
    let slide = p.sw == 1u && p.dw == 1u;
    let step = i32(p.sw);
    // a: channels o0..o0+3, b: +4..+7, c: +8..+11, d: +12..+15
    var a = Acc8(); var b = Acc8(); var c = Acc8(); var d = Acc8();
    let khw = p.KH * p.KW;
    let wstep = p.Cg * khw;                     // from block blk to blk + 1
    for (var ci = 0u; ci < p.Cg; ci++) {
        let wc = (at.blk * p.Cg + ci) * khw;
        for (var kh = 0u; kh < p.KH; kh++) {
            let ih = ih0 + i32(kh * p.dh);
            if (!row_inside(ih)) {
                continue;
            }
            let xrow = xrow_of(at.n, at.g, ci, ih);
            var t = wc + kh * p.KW;
            if (slide) {
                var x = Px8(ld(xrow, iw0), ld(xrow, iw0 + 1), ld(xrow, iw0 + 2), ld(xrow, iw0 + 3),
                            ld(xrow, iw0 + 4), ld(xrow, iw0 + 5), ld(xrow, iw0 + 6), 0.0);
                for (var kw = 0u; kw < p.KW; kw++) {
                    x.x7 = ld(xrow, iw0 + 7 + i32(kw));
                    tap(&a, &b, &c, &d, t, wstep, x);
                    x = Px8(x.x1, x.x2, x.x3, x.x4, x.x5, x.x6, x.x7, 0.0);
                    t++;
                }
            } else {
                for (var kw = 0u; kw < p.KW; kw++) {
                    let iw = iw0 + i32(kw * p.dw);
                    let x = Px8(ld(xrow, iw), ld(xrow, iw + step), ld(xrow, iw + 2 * step), ld(xrow, iw + 3 * step),
                                ld(xrow, iw + 4 * step), ld(xrow, iw + 5 * step), ld(xrow, iw + 6 * step),
                                ld(xrow, iw + 7 * step));
                    tap(&a, &b, &c, &d, t, wstep, x);
                    t++;
                }
            }
        }
    }
    let plane = p.OH * p.OW;
    let base = at.n * p.OC * plane + at.oh * p.OW + at.ow0;
    let oa = chans4(at.g, at.o0); let ob = chans4(at.g, at.o0 + 4u);
    let oc = chans4(at.g, at.o0 + 8u); let od = chans4(at.g, at.o0 + 12u);
    let ba = bias4(oa);
    var bb = vec4<f32>(); var bc = vec4<f32>(); var bd = vec4<f32>();
    if (NB >= 2u) { bb = bias4(ob); }
    if (NB == 4u) { bc = bias4(oc); bd = bias4(od); }
    let accs = array<vec4<f32>, 8>(a.e0, a.e1, a.e2, a.e3, a.e4, a.e5, a.e6, a.e7);
    let accs2 = array<vec4<f32>, 8>(b.e0, b.e1, b.e2, b.e3, b.e4, b.e5, b.e6, b.e7);
    let accs3 = array<vec4<f32>, 8>(c.e0, c.e1, c.e2, c.e3, c.e4, c.e5, c.e6, c.e7);
    let accs4 = array<vec4<f32>, 8>(d.e0, d.e1, d.e2, d.e3, d.e4, d.e5, d.e6, d.e7);
    for (var e = 0u; e < 8u; e++) {
        if (at.ow0 + e >= p.OW) { break; }
        store4(base + e, plane, at.o0, oa, finish(accs[e], ba));
        if (NB >= 2u) { store4(base + e, plane, at.o0 + 4u, ob, finish(accs2[e], bb)); }
        if (NB == 4u) {
            store4(base + e, plane, at.o0 + 8u, oc, finish(accs3[e], bc));
            store4(base + e, plane, at.o0 + 12u, od, finish(accs4[e], bd));
        }
    }
}
