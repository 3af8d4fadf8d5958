// GELU: out = x * Phi(x) (approximate = "none", PyTorch's default: the normal CDF through erfc) or
// out = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) (approximate = "tanh"); see nn/gelu_common.wgsl.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) n, 2 out: array<f32> (read_write) n.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d (gpuml/impl/webgpu/nn.py, gelu()).
// Template: TANH (true for the tanh approximation), WG the workgroup size.

#include "common/index.wgsl"
#include "nn/gelu_common.wgsl"

struct Params {
    n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let x = x_in[i];
    var y: f32;
    if ({{TANH}}) {
        y = x * gelu_tanh_gate(x);
    } else {
        y = x * normal_cdf(x);
    }
    out[i] = select(y, x, is_nan(x));
}
