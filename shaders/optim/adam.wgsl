// One Adam / AdamW step over every parameter of a model (flat buffers; see gpuml/nn/parameters.py).
// Adam: coupled L2 through `l2` (as torch.optim.Adam's weight_decay). AdamW (Loshchilov & Hutter): decoupled
// decay w <- w * (1 - lr * weight_decay) before the Adam update, on weights only (below n_decay).
// The host computes, in double precision, every coefficient that loses digits in float32: 1 - beta1 and
// 1 - beta2 (1.0 - beta2 in f32 is 1.3e-5 off for beta2 = 0.999), the step size lr / (1 - beta1^t), the square
// root of the second bias correction sqrt(1 - beta2^t) (t counts steps) and AdamW's factor 1 - lr * weight_decay.
// The update is torch.optim.Adam's, in its order: m += (1 - beta1) * (g - m) (torch's lerp: the coefficients of
// m and g then sum to exactly 1 in f32), v = beta2 * v + (1 - beta2) * g^2, w -= step_size * m / (sqrt(v) /
// sqrt_bc2 + eps).
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
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    eps: f32,
    step_size: f32,
    sqrt_bc2: f32,
    decay: f32,
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
        w = w * p.decay;
    }
    let m = exp_avg[i] + p.one_minus_beta1 * (g - exp_avg[i]);
    let v = p.beta2 * exp_avg_sq[i] + p.one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    params[i] = w - p.step_size * (m / (sqrt(v) / p.sqrt_bc2 + p.eps));
}
