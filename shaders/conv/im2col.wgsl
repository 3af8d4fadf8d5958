// im2col for the GEMM convolution: cols[g, k, j] = x at tap k = (c, kh, kw) of output column j = n * Pc + oh * OWc
// + ow (the chunk's images side by side, Pc = OH * OWc; chunk image n is image n0 + n of x), zero outside the image.
// OWc = OW, or OW rounded up to 4 ("row layout": every vec4 of columns lies in one output row; columns ow >= OW
// hold finite junk that the epilogue drops).
// Laid out as the GEMM's B operand (K4 x NPc per group, row-major), zero-padded: rows k >= K and columns j >= NP
// are 0.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W,
//   2 cols: array<vec4<f32>> (read_write) G x K4 x NPc (K4 = K rounded up to 4, NPc = NP rounded up to 4).
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * CB * NPc / 4, CB = ceil(Cg / CPB) channel
//   blocks of CPB channels. The invocation for the last block also writes the zero rows K..K4.
// Template: WG; BLK: 0 for the plain layout, else the blocked layout for one group — BLK vec4 columns per block,
//   each block's K4 rows contiguous, so a GEMM workgroup streams its B tile sequentially (BLK = 16: 64 columns).
//   lavapipe: a 16 x 7680 x 152 GEMM (LeNet conv2 at batch 64) 1.8x faster on blocked B, which has no reuse
//   across row tiles and was bound by strided cache misses.
// Why this shape: one invocation per vec4 of 4 adjacent columns and CPB channels x KH x KW rows. Integer
// division is scalarised on lavapipe (~20x an FMA per lane), so the 4 columns are decoded to (n, oh, ow) once and
// the rows walk (c, kh, kw) by loop counters: 4 gathered loads + 1 vec4 store per row, no division (the first
// version decoded per element and ran 10x slower). In the row layout with stride and dilation 1 the KW taps of
// one (c, kh) are a window sliding along one input row: KW + 3 loads for KW vec4s instead of 4 * KW.

#include "common/index.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, KH: u32, KW: u32, K: u32,
    K4: u32, OW: u32, P: u32, NP: u32, NPc: u32, sh: u32, sw: u32, ph: u32,
    pw: u32, dh: u32, dw: u32, n0: u32, CPB: u32, CB: u32, OWc: u32, Pc: u32,
}

const BLK: u32 = {{BLK}}u;  // vec4 columns per block of the blocked layout, 0 = plain

// vec4 index of column vec4 j4 of row k of group g: plain (G, K4, NPc/4), or blocked (NPc/4/BLK, K4, BLK) (one group)
fn col_index(g: u32, k: u32, j4: u32, nc4: u32) -> u32 {
    if (BLK == 0u) {
        return (g * p.K4 + k) * nc4 + j4;
    }
    let b = max(BLK, 1u);  // Tint rejects a constant division by zero even where BLK == 0 cannot reach it
    return ((j4 / b) * p.K4 + k) * b + j4 % b;
}

fn load_or_zero(i: i32, ok: bool) -> f32 {
    return select(0.0, x_in[select(0, i, ok)], ok);
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<vec4<f32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let nc4 = p.NPc / 4u;
    let j4 = i % nc4;
    let r = i / nc4;
    let cb = r % p.CB;
    let g = r / p.CB;
    // decode the 4 columns once: plane offset (image), top-left input row/col; invalid columns never load
    var base = vec4<i32>(-1);
    var iy = vec4<i32>();
    var ix = vec4<i32>();
    for (var e = 0u; e < 4u; e++) {
        let j = j4 * 4u + e;
        if (j < p.NP) {
            let n = p.n0 + j / p.Pc;
            let q = j % p.Pc;
            base[e] = i32((n * p.C + g * p.Cg) * p.H * p.W);
            iy[e] = i32((q / p.OWc) * p.sh) - i32(p.ph);
            ix[e] = i32((q % p.OWc) * p.sw) - i32(p.pw);
        }
    }
    let H = i32(p.H);
    let W = i32(p.W);
    let plane = H * W;
    let c0 = cb * p.CPB;
    let c1 = min(c0 + p.CPB, p.Cg);
    var o = col_index(g, c0 * p.KH * p.KW, j4, nc4);
    let step = select(nc4, BLK, BLK > 0u);
    if (p.OWc % 4u == 0u && p.sw == 1u && p.dw == 1u) {  // row layout: uniform over the dispatch
        let valid = base.x >= 0;
        for (var c = c0; c < c1; c++) {
            let bc = base.x + i32(c) * plane;
            for (var kh = 0u; kh < p.KH; kh++) {
                let y = iy.x + i32(kh * p.dh);
                let yok = valid && y >= 0 && y < H;
                let row = bc + y * W;
                var win = vec4<f32>();          // x[row, ix + kw .. ix + kw + 3], zero outside the image
                for (var e = 0; e < 3; e++) {
                    let xx = ix.x + e;
                    win = vec4<f32>(win.yzw, load_or_zero(row + xx, yok && xx >= 0 && xx < W));
                }
                for (var kw = 0; kw < i32(p.KW); kw++) {
                    let xx = ix.x + kw + 3;
                    win = vec4<f32>(win.yzw, load_or_zero(row + xx, yok && xx >= 0 && xx < W));
                    cols[o] = win;
                    o += step;
                }
            }
        }
    } else {
        for (var c = c0; c < c1; c++) {
            let bc = base + vec4<i32>(i32(c) * plane);
            for (var kh = 0u; kh < p.KH; kh++) {
                let y = iy + vec4<i32>(i32(kh * p.dh));
                let yok = (y >= vec4<i32>(0)) & (y < vec4<i32>(H)) & (base >= vec4<i32>(0));
                let row = bc + y * W;
                for (var kw = 0u; kw < p.KW; kw++) {
                    let xx = ix + vec4<i32>(i32(kw * p.dw));
                    let ok = yok & (xx >= vec4<i32>(0)) & (xx < vec4<i32>(W));
                    let a = select(vec4<i32>(0), row + xx, ok);
                    let v = vec4<f32>(x_in[a.x], x_in[a.y], x_in[a.z], x_in[a.w]);
                    cols[o] = select(vec4<f32>(), v, ok);
                    o += step;
                }
            }
        }
    }
    if (cb + 1u == p.CB) {
        for (var kz = p.K; kz < p.K4; kz++) {
            cols[col_index(g, kz, j4, nc4)] = vec4<f32>();
        }
    }
}
