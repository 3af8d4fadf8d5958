// Copy a batch of matrices into matrices of another size: out[b, r, c] = x[b, r, c] where (r, c) lies inside x,
// else 0. Pads (out larger: zero fill) or crops (out smaller) — used to give GEMM operands whole vec4 rows.
//
// Bindings: 0 params (uniform Params), 1 x: array<u32> (read) batch x rows_in x cols_in,
//   2 out: array<u32> (read_write) batch x rows_out x cols_out. Words are copied as bits (any 32-bit dtype).
// Template: WORD, the element type: u32 for 32-bit dtypes, f16 for float16 tensors (2-byte elements).
// Dispatch: ceil(batch * rows_out * cols_out / WG) workgroups, split over (x, y) by Device.grid_1d.

#include "common/index.wgsl"

struct Params {
    n: u32,
    rows_in: u32,
    cols_in: u32,
    rows_out: u32,
    cols_out: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<{{WORD}}>;
@group(0) @binding(2) var<storage, read_write> out: array<{{WORD}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let c = i % p.cols_out;
    let r = (i / p.cols_out) % p.rows_out;
    let b = i / (p.cols_out * p.rows_out);
    var value = {{WORD}}(0);
    if (r < p.rows_in && c < p.cols_in) {
        value = x_in[(b * p.rows_in + r) * p.cols_in + c];
    }
    out[i] = value;
}
