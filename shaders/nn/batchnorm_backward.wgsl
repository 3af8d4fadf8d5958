// Batch-norm input gradient (training mode), per element of an NCHW tensor:
//   dx = scale[c] * (dy - (dbeta[c] + xhat * dgamma[c]) / m),  xhat = (x - mean[c]) * rstd[c],
// with scale = gamma * rstd, dbeta = sum(dy), dgamma = sum(dy * xhat) over the m = N*H*W values of channel c
// (reduced beforehand with gpuml.ops.sum).
//
// Bindings: 0 p (uniform Params), 1 x, 2 dy: array<f32> (read) N x C x HW; 3 mean, 4 rstd, 5 scale,
//   6 dgamma, 7 dbeta: array<f32> (read) C; 8 dx: array<f32> (read_write) N x C x HW.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d.

#include "common/index.wgsl"

struct Params {
    n: u32,
    channels: u32,
    hw: u32,
    inv_m: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read> scale: array<f32>;
@group(0) @binding(6) var<storage, read> dgamma: array<f32>;
@group(0) @binding(7) var<storage, read> dbeta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let c = (i / p.hw) % p.channels;
    let xhat = (x_in[i] - mean[c]) * rstd[c];
    dx[i] = scale[c] * (dy[i] - (dbeta[c] + xhat * dgamma[c]) * p.inv_m);
}
