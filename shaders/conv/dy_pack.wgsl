// Backward pass: pack grad_out (N, OC, OH, OW) as the GEMM operand dyp[g, s, o, l] (G x S x OCg4 x Lc), the
// image columns j = s * Lc + l = n * P + q split into S chunks of Lc (split-K of the weight-gradient GEMM),
// zero-padded: o >= OCg or j >= NP give 0.
//
// Bindings: 0 p (uniform Params), 1 dy: array<f32> (read) N x OC x P, 2 dyp: array<f32> (read_write).
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * S * OCg4 * Lc.
// Template: WG.

#include "common/index.wgsl"

struct Params { n: u32, OC: u32, OCg: u32, OCg4: u32, S: u32, Lc: u32, P: u32, NP: u32, n0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dyp: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let l = i % p.Lc;
    var r = i / p.Lc;
    let o = r % p.OCg4;
    r = r / p.OCg4;
    let s = r % p.S;
    let g = r / p.S;
    let j = s * p.Lc + l;
    var v = 0.0;
    if (o < p.OCg && j < p.NP) {
        let n = p.n0 + j / p.P;                   // images n0.. of this chunk
        v = dy[(n * p.OC + g * p.OCg + o) * p.P + j % p.P];
    }
    dyp[i] = v;
}
