// 2-D max pooling over NCHW planes: out[nc, oh, ow] = max of the KH x KW window at (oh*sh - ph, ow*sw - pw)
// (padding never wins: it is -inf), idx = flat index ih * W + iw of the winner in its plane (first maximum in
// row-major window order, like PyTorch), kept for the backward pass. A NaN wins over any number and over an
// earlier NaN, as in PyTorch's max_pool2d (its CPU kernel takes `val > max || isnan(val)`).
//
// Bindings: 0 p (uniform Params, pool/pool_common.wgsl), 1 x_in: array<f32> (read) NC x H x W,
//   2 out: array<f32> (read_write) NC x OH x OW, 3 idx: array<i32> (read_write) NC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * OH * OW (one invocation per output).
// Template: WG; T, the scalar type of x_in and out (f32 by default, f16 for half inference).

#include "pool/pool_common.wgsl"
#include "common/nan.wgsl"

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
    let win = window(i);
    let y0 = win.y0;
    let x0 = win.x0;
    let plane = win.plane;
    // -FLT_MAX (Tint rejects the rounded decimal literal); for f16 any start works: the first pixel replaces it
    var best = {{T}}(bitcast<f32>(0xff7fffffu));
    var best_i = -1;
    for (var kh = 0u; kh < p.KH; kh++) {
        let y = y0 + i32(kh);
        if (!inside_h(y)) { continue; }
        for (var kw = 0u; kw < p.KW; kw++) {
            let x = x0 + i32(kw);
            if (!inside_w(x)) { continue; }
            let v = x_in[plane + u32(y) * p.W + u32(x)];
            if (v > best || is_nan(f32(v)) || best_i < 0) {
                best = v;
                best_i = y * i32(p.W) + x;
            }
        }
    }
    out[i] = best;
    idx[i] = best_i;
}
