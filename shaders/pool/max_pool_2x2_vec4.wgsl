// 2x2 / stride 2 max pooling over rows whose width is a multiple of 4 (LeNet's first pool, 28 wide): each
// invocation takes two adjacent windows from one vec4 of each of its two input rows. Same results as
// pool/max_pool_tiled.wgsl: out = window max, idx = flat in-plane index ih * W + iw of the first maximum in
// row-major window order (strict >), or of its
// last NaN as in PyTorch.
//
// Bindings: 0 p (uniform Params, pool/pool_common.wgsl; n = NC * OH * OW / 2 window pairs),
//   1 x_in: array<vec4<T>> (read) NC x H x W, 2 out: array<vec2<T>> (read_write) NC x OH x OW,
//   3 idx: array<vec2<i32>> (read_write) NC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d. Needs W % 4 == 0 (so OW is even and every vec4 and vec2
//   is aligned), H = 2 * OH.
// Template: WG; T, the scalar type of x_in and out (f32, or f16 for half inference).
// Why: lavapipe runs storage loads lane by lane; 2 vec4 loads and 2 vec2 stores per 2 windows instead of 8 scalar
// loads and 4 stores (LeNet pool1 at batch 64, alone under timestamps: see benchmarks/RESULTS.md, training).

#include "pool/pool_common.wgsl"
#include "common/nan.wgsl"

@group(0) @binding(1) var<storage, read> x_in: array<vec4<{{T}}>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec2<{{T}}>>;
@group(0) @binding(3) var<storage, read_write> idx: array<vec2<i32>>;

struct Best { v: {{T}}, i: i32 }

// the first maximum of a window (a = top-left, b = top-right, c = bottom-left, d = bottom-right) at flat index at
fn window_max(a: {{T}}, b: {{T}}, c: {{T}}, d: {{T}}, at: i32, w: i32) -> Best {
    var best = Best(a, at);
    if (b > best.v || is_nan(f32(b))) { best = Best(b, at + 1); }
    if (c > best.v || is_nan(f32(c))) { best = Best(c, at + w); }
    if (d > best.v || is_nan(f32(d))) { best = Best(d, at + w + 1); }
    return best;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = invocation(wid, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let w4 = p.W / 4u;                       // vec4s per input row = window pairs per output row
    let q = i % w4;
    let r = i / w4;                          // nc * OH + oh
    let oh = r % p.OH;
    let top = x_in[(2u * r) * w4 + q];       // input row 2 * oh of plane nc: rows 2r, 2r + 1 overall
    let bottom = x_in[(2u * r + 1u) * w4 + q];
    let w = i32(p.W);
    let at = i32(2u * oh * p.W + 4u * q);
    let left = window_max(top.x, top.y, bottom.x, bottom.y, at, w);
    let right = window_max(top.z, top.w, bottom.z, bottom.w, at + 2, w);
    out[i] = vec2<{{T}}>(left.v, right.v);
    idx[i] = vec2<i32>(left.i, right.i);
}
