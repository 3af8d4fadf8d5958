// k-means++ seeding step: for L candidate centers, out[l, i] = min(closest[i], |x_i - cand_l|^2) (direct
// differences), and block_sums[l, b] = sum of out[l, i] over block b (the points of workgroup b). The host draws
// D^2 samples from the block sums and then one block's values (two small readbacks per seeding step).
//
// Bindings: 0 p (uniform Params); 1 x: n x D4 (vec4); 2 cand: L x D4; 3 closest: n; 4 out: L x n;
//   5 block_sums: L x blocks.
// Dispatch: blocks = ceil(n / block) workgroups (grid_1d); lane l handles points b * block + l + WG * t.
// Template: WG (power of two), L, D4. Tree reduction in workgroup memory once per workgroup (cheap: block is
// large); per point the L candidates are in registers after one load each per lane.

#include "common/index.wgsl"

struct Params {
    n: u32,
    block: u32,
}

const L: u32 = {{L}}u;
const D4: u32 = {{D4}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> cand: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> closest: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> block_sums: array<f32>;

var<workgroup> red: array<f32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = flat_workgroup(wid, nwg);
    let blocks = (p.n + p.block - 1u) / p.block;
    var acc: array<f32, L>;
    let start = b * p.block;
    let stop = min(start + p.block, p.n);
    for (var i = start + lid; i < stop; i += {{WG}}u) {
        let c = closest[i];
        for (var l = 0u; l < L; l++) {
            var e = vec4<f32>(0.0);
            for (var t = 0u; t < D4; t++) {
                let diff = x[i * D4 + t] - cand[l * D4 + t];
                e = fma(diff, diff, e);
            }
            let m = min(c, e.x + e.y + e.z + e.w);
            out[l * p.n + i] = m;
            acc[l] += m;
        }
    }
    for (var l = 0u; l < L; l++) {
        red[lid] = acc[l];
        for (var step = {{WG}}u / 2u; step > 0u; step /= 2u) {
            workgroupBarrier();
            if (lid < step) {
                red[lid] += red[lid + step];
            }
        }
        workgroupBarrier();
        if (lid == 0u && b < blocks) {
            block_sums[l * blocks + b] = red[0];
        }
        workgroupBarrier();
    }
}
