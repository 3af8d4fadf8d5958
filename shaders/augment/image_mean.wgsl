// Per-image grey mean for the contrast op: stats[n] = mean over pixels of the luma
// 0.299 R + 0.587 G + 0.114 B (ITU-R 601, Pillow's "L" conversion) for 3+ channels, or of the single channel.
//
// Bindings: 0 p (uniform Params; n, c, ho, wo describe the image), 1 img: array<f32> (read, N x C x ho x wo),
//   2 stats: array<f32> (read_write, N).
// Dispatch: n workgroups over Device.grid_1d; WG invocations stride over one image's pixels, then a
//   workgroup tree reduction (log2(WG) barriers per image, not per pixel).

#include "common/index.wgsl"

struct Params {
    n: u32,
    c: u32,
    ho: u32,
    wo: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> img: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;

var<workgroup> partial: array<f32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let n = flat_workgroup(wid, nwg);
    let plane = p.ho * p.wo;
    var acc = 0.0;
    if (n < p.n) {
        let base = n * p.c * plane;
        for (var i = lid; i < plane; i += {{WG}}u) {
            if (p.c >= 3u) {
                acc += 0.299 * img[base + i] + 0.587 * img[base + plane + i] + 0.114 * img[base + 2u * plane + i];
            } else {
                acc += img[base + i];
            }
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u && n < p.n) {
        stats[n] = partial[0] / f32(plane);
    }
}
