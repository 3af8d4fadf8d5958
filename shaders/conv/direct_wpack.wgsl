// Packs convolution weights for conv/direct.wgsl: wp[(blk * Cg + c) * KH*KW + t] = the 4 output channels
// o = ob*4 .. ob*4+3 of block blk = g * OCB + ob as one vec4 (0 for o >= OCg), read from
// w[g * w_g + o * w_o + c * w_c + w_t0 + w_ts * t] (forward layout, or flipped/transposed for grad_x).
//
// Bindings: 0 p (uniform Params), 1 w: array<f32> (read), 2 wp: array<vec4<f32>> (read_write)
//   G*OCB x Cg x KH*KW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = G * OCB * Cg * KH*KW.
// Template: WG.
// Why: one vec4 load per tap in the direct kernel's hot loop instead of 4 scalar loads (lavapipe: a scalar storage
// load ~1.1-1.7 ns, a vec4 load ~1.9-3.4 ns).

#include "common/index.wgsl"

struct Params { n: u32, KHW: u32, Cg: u32, OCB: u32, OCg: u32, w_g: u32, w_o: u32, w_c: u32, w_t0: u32, w_ts: i32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> wp: array<vec4<f32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let t = i % p.KHW;
    var r = i / p.KHW;
    let c = r % p.Cg;
    let blk = r / p.Cg;
    let g = blk / p.OCB;
    let o0 = (blk % p.OCB) * 4u;
    let base = i32(g * p.w_g + c * p.w_c + p.w_t0) + p.w_ts * i32(t);
    var v = vec4<f32>();
    for (var e = 0u; e < 4u; e++) {
        if (o0 + e < p.OCg) {
            v[e] = w[u32(base + i32((o0 + e) * p.w_o))];
        }
    }
    wp[i] = v;
}
