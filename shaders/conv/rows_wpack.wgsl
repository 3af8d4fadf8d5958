// Packs convolution weights for conv/implicit_rows.wgsl: every kernel row zero-padded to 8 taps,
// wp[((o * Cg + c) * KH + kh) * 8 + kw] = w[o * w_o + c * w_c + w_t0 + w_ts * (kh * KW + kw)] for kw < KW, else 0
// (the forward layout, or flipped and transposed for grad_x: w_t0 = KH*KW - 1, w_ts = -1).
//
// Bindings: 0 p (uniform Params), 1 w: array<f32> (read), 2 wp: array<f32> (read_write) OCg x Cg x KH x 8.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = OCg * Cg * KH * 8.
// Template: WG.
// Why: the row kernel reads each (channel, kernel row) as two aligned vec4s, one load for four taps.

#include "common/index.wgsl"

struct Params { n: u32, Cg: u32, KH: u32, KW: u32, w_o: u32, w_c: u32, w_t0: u32, w_ts: i32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> wp: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let kw = i % 8u;
    let r = i / 8u;                 // (o * Cg + c) * KH + kh
    let kh = r % p.KH;
    let oc = r / p.KH;
    let c = oc % p.Cg;
    let o = oc / p.Cg;
    var v = 0.0;
    if (kw < p.KW) {
        let t = i32(kh * p.KW + kw);
        v = w[u32(i32(o * p.w_o + c * p.w_c + p.w_t0) + p.w_ts * t)];
    }
    wp[i] = v;
}
