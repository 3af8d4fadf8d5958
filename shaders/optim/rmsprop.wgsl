// One RMSprop step over every parameter of a model (flat buffers), torch.optim.RMSprop semantics:
// v = alpha * v + (1 - alpha) * g^2; step = g / (sqrt(v) + eps); with momentum: buf = momentum * buf + step.
// 1 - alpha comes from the host, computed in double precision (1.0 - alpha in f32 loses digits for alpha near 1).
//
// Bindings: 0 p (uniform Params); 1 params, 2 grads, 3 norm_sq as in optim/gradient.wgsl;
//   4 square_avg, 5 velocity: array<vec4<f32>> (read_write) (velocity unused when momentum == 0).
// Dispatch: ceil(n / 4 / WG) workgroups, split over (x, y) by Device.grid_1d (one vec4 per invocation).

struct Params {
    n: u32,
    n_decay: u32,
    lr: f32,
    l1: f32,
    l2: f32,
    clip: f32,
    alpha: f32,
    one_minus_alpha: f32,
    eps: f32,
    momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> square_avg: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> velocity: array<vec4<f32>>;

#include "optim/gradient.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = update_index(wid, nwg, lid, {{WG}}u);
    if (i >= p.n / 4u) {
        return;
    }
    let w = params[i];
    let g = effective_grad(i, w, clip_scale());
    let v = p.alpha * square_avg[i] + p.one_minus_alpha * g * g;
    square_avg[i] = v;
    var step = g / (sqrt(v) + p.eps);
    if (p.momentum != 0.0) {
        step = p.momentum * velocity[i] + step;
        velocity[i] = step;
    }
    params[i] = w - p.lr * step;
}
