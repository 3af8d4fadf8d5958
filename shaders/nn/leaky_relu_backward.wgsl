// Leaky ReLU backward: dx = dy where x > 0, dy * slope elsewhere (as PyTorch: slope at x == 0), from the input x
// (not the output, so any slope works, zero or negative included). A NaN x gives NaN, as a NaN dy does.
//
// Bindings: 0 p (uniform Params), 1 dy: array<f32> (read) n, 2 x_in: array<f32> (read) n,
//   3 dx: array<f32> (read_write) n.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d (gpuml/impl/webgpu/nn.py).

#include "common/index.wgsl"

struct Params {
    n: u32,
    slope: f32,
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
    // NaN tested on the bits: compilers may assume float compares and x - x never see a NaN (lavapipe does)
    let is_nan = (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
    dx[i] = select(dy[i] * select(p.slope, 1.0, x > 0.0), x, is_nan);
}
