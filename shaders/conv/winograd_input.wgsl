// Winograd input transform: V[xi, g, c, t] = (B^T d B)[xi] for every input channel c of group g and tile t,
// d = the alpha x alpha input patch at (ty * M - ph, tx * M - pw) of image n (zero outside), xi = a * ALPHA + b.
// V is the B operand of the batched GEMM over the ALPHA^2 transform positions (Cg4 x T4 per (xi, g)),
// zero-padded: c >= Cg or t >= T give 0.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 v: array<f32> (read_write)
//   ALPHA^2 x G x Cg4 x T4.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * Cg4 * T4. Tiles t = (n, ty, tx) run along lanes.
// Template: WG, M (2 or 4), ALPHA (M + 2).
// Why: ALPHA^2 loads per tile-channel produce ALPHA^2 GEMM inputs; the 1-D transforms (winograd_mats.wgsl) are
// written out, so every array index is constant after unrolling and the patch stays in registers.

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
    var out: array<array<f32, ALPHA>, ALPHA>;  // out[a][b] = (B^T d B)[a, b]
    if (t < p.T && cg < p.Cg) {
        let n = p.n0 + t / p.tiles_hw;          // tiles of images n0.. (one chunk)
        let r = t % p.tiles_hw;
        let y0 = i32((r / p.tiles_w) * {{M}}u) - i32(p.ph);
        let x0 = i32((r % p.tiles_w) * {{M}}u) - i32(p.pw);
        let plane = (n * p.C + g * p.Cg + cg) * p.H * p.W;
        var cols: array<array<f32, ALPHA>, ALPHA>;  // cols[b] = B^T (column b of the patch)
        for (var b = 0u; b < ALPHA; b++) {
            let xx = x0 + i32(b);
            let xin = xx >= 0 && xx < i32(p.W);
            let col = plane + u32(clamp(xx, 0, i32(p.W) - 1));
            var d: array<f32, ALPHA>;
            for (var a = 0u; a < ALPHA; a++) {
                let y = y0 + i32(a);
                let inside = xin && y >= 0 && y < i32(p.H);
                d[a] = select(0.0, x_in[col + u32(clamp(y, 0, i32(p.H) - 1)) * p.W], inside);
            }
            cols[b] = bt_1d_{{M}}(d);
        }
        for (var a = 0u; a < ALPHA; a++) {       // rows: out[a] = B^T (row a of cols^T)
            var row: array<f32, ALPHA>;
            for (var b = 0u; b < ALPHA; b++) { row[b] = cols[b][a]; }
            out[a] = bt_1d_{{M}}(row);
        }
    }
    for (var a = 0u; a < ALPHA; a++) {
        for (var b = 0u; b < ALPHA; b++) {
            v[(a * ALPHA + b) * p.stride_xi + i] = out[a][b];
        }
    }
}
