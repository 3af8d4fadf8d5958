// Transposed im2col for the weight gradient: colsT[g, j, k] = x at tap k = (c, kh, kw) of output column
// j = n * P + oh * OW + ow (chunk image n is image n0 + n of x), laid out as the GEMM's B operand of
// grad_w = dY · colsT (NPc x K4 per group, row-major), zero-padded (k >= K, j >= NP).
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W,
//   2 cols: array<f32> (read_write) G x NPc x K4.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * NPc (one invocation per column j).
// Template: WG.
// Why: the column is decoded once (integer division is scalarised on lavapipe) and the K taps are walked by loop
// counters; writing the transpose directly saves a transpose pass over the backward pass's largest buffer.

#include "common/index.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, KH: u32, KW: u32, K: u32,
    K4: u32, OW: u32, P: u32, NP: u32, NPc: u32, sh: u32, sw: u32, ph: u32,
    pw: u32, dh: u32, dw: u32, n0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let j = i % p.NPc;
    let g = i / p.NPc;
    var o = i * p.K4;
    if (j < p.NP) {
        let n = p.n0 + j / p.P;
        let q = j % p.P;
        let H = i32(p.H);
        let W = i32(p.W);
        let iy = i32((q / p.OW) * p.sh) - i32(p.ph);
        let ix = i32((q % p.OW) * p.sw) - i32(p.pw);
        var plane = (n * p.C + g * p.Cg) * p.H * p.W;
        for (var c = 0u; c < p.Cg; c++) {
            for (var kh = 0u; kh < p.KH; kh++) {
                let y = iy + i32(kh * p.dh);
                let yok = y >= 0 && y < H;
                let row = plane + u32(clamp(y, 0, H - 1)) * p.W;
                for (var kw = 0u; kw < p.KW; kw++) {
                    let xx = ix + i32(kw * p.dw);
                    let ok = yok && xx >= 0 && xx < W;
                    cols[o] = select(0.0, x_in[row + u32(clamp(xx, 0, W - 1))], ok);
                    o++;
                }
            }
            plane += p.H * p.W;
        }
        for (var k = p.K; k < p.K4; k++) {
            cols[o] = 0.0;
            o++;
        }
    } else {
        for (var k = 0u; k < p.K4; k++) {
            cols[o + k] = 0.0;
        }
    }
}
