// 2-D max pooling when the windows tile the input exactly (stride = kernel, no padding, H = OH*KH, W = OW*KW):
// out[nc, oh, ow] = max of the window, idx = flat index ih * W + iw of the winner in its plane (first maximum in
// row-major window order, like max_pool.wgsl and PyTorch). No bounds checks: every tap is inside the plane.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) NC x H x W, 2 out: array<f32> (read_write)
//   NC x OH x OW, 3 idx: array<i32> (read_write) NC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * OH * OW (one invocation per output).
// Template: WG.
// Why: LeNet's 2x2 pools; the general kernel's per-tap bounds checks and branches cost ~2x on lavapipe.

#include "common/index.wgsl"

struct Params { n: u32, H: u32, W: u32, OH: u32, OW: u32, KH: u32, KW: u32, sh: u32, sw: u32, ph: u32, pw: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let ow = i % p.OW;
    let r = i / p.OW;                           // nc * OH + oh
    let y0 = (r % p.OH) * p.KH;
    let x0 = ow * p.KW;
    let plane = (r / p.OH) * p.H * p.W;
    var at = y0 * p.W + x0;
    var best = x_in[plane + at];
    var best_i = at;
    for (var kh = 0u; kh < p.KH; kh++) {
        for (var kw = 0u; kw < p.KW; kw++) {
            let v = x_in[plane + at + kw];
            if (v > best) {
                best = v;
                best_i = at + kw;
            }
        }
        at += p.W;
    }
    out[i] = best;
    idx[i] = i32(best_i);
}
