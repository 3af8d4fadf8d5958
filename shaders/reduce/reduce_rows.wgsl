// Reduce each row of a (rows, R) matrix, one workgroup per (row, chunk of the row), tree reduction in
// workgroup memory. Used when the reduced axis is the last one and long (R >= WG).
//
// Bindings: 0 params (uniform Params), 1 x: array<f32> (read) rows x R, 2 x_idx: array<u32> (read) the
//   source index of each x element when INDEXED (a second pass over partial results), else unused;
//   3 out: array<f32> (read_write) rows x chunks, 4 out_idx: array<u32> (read_write) rows x chunks.
// Dispatch: rows * chunks workgroups, split over (x, y) by Device.grid_1d; chunk = ceil(R / chunks).
// Each output is multiplied by `scale` (1/R for a mean's last pass, else 1).
// Template: WG (power of two), INDEXED (bool), IDENTITY and COMBINE (see reduce/pair.wgsl).

#include "common/index.wgsl"
#include "reduce/pair.wgsl"

struct Params {
    rows: u32,
    r: u32,
    chunks: u32,
    chunk: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> x_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_idx: array<u32>;

var<workgroup> partial: array<Pair, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = flat_workgroup(wid, nwg);
    let row = g / p.chunks;
    let c = g % p.chunks;
    // Uniform control flow: every invocation reaches the barriers below, even past the last row.
    var acc = identity();
    if (row < p.rows) {
        let start = c * p.chunk;
        let stop = min(start + p.chunk, p.r);
        let base = row * p.r;
        for (var r = start + lid; r < stop; r += {{WG}}u) {
            var index = r;
            if ({{INDEXED}}) {
                index = x_idx[base + r];
            }
            acc = combine(acc, Pair(x_in[base + r], index));
        }
    }
    partial[lid] = acc;
    for (var step = {{WG}}u / 2u; step > 0u; step /= 2u) {
        workgroupBarrier();
        if (lid < step) {
            partial[lid] = combine(partial[lid], partial[lid + step]);
        }
    }
    if (lid == 0u && row < p.rows) {
        out[g] = partial[0].v * p.scale;
        out_idx[g] = partial[0].i;
    }
}
