// One Adam / AdamW step over every parameter of a model (flat buffers; see gpuml/nn/parameters.py).
// Adam: coupled L2 through `l2` (as torch.optim.Adam's weight_decay). AdamW (Loshchilov & Hutter): decoupled
// decay w <- w * (1 - lr * weight_decay) before the Adam update, on weights only (below n_decay).
// Bias corrections bc1 = 1 - beta1^t, bc2 = 1 - beta2^t come from the host (t counts steps).
//
// Bindings: 0 p (uniform Params); 1 params, 2 grads, 3 norm_sq as in optim/gradient.wgsl;
//   4 exp_avg, 5 exp_avg_sq: array<vec4<f32>> (read_write) first and second moments.
// Dispatch: ceil(n / 4 / WG) workgroups, split over (x, y) by Device.grid_1d (one vec4 per invocation).

struct Params {
    n: u32,
    n_decay: u32,
    lr: f32,
    l1: f32,
    l2: f32,
    clip: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
    weight_decay: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;

#include "optim/gradient.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = update_index(wid, nwg, lid, {{WG}}u);
    if (i >= p.n / 4u) {
        return;
    }
    var w = params[i];
    let g = effective_grad(i, w, clip_scale());
    if (is_weight(i)) {
        w = w * (1.0 - p.lr * p.weight_decay);
    }
    let m = p.beta1 * exp_avg[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * exp_avg_sq[i] + (1.0 - p.beta2) * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    params[i] = w - p.lr * (m / p.bc1) / (sqrt(v / p.bc2) + p.eps);
}
