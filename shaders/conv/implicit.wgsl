// Convolution forward as an implicit GEMM (no column matrix): out[n, g*OCg + o, q..q+3] = act(bias + sum over the
// K taps k = (c, kh, kw) of W[g, o, k] * X[k, 4 pixels]), the input under each tap gathered inside the loop.
// Needs P = OH * OW % 4 == 0, so 4 consecutive output pixels of a plane are one aligned vec4 of out.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 wa: array<vec4<f32>> (read)
//   G x OCg16 x K4 (the weights zero-padded to OCg16 rows and K4 taps, layout/pad2d), 3 bias: array<f32> (read) OC
//   (ignored unless has_bias = 1), 4 out: array<vec4<f32>> (read_write) N x OC x P.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * RB * NP / 4 (RB = OCg16 / 16 row blocks,
//   NP = N * P): one invocation per 4 pixels x 16 output channels.
// Template: WG; T, the storage scalar type of x_in, wa, bias and out (f32 by default, f16 for half inference:
//   products and sums stay f32). The weight rows are staged in 16 KiB of workgroup memory when the workgroup shares them.
// Why (lavapipe): per 4 taps an invocation gathers 16 inputs and loads 16 weight vec4s (the same address across
// lanes) for 256 FMAs, the loop shape of conv/grad_w.wgsl, which runs ~1.5-2x the FMA rate of the register-blocked
// direct kernels on LeNet's convolutions.

#include "common/index.wgsl"
#include "common/nan.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, OCg: u32, OC: u32, KH: u32,
    KW: u32, K: u32, K4: u32, OW: u32, P: u32, NP4: u32, RB: u32, OCg16: u32,
    sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32, has_bias: u32, relu: u32, wsh_max: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<{{T}}>;
@group(0) @binding(2) var<storage, read> wa: array<vec4<{{T}}>>;
@group(0) @binding(3) var<storage, read> bias: array<{{T}}>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<{{T}}>>;

// the workgroup's 16 weight rows, staged once when all its invocations share them (see main)
var<workgroup> wsh: array<vec4<{{T}}>, 1024>;
var<private> use_sh: bool;
var<private> wbase: u32;

fn wload(t: u32) -> vec4<f32> {
    if (use_sh) {
        return vec4<f32>(wsh[t - wbase]);
    }
    return vec4<f32>(wa[t]);
}

