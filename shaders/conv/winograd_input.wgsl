// Winograd input transform: V[xi, g, c, t] = (B^T d B)[xi] for every input channel c of group g and tile t,
// d = the alpha x alpha input patch at (ty * M - ph, tx * M - pw) of image n (zero outside), xi = a * ALPHA + b.
// V is the B operand of the batched GEMM over the ALPHA^2 transform positions (Cg4 x T4 per (xi, g)),
// zero-padded: c >= Cg or t >= T give 0.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 v: array<f32> (read_write)
//   ALPHA^2 x G x Cg4 x T4.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * Cg4 * T4. Tiles t = (n, ty, tx) run along lanes.
// Template: WG, M (2 or 4), ALPHA (M + 2).
// Why: ALPHA^2 loads per tile-channel produce ALPHA^2 GEMM inputs; the constant matrices unroll into adds.

#include "common/index.wgsl"
#include "conv/winograd_mats.wgsl"

const ALPHA: u32 = {{ALPHA}}u;

struct Params { n: u32, C: u32, H: u32, W: u32, Cg: u32, Cg4: u32, T: u32, T4: u32, tiles_w: u32, tiles_hw: u32, ph: u32, pw: u32, stride_xi: u32, n0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let t = i % p.T4;
    let q = i / p.T4;
    let cg = q % p.Cg4;
    let g = q / p.Cg4;
    var out: array<f32, ALPHA * ALPHA>;
    if (t < p.T && cg < p.Cg) {
        let bt = BT{{M}};
        let n = p.n0 + t / p.tiles_hw;          // tiles of images n0.. (one chunk)
        let r = t % p.tiles_hw;
        let y0 = i32((r / p.tiles_w) * {{M}}u) - i32(p.ph);
        let x0 = i32((r % p.tiles_w) * {{M}}u) - i32(p.pw);
        let plane = (n * p.C + g * p.Cg + cg) * p.H * p.W;
        var d: array<f32, ALPHA * ALPHA>;
        for (var a = 0u; a < ALPHA; a++) {
            let y = y0 + i32(a);
            let yin = y >= 0 && y < i32(p.H);
            let row = plane + u32(clamp(y, 0, i32(p.H) - 1)) * p.W;
            for (var b = 0u; b < ALPHA; b++) {
                let xx = x0 + i32(b);
                let inside = yin && xx >= 0 && xx < i32(p.W);
                d[a * ALPHA + b] = select(0.0, x_in[row + u32(clamp(xx, 0, i32(p.W) - 1))], inside);
            }
        }
        var tmp: array<f32, ALPHA * ALPHA>;    // tmp = B^T d
        for (var a = 0u; a < ALPHA; a++) {
            for (var b = 0u; b < ALPHA; b++) {
                var s = 0.0;
                for (var k = 0u; k < ALPHA; k++) { s += bt[a * ALPHA + k] * d[k * ALPHA + b]; }
                tmp[a * ALPHA + b] = s;
            }
        }
        for (var a = 0u; a < ALPHA; a++) {       // out = tmp B
            for (var b = 0u; b < ALPHA; b++) {
                var s = 0.0;
                for (var k = 0u; k < ALPHA; k++) { s += tmp[a * ALPHA + k] * bt[b * ALPHA + k]; }
                out[a * ALPHA + b] = s;
            }
        }
    }
    for (var xi = 0u; xi < ALPHA * ALPHA; xi++) {
        v[xi * p.stride_xi + i] = out[xi];
    }
}
