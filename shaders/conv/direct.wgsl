// Direct convolution, register-blocked: each invocation computes 4 output channels (of one group) x 4 adjacent
// output pixels of one row, with bias and ReLU fused. No workgroup memory, no barriers.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 w: array<f32> (read)
//   OC x Cg x KH x KW, 3 bias: array<f32> (read) OC (ignored unless has_bias = 1), 4 out: array<f32>
//   (read_write) N x OC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = N * G * OCB * OH * OWB, OCB = ceil(OCg / 4),
//   OWB = ceil(OW / 4). Lanes run along output pixels (adjacent lanes read adjacent inputs, weights are the same
//   address across a row of lanes).
// Template: WG.
// Why this shape: per tap 4 weight + 4 input loads feed 16 FMAs (a storage load costs ~50 FMAs on lavapipe, so
// the blocking is what matters); it needs no column buffer, which wins for depthwise/small channel counts where a
// GEMM's tile would idle.

#include "common/index.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, OCg: u32, OC: u32, KH: u32,
    KW: u32, OH: u32, OW: u32, OCB: u32, OWB: u32, G: u32, sh: u32, sw: u32,
    ph: u32, pw: u32, dh: u32, dw: u32, has_bias: u32, relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn finish(v: f32, oc: u32) -> f32 {
    var r = v;
    if (p.has_bias == 1u) { r += bias[oc]; }
    if (p.relu == 1u) { r = max(r, 0.0); }
    return r;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let owb = i % p.OWB;
    var r = i / p.OWB;
    let oh = r % p.OH;
    r = r / p.OH;
    let blk = r % (p.G * p.OCB);
    let n = r / (p.G * p.OCB);
    let g = blk / p.OCB;
    let o0 = (blk % p.OCB) * 4u;
    let last = p.OCg - 1u;
    let oc0 = g * p.OCg + min(o0, last);          // clamped: junk channels are computed, never stored
    let oc1 = g * p.OCg + min(o0 + 1u, last);
    let oc2 = g * p.OCg + min(o0 + 2u, last);
    let oc3 = g * p.OCg + min(o0 + 3u, last);
    let khw = p.KH * p.KW;
    let ow0 = owb * 4u;
    let iw0 = i32(ow0 * p.sw) - i32(p.pw);
    let ih0 = i32(oh * p.sh) - i32(p.ph);
    let step = i32(p.sw);
    var acc0 = vec4<f32>(); var acc1 = vec4<f32>(); var acc2 = vec4<f32>(); var acc3 = vec4<f32>();
    for (var c = 0u; c < p.Cg; c++) {
        let xc = (n * p.C + g * p.Cg + c) * p.H;
        let wc = c * khw;
        for (var kh = 0u; kh < p.KH; kh++) {
            let ih = ih0 + i32(kh * p.dh);
            if (ih < 0 || ih >= i32(p.H)) {
                continue;
            }
            let xrow = (xc + u32(ih)) * p.W;
            for (var kw = 0u; kw < p.KW; kw++) {
                let t = wc + kh * p.KW + kw;
                let ws = p.Cg * khw;
                let wv = vec4<f32>(w[oc0 * ws + t], w[oc1 * ws + t], w[oc2 * ws + t], w[oc3 * ws + t]);
                let iw = iw0 + i32(kw * p.dw);
                let W = i32(p.W);
                // out-of-image taps read a clamped address and are zeroed by select (no divergent branches)
                let x0 = select(0.0, x_in[xrow + u32(clamp(iw, 0, W - 1))], iw >= 0 && iw < W);
                let x1 = select(0.0, x_in[xrow + u32(clamp(iw + step, 0, W - 1))], iw + step >= 0 && iw + step < W);
                let x2 = select(0.0, x_in[xrow + u32(clamp(iw + 2 * step, 0, W - 1))], iw + 2 * step >= 0 && iw + 2 * step < W);
                let x3 = select(0.0, x_in[xrow + u32(clamp(iw + 3 * step, 0, W - 1))], iw + 3 * step >= 0 && iw + 3 * step < W);
                acc0 += wv * x0; acc1 += wv * x1; acc2 += wv * x2; acc3 += wv * x3;
            }
        }
    }
    // acc_e = 4 channels at pixel ow0 + e
    let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var e = 0u; e < 4u; e++) {
        let ow = ow0 + e;
        if (ow >= p.OW) { break; }
        let a = accs[e];
        let base = (n * p.OC) * p.OH * p.OW + oh * p.OW + ow;
        let plane = p.OH * p.OW;
        if (o0 < p.OCg) { out[base + oc0 * plane] = finish(a.x, oc0); }
        if (o0 + 1u < p.OCg) { out[base + oc1 * plane] = finish(a.y, oc1); }
        if (o0 + 2u < p.OCg) { out[base + oc2 * plane] = finish(a.z, oc2); }
        if (o0 + 3u < p.OCg) { out[base + oc3 * plane] = finish(a.w, oc3); }
    }
}