fn finish(v: vec4<f32>, oc: u32) -> vec4<{{T}}> {
    var r = v;
    if (p.has_bias == 1u) { r += vec4<f32>(f32(bias[oc])); }
    if (p.relu == 1u) { r = max_nan4(r, vec4<f32>(0.0)); }  // NaN stays NaN (numpy's maximum)
    return vec4<{{T}}>(r);
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wg0 = flat_workgroup(wid, nwg) * {{WG}}u;
    let i = wg0 + lid;
    // stage the 16 x K4 weights in workgroup memory when the whole workgroup has one (group, row block); wsh_max = 0
    // turns this off
    let r_first = wg0 / p.NP4;
    let span = 4u * p.K4;                       // 16 rows x K4 / 4 vec4s
    use_sh = r_first == (min(wg0 + {{WG}}u, p.n) - 1u) / p.NP4 && span <= p.wsh_max;
    if (use_sh) {
        wbase = ((r_first / p.RB) * p.OCg16 + (r_first % p.RB) * 16u) * (p.K4 / 4u);
        for (var k = lid; k < span; k += {{WG}}u) {
            wsh[k] = wa[wbase + k];
        }
    }
    workgroupBarrier();
    if (i >= p.n) {
        return;
    }
    let pb = i % p.NP4;
    let r = i / p.NP4;
    let rb = r % p.RB;
    let g = r / p.RB;
    let j0 = pb * 4u;
    let n = j0 / p.P;
    let q0 = j0 % p.P;
    // the 4 pixels: top-left input row/col of each window
    var iy = vec4<i32>();
    var ix = vec4<i32>();
    var oh = q0 / p.OW;
    var ow = q0 % p.OW;
    for (var e = 0u; e < 4u; e++) {
        iy[e] = i32(oh * p.sh) - i32(p.ph);
        ix[e] = i32(ow * p.sw) - i32(p.pw);
        ow++;
        if (ow == p.OW) { ow = 0u; oh++; }
    }
    let H = i32(p.H);
    let W = i32(p.W);
    let xb = vec4<i32>(i32((n * p.C + g * p.Cg) * p.H * p.W)) + iy * W + ix;
    let o0 = rb * 16u;
    let both = o0 + 8u < p.OCg;
    let K44 = p.K4 / 4u;
    let wrow = (g * p.OCg16 + o0) * K44;
    var acc: array<vec4<f32>, 16>;
    // tap counters (c, kh, kw) of the next tap
    var c = 0u;
    var kh = 0u;
    var kw = 0u;
    var k = 0u;
    for (var k4 = 0u; k4 < K44; k4++) {
        var bm: mat4x4<f32>;                    // bm[t] = 4 pixels' inputs under tap k4*4 + t
        for (var t = 0u; t < 4u; t++) {
            let dy = i32(kh * p.dh);
            let dx = i32(kw * p.dw);
            let y = iy + vec4<i32>(dy);
            let xx = ix + vec4<i32>(dx);
            let inside = (y >= vec4<i32>(0)) & (y < vec4<i32>(H)) & (xx >= vec4<i32>(0)) & (xx < vec4<i32>(W))
                & vec4<bool>(k < p.K);
            let a = select(vec4<i32>(0), xb + vec4<i32>(i32(c * p.H * p.W) + dy * W + dx), inside);
            bm[t] = select(vec4<f32>(), vec4<f32>(vec4<{{T}}>(x_in[a.x], x_in[a.y], x_in[a.z], x_in[a.w])), inside);
            k++;
            kw++;
            if (kw == p.KW) { kw = 0u; kh++; if (kh == p.KH) { kh = 0u; c++; } }
        }
        let wb = wrow + k4;
        acc[0] += bm * wload(wb);
        acc[1] += bm * wload(wb + K44);
        acc[2] += bm * wload(wb + 2u * K44);
        acc[3] += bm * wload(wb + 3u * K44);
        acc[4] += bm * wload(wb + 4u * K44);
        acc[5] += bm * wload(wb + 5u * K44);
        acc[6] += bm * wload(wb + 6u * K44);
        acc[7] += bm * wload(wb + 7u * K44);
        if (both) {
            acc[8] += bm * wload(wb + 8u * K44);
            acc[9] += bm * wload(wb + 9u * K44);
            acc[10] += bm * wload(wb + 10u * K44);
            acc[11] += bm * wload(wb + 11u * K44);
            acc[12] += bm * wload(wb + 12u * K44);
            acc[13] += bm * wload(wb + 13u * K44);
            acc[14] += bm * wload(wb + 14u * K44);
            acc[15] += bm * wload(wb + 15u * K44);
        }
    }
    let P4 = p.P / 4u;
    let ob = (n * p.OC + g * p.OCg + o0) * P4 + q0 / 4u;
    let oc = g * p.OCg + o0;
    if (o0 < p.OCg) { out[ob] = finish(acc[0], oc); }
    if (o0 + 1u < p.OCg) { out[ob + P4] = finish(acc[1], oc + 1u); }
    if (o0 + 2u < p.OCg) { out[ob + 2u * P4] = finish(acc[2], oc + 2u); }
    if (o0 + 3u < p.OCg) { out[ob + 3u * P4] = finish(acc[3], oc + 3u); }
    if (o0 + 4u < p.OCg) { out[ob + 4u * P4] = finish(acc[4], oc + 4u); }
    if (o0 + 5u < p.OCg) { out[ob + 5u * P4] = finish(acc[5], oc + 5u); }
    if (o0 + 6u < p.OCg) { out[ob + 6u * P4] = finish(acc[6], oc + 6u); }
    if (o0 + 7u < p.OCg) { out[ob + 7u * P4] = finish(acc[7], oc + 7u); }
    if (o0 + 8u < p.OCg) { out[ob + 8u * P4] = finish(acc[8], oc + 8u); }
    if (o0 + 9u < p.OCg) { out[ob + 9u * P4] = finish(acc[9], oc + 9u); }
    if (o0 + 10u < p.OCg) { out[ob + 10u * P4] = finish(acc[10], oc + 10u); }
    if (o0 + 11u < p.OCg) { out[ob + 11u * P4] = finish(acc[11], oc + 11u); }
    if (o0 + 12u < p.OCg) { out[ob + 12u * P4] = finish(acc[12], oc + 12u); }
    if (o0 + 13u < p.OCg) { out[ob + 13u * P4] = finish(acc[13], oc + 13u); }
    if (o0 + 14u < p.OCg) { out[ob + 14u * P4] = finish(acc[14], oc + 14u); }
    if (o0 + 15u < p.OCg) { out[ob + 15u * P4] = finish(acc[15], oc + 15u); }
}
