// Fused softmax + cross-entropy over a batch of logits, forward and backward in one pass.
// For row r with label y: p = softmax(logits[r]) (max-subtracted), row_loss[r] = -log p[y],
// grad[r] = (p - onehot(y)) * grad_scale (grad_scale = 1/N for a mean loss), row_correct[r] = 1 when
// argmax(logits[r]) == y (first maximum on ties), else 0.
//
// Bindings: 0 p (uniform Params), 1 logits: array<f32> (read) N x K, 2 labels: array<i32> (read) N,
//   3 grad: array<f32> (read_write) N x K, 4 row_loss: array<f32> (read_write) N,
//   5 row_correct: array<f32> (read_write) N.
// Dispatch: ceil(N / WG) workgroups, split over (x, y) by Device.grid_1d; one invocation per row (K is small:
// the 10 classes of MNIST), so no workgroup memory or barriers.

#include "common/index.wgsl"

struct Params {
    n: u32,
    k: u32,
    grad_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_correct: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let r = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (r >= p.n) {
        return;
    }
    let base = r * p.k;
    var best = logits[base];
    var best_j = 0u;
    for (var j = 1u; j < p.k; j++) {
        let v = logits[base + j];
        if (v > best) {
            best = v;
            best_j = j;
        }
    }
    var total = 0.0;
    for (var j = 0u; j < p.k; j++) {
        total += exp(logits[base + j] - best);
    }
    let y = u32(labels[r]);
    let log_total = log(total);
    row_loss[r] = log_total - (logits[base + y] - best);
    row_correct[r] = select(0.0, 1.0, best_j == y);
    for (var j = 0u; j < p.k; j++) {
        let prob = exp(logits[base + j] - best - log_total);
        grad[base + j] = (prob - select(0.0, 1.0, j == y)) * p.grad_scale;
    }
}
