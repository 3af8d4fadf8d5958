// GELU backward: dx = dy * GELU'(x) for either form of nn/gelu.wgsl:
//   exact: GELU'(x) = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi);
//   tanh:  with s = sigmoid(2u), GELU'(x) = s + x * s (1 - s) * 2 sqrt(2 / pi) (1 + 3 * 0.044715 x^2).
// Beyond |x| = 20 the derivative is 0 or 1 to float32 precision (and x^2 terms would reach inf * 0 = NaN at
// |x| ~ 1e19), so it is selected directly there. A NaN x or dy gives NaN.
//
// Bindings: 0 p (uniform Params), 1 dy: array<f32> (read) n, 2 x_in: array<f32> (read) n,
//   3 dx: array<f32> (read_write) n.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d (gpuml/impl/webgpu/nn.py).
// Template: TANH (true for the tanh approximation), WG the workgroup size.

#include "common/index.wgsl"
#include "nn/gelu_common.wgsl"

struct Params {
    n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let x = x_in[i];
    var d: f32;
    if ({{TANH}}) {
        let s = gelu_tanh_gate(x);
        d = s + x * s * (1.0 - s) * (2.0 * SQRT_2_PI) * (1.0 + 3.0 * GELU_C * x * x);
    } else {
        d = normal_cdf(x) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
    }
    if (abs(x) > 20.0) {
        d = select(0.0, 1.0, x > 0.0);
    }
    dx[i] = select(dy[i] * d, x, is_nan(x));
}
