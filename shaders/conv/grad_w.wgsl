// Weight and bias gradients of a convolution as an implicit GEMM (no column buffer, no packed dY):
// part[z, o, k] = sum over the pixels j of chunk s of dY[n, g*OCg + o, q] * X[j, k], z = g * S + s, where
// j = n * P + q runs over the batch's output pixels, k = (c, kh, kw) over the K taps (X[j, k] = the input under
// tap k of pixel j, 0 in the padding) and the extra tap k = K is the constant 1, so part[z, o, K] is the bias
// gradient's partial sum. conv/grad_w_finish.wgsl sums the S chunks.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 dy: array<vec4<f32>> (read)
//   N x OC x P (P must be a multiple of 4), 3 part: array<vec4<f32>> (read_write) G*S x OCg16 x KB
//   (KB = K + 1 rounded up to 4, OCg16 = OCg rounded up to 16).
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * S * RB * KB4 (KB4 = KB / 4, RB = OCg16 / 16):
//   one invocation per 4 taps x 16 output channels x chunk of L pixels (L a multiple of 4).
// Template: WG.
// Why this shape (lavapipe): per step of 4 pixels an invocation gathers 4 x 4 inputs (16 loads) and loads 16 rows
// of dY as vec4 (4 pixels each), for 256 FMAs; the im2col_t + dy_pack + GEMM + row-sum path it replaces wrote and
// re-read a K x N*P column matrix and ran 4-5 dispatches per convolution.

#include "common/index.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, OCg: u32, OC: u32, KH: u32,
    KW: u32, K: u32, KB4: u32, RB: u32, OW: u32, P: u32, NP: u32, L: u32,
    S: u32, sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32, OCg16: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<vec4<f32>>;

// X[pixel, 4 taps]: tap offsets toff (c*H*W + kh*dh*W + kw*dw), tap row/col shifts ty/tx, kind (0 tap, 1 bias, 2 none)
fn gather(base: i32, iy: i32, ix: i32, toff: vec4<i32>, ty: vec4<i32>, tx: vec4<i32>,
          kind: vec4<u32>) -> vec4<f32> {
    let y = vec4<i32>(iy) + ty;
    let x = vec4<i32>(ix) + tx;
    let inside = (y >= vec4<i32>(0)) & (y < vec4<i32>(i32(p.H))) & (x >= vec4<i32>(0)) & (x < vec4<i32>(i32(p.W)))
        & (kind == vec4<u32>(0u));
    let a = select(vec4<i32>(0), vec4<i32>(base + iy * i32(p.W) + ix) + toff, inside);
    let v = vec4<f32>(x_in[a.x], x_in[a.y], x_in[a.z], x_in[a.w]);
    let one = select(vec4<f32>(0.0), vec4<f32>(1.0), kind == vec4<u32>(1u));
    return select(one, v, inside);
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let kb = i % p.KB4;
    var r = i / p.KB4;
    let rb = r % p.RB;
    let z = r / p.RB;
    let s = z % p.S;
    let g = z / p.S;
    // the 4 taps of this invocation, decoded once
    var toff = vec4<i32>(); var ty = vec4<i32>(); var tx = vec4<i32>(); var kind = vec4<u32>(2u);
    let khw = p.KH * p.KW;
    for (var e = 0u; e < 4u; e++) {
        let k = kb * 4u + e;
        if (k < p.K) {
            let c = k / khw;
            let kh = (k % khw) / p.KW;
            let kw = k % p.KW;
            ty[e] = i32(kh * p.dh);
            tx[e] = i32(kw * p.dw);
            toff[e] = i32(c * p.H * p.W) + ty[e] * i32(p.W) + tx[e];
            kind[e] = 0u;
        } else if (k == p.K) {
            kind[e] = 1u;
        }
    }
    // 16 dY rows (clamped; rows 8..15 only when OCg > 8)
    let o0 = rb * 16u;
    let last = p.OCg - 1u;
    let both = o0 + 8u < p.OCg;
    let P4 = p.P / 4u;
    let j0 = s * p.L;
    let j1 = min(j0 + p.L, p.NP);
    var acc: array<vec4<f32>, 16>;
    if (j0 < j1) {
        var n = j0 / p.P;
        var q = j0 % p.P;
        var oh = q / p.OW;
        var ow = q % p.OW;
        let chw = i32(p.C * p.H * p.W);
        let gbase = i32(g * p.Cg * p.H * p.W);
        for (var j = j0; j < j1; j += 4u) {
            let nb = i32(n) * chw + gbase;
            // 4 pixels (q .. q+3 of image n; P % 4 == 0 keeps them in one image)
            var bm: mat4x4<f32>;
            for (var e = 0u; e < 4u; e++) {
                let iy = i32(oh * p.sh) - i32(p.ph);
                let ix = i32(ow * p.sw) - i32(p.pw);
                bm[e] = gather(nb, iy, ix, toff, ty, tx, kind);
                ow++;
                if (ow == p.OW) { ow = 0u; oh++; }
            }
            let rowb = (n * p.OC + g * p.OCg) * P4 + q / 4u;
            // acc[r] (4 taps) += sum_e dY[r, pixel e] * X[pixel e, taps] = bm * dY[r, 4 pixels] (L, NP: multiples of 4)
            acc[0] += bm * dy[rowb + min(o0, last) * P4];
            acc[1] += bm * dy[rowb + min(o0 + 1u, last) * P4];
            acc[2] += bm * dy[rowb + min(o0 + 2u, last) * P4];
            acc[3] += bm * dy[rowb + min(o0 + 3u, last) * P4];
            acc[4] += bm * dy[rowb + min(o0 + 4u, last) * P4];
            acc[5] += bm * dy[rowb + min(o0 + 5u, last) * P4];
            acc[6] += bm * dy[rowb + min(o0 + 6u, last) * P4];
            acc[7] += bm * dy[rowb + min(o0 + 7u, last) * P4];
            if (both) {
                acc[8] += bm * dy[rowb + min(o0 + 8u, last) * P4];
                acc[9] += bm * dy[rowb + min(o0 + 9u, last) * P4];
                acc[10] += bm * dy[rowb + min(o0 + 10u, last) * P4];
                acc[11] += bm * dy[rowb + min(o0 + 11u, last) * P4];
                acc[12] += bm * dy[rowb + min(o0 + 12u, last) * P4];
                acc[13] += bm * dy[rowb + min(o0 + 13u, last) * P4];
                acc[14] += bm * dy[rowb + min(o0 + 14u, last) * P4];
                acc[15] += bm * dy[rowb + min(o0 + 15u, last) * P4];
            }
            q += 4u;
            if (q == p.P) { q = 0u; n++; oh = 0u; ow = 0u; }
        }
    }
    let KB4 = p.KB4;
    let ob = (z * p.OCg16 + o0) * KB4 + kb;
    part[ob] = acc[0]; part[ob + KB4] = acc[1]; part[ob + 2u * KB4] = acc[2]; part[ob + 3u * KB4] = acc[3];
    part[ob + 4u * KB4] = acc[4]; part[ob + 5u * KB4] = acc[5]; part[ob + 6u * KB4] = acc[6];
    part[ob + 7u * KB4] = acc[7]; part[ob + 8u * KB4] = acc[8]; part[ob + 9u * KB4] = acc[9];
    part[ob + 10u * KB4] = acc[10]; part[ob + 11u * KB4] = acc[11]; part[ob + 12u * KB4] = acc[12];
    part[ob + 13u * KB4] = acc[13]; part[ob + 14u * KB4] = acc[14]; part[ob + 15u * KB4] = acc[15];
}
