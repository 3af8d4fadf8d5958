// Max-pooling backward when the windows tile the input exactly (stride = kernel, no padding, H = OH*KH,
// W = OW*KW): every input pixel lies in exactly one window, so each invocation takes one window and writes its
// KH x KW pixels: grad_out at the winner (idx), 0 elsewhere. No gather, no integer division in the loop.
//
// Bindings: 0 p (uniform Params, pool/pool_common.wgsl), 1 gy: array<f32> (read) NC x OH x OW,
//   2 idx: array<i32> (read) NC x OH x OW (from max_pool.wgsl), 3 gx: array<f32> (read_write) NC x H x W,
//   4 y: array<f32> (read) NC x OH x OW, the pooled output (read only when GATE).
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * OH * OW (one invocation per window).
// Template: WG; GATE (true/false): pass grad_out only where y > 0 - the backward of a ReLU before the pool, fused
//   (a window's winner is positive iff its max is); saves a full-size elementwise pass. KH, KW (= p.KH, p.KW).
// Why: the gather kernel (one invocation per input pixel, window range by division, 2 loads per candidate window)
// measured ~10x slower on lavapipe for LeNet's 2x2 pools; here 2 loads per window and KH*KW stores.

#include "pool/pool_common.wgsl"

// the window size as constants: NIR unrolls the loops once at compile time (with uniform bounds lavapipe
// re-specialised the shader at every dispatch: 0.8 ms per LeNet pool at batch 64)
const WIN_H: u32 = {{KH}}u;
const WIN_W: u32 = {{KW}}u;

@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;
@group(0) @binding(4) var<storage, read> y: array<f32>;

const GATE: bool = {{GATE}};

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = invocation(wid, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let win = idx[i];
    var v = gy[i];
    if (GATE) {
        v = select(0.0, v, y[i] > 0.0);
    }
    let tl = tile(i);
    for (var kh = 0u; kh < WIN_H; kh++) {
        let y = tl.y0 + kh;
        for (var kw = 0u; kw < WIN_W; kw++) {
            let me = i32(y * p.W + tl.x0 + kw);
            gx[tl.plane + u32(me)] = select(0.0, v, me == win);
        }
    }
}
