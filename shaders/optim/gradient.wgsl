// Shared by every optimizer kernel: the bindings all of them have and the gradient an update rule sees.
// The including kernel declares `p` (a uniform struct with fields n, n_decay, lr, clip, l1, l2 first) at
// binding 0 and its optimizer state at bindings 4 and up, and calls `clip_scale` / `effective_grad`.
//   Bindings: 1 params: array<f32> (read_write), 2 grads: array<f32> (read),
//   3 norm_sq: array<f32> (read) [sum of squared gradients], read when clip > 0.
//   clip > 0: gradients are scaled by min(1, clip / (||g|| + 1e-6)), ||g|| the global L2 norm over all
//             parameters, from norm_sq[0] = sum(g^2) (computed on the device; no readback) — as
//             torch.nn.utils.clip_grad_norm_.
//   Elements below n_decay (weights) add the penalty gradients l2 * w (penalty l2/2 * ||w||^2) and
//   l1 * sign(w) (penalty l1 * ||w||_1). Biases and batch-norm parameters, above n_decay, are never penalised.

#include "common/index.wgsl"

@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read> norm_sq: array<f32>;

fn clip_scale() -> f32 {
    if (p.clip <= 0.0) {
        return 1.0;
    }
    return min(1.0, p.clip / (sqrt(norm_sq[0]) + 1e-6));
}

fn effective_grad(i: u32, w: f32, scale: f32) -> f32 {
    var g = grads[i] * scale;
    if (i < p.n_decay) {
        g += p.l2 * w + p.l1 * sign(w);
    }
    return g;
}
