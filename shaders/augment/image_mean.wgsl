// Per-image grey mean for the contrast op: stats[n] = (sum of the grey sums of image n's quads) / (ho * wo).
// The pass before the contrast op (resample.wgsl or color.wgsl with PARTIALS) wrote one sum per quad of 4
// pixels (0.299 R + 0.587 G + 0.114 B, ITU-R 601, Pillow's "L" conversion, or the single channel), so this
// kernel reads a quarter of a plane's pixels' worth of floats instead of C planes.
//
// Bindings: 0 p (uniform Params; quads per image, plane = ho * wo), 1 partials: array<f32> (read, N x quads),
//   2 stats: array<f32> (read_write, N).
// Dispatch: n workgroups over Device.grid_1d; WG invocations stride over one image's quads, then a workgroup
//   tree reduction (log2(WG) barriers per image, not per pixel).

#include "common/index.wgsl"

struct Params {
    n: u32,
    quads: u32,
    plane: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;

var<workgroup> partial: array<f32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let n = flat_workgroup(wid, nwg);
    var acc = 0.0;
    if (n < p.n) {
        let base = n * p.quads;
        for (var i = lid; i < p.quads; i += {{WG}}u) {
            acc += partials[base + i];
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
        stats[n] = partial[0] / f32(p.plane);
    }
}
