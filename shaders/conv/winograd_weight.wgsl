// Winograd weight transform on the device (weights change every training step): U[xi, oc, c] = (G g G^T)[xi]
// for the 3x3 filter g = w[oc, c], laid out as the A operand of the batched GEMM: ALPHA^2 x OC x Cg4
// (= ALPHA^2 x G x OCg x Cg4), zero for c >= Cg.
//
// Bindings: 0 p (uniform Params), 1 w: array<f32> (read) OC x Cg x 3 x 3, 2 u: array<f32> (read_write).
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = OC * Cg4.
// Template: WG, M (2 or 4), ALPHA (M + 2).
// Why: the 1-D transforms of winograd_mats.wgsl applied to columns then rows, constant indices only (0.75 -> 0.47 ms
// for 128 x 128 filters on lavapipe against the loop-over-const-matrix version).

#include "common/index.wgsl"
#include "conv/winograd_mats.wgsl"

const ALPHA: u32 = {{ALPHA}}u;

struct Params { n: u32, Cg: u32, Cg4: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let cg = i % p.Cg4;
    let oc = i / p.Cg4;
    var out: array<array<f32, ALPHA>, ALPHA>;  // out[a][b] = (G f G^T)[a, b]
    if (cg < p.Cg) {
        let base = (oc * p.Cg + cg) * 9u;
        var cols: array<array<f32, ALPHA>, 3>;   // cols[b] = G (column b of the filter)
        for (var b = 0u; b < 3u; b++) {
            cols[b] = g_1d_{{M}}(array<f32, 3>(w[base + b], w[base + 3u + b], w[base + 6u + b]));
        }
        for (var a = 0u; a < ALPHA; a++) {        // rows: out[a] = G (row a of cols^T)
            out[a] = g_1d_{{M}}(array<f32, 3>(cols[0][a], cols[1][a], cols[2][a]));
        }
    }
    for (var a = 0u; a < ALPHA; a++) {
        for (var b = 0u; b < ALPHA; b++) {
            u[(a * ALPHA + b) * p.n + i] = out[a][b];
        }
    }
}
