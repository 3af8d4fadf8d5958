// Binary cross-entropy on logits x with targets t in [0, 1], value and gradient in one pass, in the stable form
//   loss[i] = max(x, 0) - x t + log1p(exp(-|x|)),   grad[i] = (sigmoid(x) - t) * grad_scale
// (grad_scale = 1 / n for reduction "mean", 1 for "sum" and "none"). Nothing overflows for any finite x; log1p
// is computed as log(u) * e / (u - 1) with u = 1 + e (Goldberg), exact where log(1 + e) would round to 0, and
// sigmoid from e = exp(-|x|) on both sides. The reduction to a scalar is a separate device sum.
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
    let x = x_in[i];
    let t = tgt[i];
    let e = exp(-abs(x));
    let u = 1.0 + e;
    let log1p_e = select(log(u) * e / (u - 1.0), e, u == 1.0);
    // NaN tested on the bits: compilers may assume float compares (and max) never see a NaN (lavapipe does)
    let nan_x = (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
    loss[i] = select(max(x, 0.0) - x * t + log1p_e, x, nan_x);
    let s = select(e / u, 1.0 / u, x >= 0.0);
    grad[i] = select((s - t) * p.grad_scale, x, nan_x);
}
