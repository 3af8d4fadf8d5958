// Mean squared error, value and gradient in one pass: d = input - target, loss[i] = d^2,
// grad[i] = 2 d * grad_scale (grad_scale = 1 / n for reduction "mean", 1 for "sum" and "none").
// The reduction of loss to a scalar is a separate device sum (gpuml/nn/functional.py).
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) n, 2 tgt: array<f32> (read) n (the targets),
//   3 loss: array<f32> (read_write) n, 4 grad: array<f32> (read_write) n.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d (gpuml/impl/webgpu/nn.py).

#include "common/index.wgsl"

struct Params {
    n: u32,
    grad_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let d = x_in[i] - tgt[i];
    loss[i] = d * d;
    grad[i] = 2.0 * d * p.grad_scale;
}
