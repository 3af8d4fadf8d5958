// Memory-bandwidth microbenchmark: out[i] = x[i] for vec4 elements (one 16-byte load and store per invocation).
// Bytes moved = 2 * 16 * n. Used by gpuml.bench.bench_roofline.
//
// Bindings: 0 p (uniform Params), 1 x: array<vec4<f32>> (read), 2 out: array<vec4<f32>> (read_write).
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d.

#include "common/index.wgsl"

struct Params {
    n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i < p.n) {
        out[i] = x_in[i];
    }
}
