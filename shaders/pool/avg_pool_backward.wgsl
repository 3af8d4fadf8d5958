// Average-pooling backward: grad_x[nc, ih, iw] = sum over the windows containing the pixel of grad_out / divisor
// (the same divisor as avg_pool.wgsl). A gather: no atomics.
//
// Bindings: 0 p (uniform Params, pool/pool_common.wgsl), 1 gy: array<f32> (read) NC x OH x OW,
//   2 gx: array<f32> (read_write) NC x H x W.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * H * W.
// Template: WG.

#include "pool/pool_common.wgsl"

@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = invocation(wid, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let w = windows_over(i);
    var acc = 0.0;
    for (var oh = w.oh_lo; oh <= w.oh_hi; oh++) {
        for (var ow = w.ow_lo; ow <= w.ow_hi; ow++) {
            let cnt = pool_count(oh * i32(p.sh) - i32(p.ph), ow * i32(p.sw) - i32(p.pw));
            acc += gy[w.base + u32(oh) * p.OW + u32(ow)] / f32(cnt);
        }
    }
    gx[i] = acc;
}
