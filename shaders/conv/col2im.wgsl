// Backward pass: grad_x[n, c, ih, iw] = sum of the column-gradient entries dcols[g, s, k, l] of every tap
// k = (c - g*Cg, kh, kw) and output column j = s * Lc + l = n * P + oh * OW + ow that read this input pixel.
// A gather (one invocation per input element), so no atomics and a deterministic sum order.
//
// Bindings: 0 p (uniform Params), 1 dcols: array<f32> (read) G x S x K x Lc, 2 gx: array<f32> (read_write)
//   N x C x H x W.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = N * C * H * W.
// Template: WG.

#include "common/index.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, KH: u32, KW: u32, K: u32,
    OH: u32, OW: u32, P: u32, S: u32, Lc: u32, sh: u32, sw: u32, ph: u32,
    pw: u32, dh: u32, dw: u32, out_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dcols: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let iw = i32(i % p.W);
    let ih = i32((i / p.W) % p.H);
    let c = (i / (p.W * p.H)) % p.C;
    let n = i / (p.W * p.H * p.C);
    let g = c / p.Cg;
    let cl = c % p.Cg;
    var acc = 0.0;
    for (var kh = 0u; kh < p.KH; kh++) {
        let yn = ih + i32(p.ph) - i32(kh * p.dh);
        if (yn < 0 || yn % i32(p.sh) != 0) { continue; }
        let oh = u32(yn) / p.sh;
        if (oh >= p.OH) { continue; }
        for (var kw = 0u; kw < p.KW; kw++) {
            let xn = iw + i32(p.pw) - i32(kw * p.dw);
            if (xn < 0 || xn % i32(p.sw) != 0) { continue; }
            let ow = u32(xn) / p.sw;
            if (ow >= p.OW) { continue; }
            let k = (cl * p.KH + kh) * p.KW + kw;
            let j = n * p.P + oh * p.OW + ow;
            let s = j / p.Lc;
            acc += dcols[((g * p.S + s) * p.K + k) * p.Lc + j % p.Lc];
        }
    }
    gx[p.out_offset + i] = acc;                 // this chunk's images start at out_offset
}
