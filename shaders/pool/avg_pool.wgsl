// 2-D average pooling over NCHW planes: out = sum of the KH x KW window / divisor, where the divisor counts the
// padded window clipped to the padded input (count_include_pad = 1, PyTorch's default) or only in-image pixels
// (count_include_pad = 0).
//
// Bindings: 0 p (uniform Params, pool/pool_common.wgsl), 1 x_in: array<f32> (read) NC x H x W,
//   2 out: array<f32> (read_write) NC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * OH * OW.
// Template: WG; T, the scalar type of x_in and out (f32 by default, f16 for half inference).

#include "pool/pool_common.wgsl"

@group(0) @binding(1) var<storage, read> x_in: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> out: array<{{T}}>;

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
    var acc = 0.0;
    for (var kh = 0u; kh < p.KH; kh++) {
        let y = y0 + i32(kh);
        if (!inside_h(y)) { continue; }
        for (var kw = 0u; kw < p.KW; kw++) {
            let x = x0 + i32(kw);
            if (!inside_w(x)) { continue; }
            acc += f32(x_in[plane + u32(y) * p.W + u32(x)]);
        }
    }
    out[i] = {{T}}(acc / f32(pool_count(y0, x0)));  // summed in f32
}

