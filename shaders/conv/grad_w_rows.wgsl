// Weight and bias gradients for few output channels (OCg <= 8) and a horizontal stride/dilation of 1, KW <= 8,
// OW % 4 == 0 (LeNet conv1): part[z, o, k] = sum over the output rows of chunk s of
// sum_ow dY[n, g*OCg + o, oh, ow] * x[n, g*Cg + c, oh*sh - ph + kh*dh, ow - pw + kw], z = g * S + s,
// k = (c * KH + kh) * KW + kw; part[z, o, K] = the chunk's sum of dY (bias). Same output layout as
// conv/grad_w.wgsl with OCg16 = OCg, summed by conv/grad_w_finish.wgsl.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 dy: array<vec4<f32>> (read)
//   N x OC x OH x OW, 3 part: array<f32> (read_write) G*S x OCg x KB (KB = K + 1 rounded up to 4).
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * S * Cg * KH (one invocation per input channel and
//   kernel row of a chunk of R output rows).
// Template: WG.
// Why (lavapipe): per 4 pixels of a row an invocation loads 11 inputs (the 4 pixels' KW-wide windows overlap) and
// OCg vec4s of dY for OCg * 4 * KW FMAs (LeNet conv1: 17 loads / 120 FMAs, vs 24 / 96 in conv/grad_w.wgsl).

#include "common/index.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, OCg: u32, OC: u32, KH: u32,
    KW: u32, K: u32, KB: u32, OH: u32, OW: u32, R: u32, S: u32, sh: u32,
    ph: u32, pw: u32, dh: u32, rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

fn ld(row: u32, ix: i32, ok: bool) -> f32 {
    let W = i32(p.W);
    return select(0.0, x_in[row + u32(clamp(ix, 0, W - 1))], ok && ix >= 0 && ix < W);
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let kh = i % p.KH;
    var r = i / p.KH;
    let c = r % p.Cg;
    let z = r / p.Cg;
    let s = z % p.S;
    let g = z / p.S;
    let bias_lane = c == 0u && kh == 0u;      // also sums dY for the bias
    let last = p.OCg - 1u;
    let OW4 = p.OW / 4u;
    let rows = p.rows;                         // N * OH
    // lo_o = kw 0..3 of channel o, hi_o = kw 4..7, bs_o = dY sums (bias)
    var lo0 = vec4<f32>(); var hi0 = vec4<f32>(); var bs0 = vec4<f32>();
    var lo1 = vec4<f32>(); var hi1 = vec4<f32>(); var bs1 = vec4<f32>();
    var lo2 = vec4<f32>(); var hi2 = vec4<f32>(); var bs2 = vec4<f32>();
    var lo3 = vec4<f32>(); var hi3 = vec4<f32>(); var bs3 = vec4<f32>();
    var lo4 = vec4<f32>(); var hi4 = vec4<f32>(); var bs4 = vec4<f32>();
    var lo5 = vec4<f32>(); var hi5 = vec4<f32>(); var bs5 = vec4<f32>();
    var lo6 = vec4<f32>(); var hi6 = vec4<f32>(); var bs6 = vec4<f32>();
    var lo7 = vec4<f32>(); var hi7 = vec4<f32>(); var bs7 = vec4<f32>();
    let r0 = s * p.R;
    let r1 = min(r0 + p.R, rows);
    var n = r0 / p.OH;
    var oh = r0 % p.OH;
    for (var rr = r0; rr < r1; rr++) {
        let ih = i32(oh * p.sh) - i32(p.ph) + i32(kh * p.dh);
        let ok = ih >= 0 && ih < i32(p.H);
        let xrow = ((n * p.C + g * p.Cg + c) * p.H + u32(clamp(ih, 0, i32(p.H) - 1))) * p.W;
        let drow = ((n * p.OC + g * p.OCg) * p.OH + oh) * OW4;
        let dstep = p.OH * OW4;               // from channel o to o + 1
        for (var q = 0u; q < OW4; q++) {
            let ix = i32(q * 4u) - i32(p.pw);
            let v0 = ld(xrow, ix, ok); let v1 = ld(xrow, ix + 1, ok); let v2 = ld(xrow, ix + 2, ok);
            let v3 = ld(xrow, ix + 3, ok); let v4 = ld(xrow, ix + 4, ok); let v5 = ld(xrow, ix + 5, ok);
            let v6 = ld(xrow, ix + 6, ok);
            let xa0 = vec4<f32>(v0, v1, v2, v3); let xa1 = vec4<f32>(v1, v2, v3, v4);
            let xa2 = vec4<f32>(v2, v3, v4, v5); let xa3 = vec4<f32>(v3, v4, v5, v6);
            var xb0 = vec4<f32>(); var xb1 = vec4<f32>(); var xb2 = vec4<f32>(); var xb3 = vec4<f32>();
            if (p.KW > 4u) {
                let v7 = ld(xrow, ix + 7, ok); let v8 = ld(xrow, ix + 8, ok); let v9 = ld(xrow, ix + 9, ok);
                let v10 = ld(xrow, ix + 10, ok);
                xb0 = vec4<f32>(v4, v5, v6, v7); xb1 = vec4<f32>(v5, v6, v7, v8);
                xb2 = vec4<f32>(v6, v7, v8, v9); xb3 = vec4<f32>(v7, v8, v9, v10);
            }
            {
                let d0 = dy[drow + 0u * dstep + q];
                lo0 += d0.x * xa0 + d0.y * xa1 + d0.z * xa2 + d0.w * xa3;
                hi0 += d0.x * xb0 + d0.y * xb1 + d0.z * xb2 + d0.w * xb3;
                if (bias_lane) { bs0 += d0; }
            }
            if (last >= 1u) {
                let d1 = dy[drow + 1u * dstep + q];
                lo1 += d1.x * xa0 + d1.y * xa1 + d1.z * xa2 + d1.w * xa3;
                hi1 += d1.x * xb0 + d1.y * xb1 + d1.z * xb2 + d1.w * xb3;
                if (bias_lane) { bs1 += d1; }
            }
            if (last >= 2u) {
                let d2 = dy[drow + 2u * dstep + q];
                lo2 += d2.x * xa0 + d2.y * xa1 + d2.z * xa2 + d2.w * xa3;
                hi2 += d2.x * xb0 + d2.y * xb1 + d2.z * xb2 + d2.w * xb3;
                if (bias_lane) { bs2 += d2; }
            }
            if (last >= 3u) {
                let d3 = dy[drow + 3u * dstep + q];
                lo3 += d3.x * xa0 + d3.y * xa1 + d3.z * xa2 + d3.w * xa3;
                hi3 += d3.x * xb0 + d3.y * xb1 + d3.z * xb2 + d3.w * xb3;
                if (bias_lane) { bs3 += d3; }
            }
            if (last >= 4u) {
                let d4 = dy[drow + 4u * dstep + q];
                lo4 += d4.x * xa0 + d4.y * xa1 + d4.z * xa2 + d4.w * xa3;
                hi4 += d4.x * xb0 + d4.y * xb1 + d4.z * xb2 + d4.w * xb3;
                if (bias_lane) { bs4 += d4; }
            }
            if (last >= 5u) {
                let d5 = dy[drow + 5u * dstep + q];
                lo5 += d5.x * xa0 + d5.y * xa1 + d5.z * xa2 + d5.w * xa3;
                hi5 += d5.x * xb0 + d5.y * xb1 + d5.z * xb2 + d5.w * xb3;
                if (bias_lane) { bs5 += d5; }
            }
            if (last >= 6u) {
                let d6 = dy[drow + 6u * dstep + q];
                lo6 += d6.x * xa0 + d6.y * xa1 + d6.z * xa2 + d6.w * xa3;
                hi6 += d6.x * xb0 + d6.y * xb1 + d6.z * xb2 + d6.w * xb3;
                if (bias_lane) { bs6 += d6; }
            }
            if (last >= 7u) {
                let d7 = dy[drow + 7u * dstep + q];
                lo7 += d7.x * xa0 + d7.y * xa1 + d7.z * xa2 + d7.w * xa3;
                hi7 += d7.x * xb0 + d7.y * xb1 + d7.z * xb2 + d7.w * xb3;
                if (bias_lane) { bs7 += d7; }
            }
        }
        oh++;
        if (oh == p.OH) { oh = 0u; n++; }
    }
    let k0 = (c * p.KH + kh) * p.KW;
    let los = array<vec4<f32>, 8>(lo0, lo1, lo2, lo3, lo4, lo5, lo6, lo7);
    let his = array<vec4<f32>, 8>(hi0, hi1, hi2, hi3, hi4, hi5, hi6, hi7);
    let bss = array<vec4<f32>, 8>(bs0, bs1, bs2, bs3, bs4, bs5, bs6, bs7);
    for (var o = 0u; o < 8u; o++) {
        if (o > last) { break; }
        let base = (z * p.OCg + o) * p.KB;
        let l = los[o];
        let h = his[o];
        for (var kw = 0u; kw < p.KW; kw++) {
            part[base + k0 + kw] = select(l[kw % 4u], h[kw % 4u], kw >= 4u);
        }
        if (bias_lane) {
            let b = bss[o];
            part[base + p.K] = b.x + b.y + b.z + b.w;
        }
    }
}
