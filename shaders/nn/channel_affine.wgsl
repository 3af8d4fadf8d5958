// Per-channel affine map of an NCHW tensor: out[n, c, h, w] = x[n, c, h, w] * scale[c] + shift[c].
// Batch norm's forward (scale = gamma / sqrt(var + eps), shift = beta - mean * scale) in training and in eval.
//
// Bindings: 0 p (uniform Params), 1 x: array<f32> (read) N x C x HW, 2 scale, 3 shift: array<f32> (read) C,
//   4 out: array<f32> (read_write) N x C x HW.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d.

#include "common/index.wgsl"

struct Params {
    n: u32,
    channels: u32,
    hw: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> shift: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let c = (i / p.hw) % p.channels;
    out[i] = x_in[i] * scale[c] + shift[c];
}
