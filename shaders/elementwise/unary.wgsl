// out = OP(x), elementwise over vec4 lanes.
//
// Bindings: 0 params (uniform Params), 1 x: array<vec4<f32>> (read), 2 out: array<vec4<f32>> (read_write).
//   x and out hold n float32 values padded to whole vec4s (device buffers are 16-byte multiples); the padded
//   lanes are computed and ignored.
// Dispatch: ceil(n4 / WG) workgroups, split over (x, y) by Device.grid_1d; n4 = ceil(n / 4).
// Template: OP is a WGSL expression in `x: V` (V = vec4<f32>) and `p: Params` (alpha, beta), from the
//   table in gpuml/ops/elementwise.py; WG is the workgroup size.
// Why vec4: on lavapipe a vec4 load costs ~2x a scalar load, so 4 lanes per load halves the memory cost.

#include "common/index.wgsl"

alias V = vec4<f32>;

struct Params {
    n4: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

fn apply(x: V) -> V {
    return {{OP}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i < p.n4) {
        out[i] = apply(x_in[i]);
    }
}
