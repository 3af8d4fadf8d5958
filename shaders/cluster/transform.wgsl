// Distances to every center: out[i, j] = |x_i - c_j| (direct differences, sqrt), KMeans.transform.
// Bindings: 0 p (uniform Params); 1 x: n x D4; 2 centers: K x D4; 3 out: n x K.
// Dispatch: ceil(n / WG) workgroups (grid_1d), one point per invocation. Template: WG, D4.
// Not a hot path (called once per transform), so the simple shape.

#include "common/index.wgsl"

struct Params {
    n: u32,
    k: u32,
}

const D4: u32 = {{D4}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> centers: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    for (var j = 0u; j < p.k; j++) {
        var e = vec4<f32>(0.0);
        for (var t = 0u; t < D4; t++) {
            let diff = x[i * D4 + t] - centers[j * D4 + t];
            e = fma(diff, diff, e);
        }
        out[i * p.k + j] = sqrt(e.x + e.y + e.z + e.w);
    }
}
