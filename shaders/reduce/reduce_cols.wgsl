// Reduce the middle axis of an (outer, R, inner) array, one invocation per (outer, chunk, inner) output
// looping over its chunk of R. Adjacent invocations read adjacent `inner` elements, so this is the
// kernel for every axis but a long last one (and for short last axes, where a workgroup per row idles).
//
// Bindings: 0 params (uniform Params), 1 x: array<f32> (read) outer x R x inner, 2 x_idx: array<u32> (read)
//   source indices when INDEXED, else unused; 3 out: array<f32> (read_write) outer x chunks x inner,
//   4 out_idx: array<u32> (read_write) same shape.
// Dispatch: ceil(outer * chunks * inner / WG) workgroups, split over (x, y) by Device.grid_1d.
// Each output is multiplied by `scale` (1/R for a mean's last pass, else 1).
// Template: WG, INDEXED (bool), IDENTITY and COMBINE (see reduce/pair.wgsl).

#include "common/index.wgsl"
#include "reduce/pair.wgsl"

struct Params {
    outer: u32,
    r: u32,
    inner: u32,
    chunks: u32,
    chunk: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> x_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_idx: array<u32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (o >= p.outer * p.chunks * p.inner) {
        return;
    }
    let j = o % p.inner;
    let c = (o / p.inner) % p.chunks;
    let outer = o / (p.inner * p.chunks);
    let start = c * p.chunk;
    let stop = min(start + p.chunk, p.r);
    var acc = identity();
    for (var r = start; r < stop; r++) {
        let at = (outer * p.r + r) * p.inner + j;
        var index = r;
        if ({{INDEXED}}) {
            index = x_idx[at];
        }
        acc = combine(acc, Pair(x_in[at], index));
    }
    out[o] = acc.v * p.scale;
    out_idx[o] = acc.i;
}
