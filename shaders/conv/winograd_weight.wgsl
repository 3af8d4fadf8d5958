// Winograd weight transform on the device (weights change every training step): U[xi, oc, c] = (G g G^T)[xi]
// for the 3x3 filter g = w[oc, c], laid out as the A operand of the batched GEMM: ALPHA^2 x OC x Cg4
// (= ALPHA^2 x G x OCg x Cg4), zero for c >= Cg.
//
// Bindings: 0 p (uniform Params), 1 w: array<f32> (read) OC x Cg x 3 x 3, 2 u: array<f32> (read_write).
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = OC * Cg4.
// Template: WG, M (2 or 4), ALPHA (M + 2).

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
    var out: array<f32, ALPHA * ALPHA>;
    if (cg < p.Cg) {
        let gm = G{{M}};
        let base = (oc * p.Cg + cg) * 9u;
        var f: array<f32, 9>;
        for (var k = 0u; k < 9u; k++) { f[k] = w[base + k]; }
        var tmp: array<f32, ALPHA * 3u>;    // tmp = G f (ALPHA x 3)
        for (var a = 0u; a < ALPHA; a++) {
            for (var b = 0u; b < 3u; b++) {
                tmp[a * 3u + b] = gm[a * 3u] * f[b] + gm[a * 3u + 1u] * f[3u + b] + gm[a * 3u + 2u] * f[6u + b];
            }
        }
        for (var a = 0u; a < ALPHA; a++) {  // out = tmp G^T
            for (var b = 0u; b < ALPHA; b++) {
                out[a * ALPHA + b] = tmp[a * 3u] * gm[b * 3u] + tmp[a * 3u + 1u] * gm[b * 3u + 1u]
                    + tmp[a * 3u + 2u] * gm[b * 3u + 2u];
            }
        }
    }
    for (var xi = 0u; xi < ALPHA * ALPHA; xi++) {
        u[xi * p.n + i] = out[xi];
    }
}
