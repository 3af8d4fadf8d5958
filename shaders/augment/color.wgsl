// In-place run of pixel ops (a pipeline segment that starts with a contrast op, which needs the image mean
// computed by image_mean.wgsl after the previous segment). See common.wgsl for the op codes and parameters.
//
// Bindings: 0 p (uniform Params; ho, wo are the image size), 1 prm: array<vec4<u32>> (read),
//   2 stats: array<f32> (read, per-image grey mean), 3 out: array<f32> (read_write, N x C x ho x wo, in place).
// Dispatch: ceil(n * ho * wq / WG) workgroups over Device.grid_1d, wq = ceil(wo / PX).
// Why in place: each invocation reads and writes only its own pixels, and one binding avoids a second image.

#include "augment/common.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> prm: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n * p.ho * p.wq) {
        return;
    }
    let xq = i % p.wq;
    let row = i / p.wq;
    let y = row % p.ho;
    let n = row / p.ho;
    let blk = p.base + n * p.stride;
    let x0 = xq * PX;
    for (var c0 = 0u; c0 < p.c; c0 += 4u) {
        var vals: array<vec4<f32>, PX>;
        for (var k = 0u; k < PX; k++) {
            let x = min(x0 + k, p.wo - 1u);
            for (var j = 0u; j < 4u; j++) {
                if (c0 + j < p.c) {
                    vals[k][j] = out[((n * p.c + c0 + j) * p.ho + y) * p.wo + x];
                }
            }
        }
        run_ops(&vals, n, blk, c0, y, x0);
        store(&vals, n, c0, y, x0);
    }
}
