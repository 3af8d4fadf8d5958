// Shared by every optimizer kernel: the bindings all of them have and the gradient an update rule sees.
// The including kernel declares `p` (a uniform struct with fields n, n_decay, lr, clip, l1, l2 first) at
// binding 0 and its optimizer state at bindings 4 and up, and calls `clip_scale` / `effective_grad`.
//   Bindings: 1 params: array<vec4<f32>> (read_write), 2 grads: array<vec4<f32>> (read),
//   3 norm_sq: array<f32> (read) [sum of squared gradients], read when clip > 0.
//   Every invocation updates one vec4 (4 parameters): p.n and p.n_decay are multiples of 4 (ParameterStore aligns
//   every parameter to 64 floats). Why: a per-lane storage access dominates on lavapipe; vec4 quarters them.
//   clip > 0: gradients are scaled by min(1, clip / (||g|| + 1e-6)), ||g|| the global L2 norm over all
//             parameters, from norm_sq[0] = sum(g^2) (computed on the device; no readback) — as
//             torch.nn.utils.clip_grad_norm_.
//   Elements below n_decay (weights) add the penalty gradients l2 * w (penalty l2/2 * ||w||^2) and
//   l1 * sign(w) (penalty l1 * ||w||_1). Biases and batch-norm parameters, above n_decay, are never penalised.

#include "common/index.wgsl"

@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> norm_sq: array<f32>;

fn clip_scale() -> f32 {
    if (p.clip <= 0.0) {
        return 1.0;
    }
    return min(1.0, p.clip / (sqrt(norm_sq[0]) + 1e-6));
}

// the vec4 of parameters i (elements 4i .. 4i + 3) is a weight vec4 (penalised) when 4i < n_decay
fn is_weight(i: u32) -> bool {
    return 4u * i < p.n_decay;
}

// invocation i updates vec4 i when it exists (n / 4 of them)
fn update_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, wg: u32) -> u32 {
    return flat_workgroup(wid, nwg) * wg + lid;
}

fn effective_grad(i: u32, w: vec4<f32>, scale: f32) -> vec4<f32> {
    var g = grads[i] * scale;
    if (is_weight(i)) {
        g += p.l2 * w + p.l1 * sign(w);
    }
    return g;
}
