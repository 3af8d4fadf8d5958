// In-place run of pixel ops: a pipeline segment that starts with a contrast op, which needs the image mean
// (image_mean.wgsl, from the grey sums the previous pass wrote per quad). See common.wgsl for the quad layout,
// the parameter block and the ops.
//
// Bindings: 0 p (uniform Params; ho, wo are the image size), 1 prm: array<vec4<u32>> (read),
//   2 stats: array<f32> (read, per-image grey mean), 3 partials: array<f32> (read_write, one grey sum per quad,
//   written when PARTIALS: a later contrast op), 4 out: array<OUT_T> (read_write, N x C x ho x wo, in place).
// Template: WG, C, OUT_T / PUT / GET, OPS_LOAD / OPS, QUADS, PARTIALS as in resample.wgsl.
// Dispatch: as resample.wgsl: ceil(n * qpi / WG) workgroups over Device.grid_1d, one invocation per QUADS quads
//   of one image (all channels).
// Why in place: each invocation reads and writes only its own pixels (one vec4 per channel when ho * wo % 4 ==
// 0), and one binding avoids a second image.

#include "augment/common.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> prm: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<{{OUT_T}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    P = p;
    let first = first_quad(wid, nwg, lid);
    let n = first.x;
    if (n >= P.n) {
        return;
    }
    let blk = P.base + n * P.stride;
    {{OPS_LOAD}}
    var r = quad_at(n, first.y);
    for (var k = 0u; k < QUADS && r.m > 0u; k++) {
        for (var c0 = 0u; c0 < C; c0 += 4u) {
            var q = load_quad(c0, r);
            {{OPS}}
            if (PARTIALS && c0 == 0u) {
                partials[r.g] = quad_grey(q, r.m);
            }
            store_quad(q, c0, r);
        }
        r = quad_next(r);
    }
}
