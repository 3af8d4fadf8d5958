// Silhouette coefficient of every point, pairwise distances in tiles (never an n x n matrix).
// For point i: sums[c] = sum_j |x_i - x_j| over points j of cluster c; a = sums[own] / (size[own] - 1),
// b = min_{c != own} sums[c] / size[c], s = (b - a) / max(a, b) (0 for a cluster of size 1, as scikit-learn).
// Tiles of WG points are staged in workgroup memory (one load per invocation and two barriers per tile); every
// invocation then reads the tile at the same addresses, so the cluster index is lane-uniform. Per-tile sums are
// added to the running sums once per tile (two-level summation: f32 error ~ (WG + n / WG) ulp, not n).
//
// Bindings: 0 p (uniform Params); 1 x: n x D4; 2 labels: n (u32); 3 sizes: K (f32 cluster sizes);
//   4 out: n (silhouette of each point).
// Dispatch: ceil(n / WG) workgroups (grid_1d). Template: WG, D4, K (>= p.k clusters: private sums size).

#include "common/index.wgsl"

struct Params {
    n: u32,
    k: u32,
}

const D4: u32 = {{D4}}u;
const K: u32 = {{K}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> sizes: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> tile_x: array<array<vec4<f32>, D4>, {{WG}}>;
var<workgroup> tile_l: array<u32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    let ii = min(i, p.n - 1u);
    var xi: array<vec4<f32>, D4>;
    for (var t = 0u; t < D4; t++) {
        xi[t] = x[ii * D4 + t];
    }
    var sums: array<f32, K>;
    var part: array<f32, K>;
    for (var start = 0u; start < p.n; start += {{WG}}u) {
        let j = min(start + lid, p.n - 1u);
        for (var t = 0u; t < D4; t++) {
            tile_x[lid][t] = x[j * D4 + t];
        }
        tile_l[lid] = labels[j];
        workgroupBarrier();
        let count = min({{WG}}u, p.n - start);
        for (var r = 0u; r < count; r++) {
            var e = vec4<f32>(0.0);
            for (var t = 0u; t < D4; t++) {
                let diff = xi[t] - tile_x[r][t];
                e = fma(diff, diff, e);
            }
            part[tile_l[r]] += sqrt(e.x + e.y + e.z + e.w);
        }
        for (var c = 0u; c < K; c++) {
            sums[c] += part[c];
            part[c] = 0.0;  // explicit: a `var` declared in a loop body is not re-zeroed on every pass here
        }
        workgroupBarrier();
    }
    if (i >= p.n) {
        return;
    }
    let own = labels[i];
    let size = sizes[own];
    if (size <= 1.0) {
        out[i] = 0.0;
        return;
    }
    let a = sums[own] / (size - 1.0);
    var b = 3.4e38;
    for (var c = 0u; c < p.k; c++) {
        if (c != own && sizes[c] > 0.0) {
            b = min(b, sums[c] / sizes[c]);
        }
    }
    let m = max(a, b);
    out[i] = select((b - a) / m, 0.0, m == 0.0);
}
