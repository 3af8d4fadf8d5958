// One SGD step over every parameter of a model (flat buffers; see gpuml/nn/parameters.py), with optional
// momentum (torch.optim.SGD semantics: buf = g on the first step, then momentum * buf + (1 - dampening) * g)
// and Nesterov momentum (g + momentum * buf).
//
// Bindings: 0 p (uniform Params); 1 params, 2 grads, 3 norm_sq as in optim/gradient.wgsl;
//   4 velocity: array<vec4<f32>> (read_write) momentum buffers (unused when momentum == 0).
// Dispatch: ceil(n / 4 / WG) workgroups, split over (x, y) by Device.grid_1d (one vec4 per invocation).

struct Params {
    n: u32,
    n_decay: u32,
    lr: f32,
    l1: f32,
    l2: f32,
    clip: f32,
    momentum: f32,
    dampening: f32,
    nesterov: u32,
    first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> velocity: array<vec4<f32>>;

#include "optim/gradient.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = update_index(wid, nwg, lid, {{WG}}u);
    if (i >= p.n / 4u) {
        return;
    }
    let w = params[i];
    var g = effective_grad(i, w, clip_scale());
    if (p.momentum != 0.0) {
        var buf = g;
        if (p.first == 0u) {
            buf = p.momentum * velocity[i] + (1.0 - p.dampening) * g;
        }
        velocity[i] = buf;
        if (p.nesterov != 0u) {
            g = g + p.momentum * buf;
        } else {
            g = buf;
        }
    }
    params[i] = w - p.lr * g;
}
