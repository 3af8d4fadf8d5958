// 2-D max pooling when the windows tile the input exactly (stride = kernel, no padding, H = OH*KH, W = OW*KW):
// out[nc, oh, ow] = max of the window, idx = flat index ih * W + iw of the winner in its plane (first maximum in
// row-major window order, like max_pool.wgsl and PyTorch; the last NaN if any). No bounds checks: every tap is
// inside the plane.
//
// Bindings: 0 p (uniform Params, pool/pool_common.wgsl), 1 x_in: array<f32> (read) NC x H x W,
//   2 out: array<f32> (read_write) NC x OH x OW, 3 idx: array<i32> (read_write) NC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * OH * OW (one invocation per output).
// Template: WG; T, the scalar type of x_in and out (f32 by default, f16 for half inference); KH, KW (= p.KH, p.KW).
// Why: LeNet's 2x2 pools; the general kernel's per-tap bounds checks and branches cost ~2x on lavapipe.

#include "pool/pool_common.wgsl"
#include "common/nan.wgsl"

// the window size as constants: NIR unrolls the loops once at compile time (with uniform bounds lavapipe
// re-specialised the shader at every dispatch: 0.8 ms per LeNet pool at batch 64)
const WIN_H: u32 = {{KH}}u;
const WIN_W: u32 = {{KW}}u;

@group(0) @binding(1) var<storage, read> x_in: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> out: array<{{T}}>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = invocation(wid, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let tl = tile(i);
    let plane = tl.plane;
    var at = tl.y0 * p.W + tl.x0;
    var best = x_in[plane + at];
    var best_i = at;
    for (var kh = 0u; kh < WIN_H; kh++) {
        for (var kw = 0u; kw < WIN_W; kw++) {
            let v = x_in[plane + at + kw];
            if (v > best || is_nan(f32(v))) {
                best = v;
                best_i = at + kw;
            }
        }
        at += p.W;
    }
    out[i] = best;
    idx[i] = i32(best_i);
}
