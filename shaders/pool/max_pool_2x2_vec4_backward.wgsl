// Backward of pool/max_pool_2x2_vec4.wgsl (2x2 / stride 2 windows, W % 4 == 0): each invocation takes two
// adjacent windows and writes their 2 x 4 input pixels as two vec4s: grad_out at each window's winner (idx),
// 0 elsewhere. Same results as pool/max_pool_backward_tiled.wgsl.
//
// Bindings: 0 p (uniform Params, pool/pool_common.wgsl; n = NC * OH * OW / 2 window pairs),
//   1 gy: array<vec2<f32>> (read) NC x OH x OW, 2 idx: array<vec2<i32>> (read) NC x OH x OW,
//   3 gx: array<vec4<f32>> (read_write) NC x H x W, 4 y: array<vec2<f32>> (read) NC x OH x OW, the pooled output
//   (read only when GATE).
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d. Needs W % 4 == 0, H = 2 * OH.
// Template: WG; GATE (true/false): pass grad_out only where y > 0 - the backward of a ReLU before the pool, fused.
// Why: 3 vec2 loads and 2 vec4 stores per 2 windows instead of 6 scalar loads and 8 scalar stores on lavapipe.

#include "pool/pool_common.wgsl"

@group(0) @binding(1) var<storage, read> gy: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> idx: array<vec2<i32>>;
@group(0) @binding(3) var<storage, read_write> gx: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> y: array<vec2<f32>>;

const GATE: bool = {{GATE}};

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = invocation(wid, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let w4 = p.W / 4u;
    let q = i % w4;
    let r = i / w4;                          // nc * OH + oh
    let oh = r % p.OH;
    var v = gy[i];
    if (GATE) {
        v = select(vec2<f32>(0.0), v, y[i] > vec2<f32>(0.0));
    }
    // the winner's position in the 2 x 4 block: winner index - the block's top-left index
    let k = idx[i] - vec2<i32>(i32(2u * oh * p.W + 4u * q));
    let w = i32(p.W);
    let z = 0.0;
    gx[(2u * r) * w4 + q] = vec4<f32>(select(z, v.x, k.x == 0), select(z, v.x, k.x == 1),
                                      select(z, v.y, k.y == 2), select(z, v.y, k.y == 3));
    gx[(2u * r + 1u) * w4 + q] = vec4<f32>(select(z, v.x, k.x == w), select(z, v.x, k.x == w + 1),
                                           select(z, v.y, k.y == w + 2), select(z, v.y, k.y == w + 3));
}
