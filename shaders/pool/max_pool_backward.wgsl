// Max-pooling backward: grad_x[nc, ih, iw] = sum of grad_out over the windows whose winner (idx) is this pixel.
// A gather over the ceil(KH/sh) x ceil(KW/sw) windows that can contain the pixel: no atomics, deterministic.
//
// Bindings: 0 p (uniform Params, pool/pool_common.wgsl), 1 gy: array<f32> (read) NC x OH x OW,
//   2 idx: array<i32> (read) NC x OH x OW (from max_pool.wgsl), 3 gx: array<f32> (read_write) NC x H x W.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * H * W.
// Template: WG.

#include "pool/pool_common.wgsl"

@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = invocation(wid, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let w = windows_over(i);
    let me = w.ih * i32(p.W) + w.iw;
    var acc = 0.0;
    for (var oh = w.oh_lo; oh <= w.oh_hi; oh++) {
        for (var ow = w.ow_lo; ow <= w.ow_hi; ow++) {
            let o = w.base + u32(oh) * p.OW + u32(ow);
            if (idx[o] == me) { acc += gy[o]; }
        }
    }
    gx[i] = acc;
}
