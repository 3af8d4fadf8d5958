// Winograd output transform with fused bias and ReLU: out tile (M x M) = A^T Y A for output channel oc and
// tile t, Y[xi] = y[xi, oc, t] (the batched GEMM result, ALPHA^2 x OC x T4), written to NCHW where inside.
//
// Bindings: 0 p (uniform Params), 1 y: array<f32> (read) ALPHA^2 x OC x T4, 2 bias: array<f32> (read) OC
//   (ignored unless has_bias = 1), 3 out: array<f32> (read_write) N x OC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = OC * T. Tiles run along lanes.
// Template: WG, M (2 or 4), ALPHA (M + 2).

#include "common/index.wgsl"
#include "conv/winograd_mats.wgsl"
#include "common/nan.wgsl"

const ALPHA: u32 = {{ALPHA}}u;
const MT: u32 = {{M}}u;

struct Params { n: u32, OC: u32, OH: u32, OW: u32, T: u32, T4: u32, tiles_w: u32, tiles_hw: u32, has_bias: u32, relu: u32, n0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let t = i % p.T;
    let oc = i / p.T;
    let stride_xi = p.OC * p.T4;
    let base = oc * p.T4 + t;
    var rows: array<array<f32, MT>, ALPHA>;   // rows[a] = (row a of Y) A
    for (var a = 0u; a < ALPHA; a++) {
        var m: array<f32, ALPHA>;
        for (var b = 0u; b < ALPHA; b++) { m[b] = y[(a * ALPHA + b) * stride_xi + base]; }
        rows[a] = at_1d_{{M}}(m);
    }
    var bv = 0.0;
    if (p.has_bias == 1u) { bv = bias[oc]; }
    let n = p.n0 + t / p.tiles_hw;
    let r = t % p.tiles_hw;
    let y0 = (r / p.tiles_w) * MT;
    let x0 = (r % p.tiles_w) * MT;
    let plane = (n * p.OC + oc) * p.OH;
    for (var b = 0u; b < MT; b++) {           // column b of the tile: A^T (column b of rows)
        var col: array<f32, ALPHA>;
        for (var a = 0u; a < ALPHA; a++) { col[a] = rows[a][b]; }
        let o = at_1d_{{M}}(col);
        if (x0 + b < p.OW) {
            for (var a = 0u; a < MT; a++) {
                var s = o[a] + bv;
                if (p.relu == 1u) { s = max_nan(s, 0.0); }  // NaN stays NaN (numpy's maximum)
                if (y0 + a < p.OH) { out[(plane + y0 + a) * p.OW + x0 + b] = s; }
            }
        }
    }
}
