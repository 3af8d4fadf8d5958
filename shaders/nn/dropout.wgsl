// Inverted dropout: out[i] = x[i] * keep(i) / (1 - rate), keep(i) = hash(seed, i) >= rate.
// The mask is a pure function of (seed, i) (a PCG hash), so the backward pass reuses this kernel with the same
// seed on the incoming gradient instead of storing a mask; native, browser and numpy give the same mask.
//
// Bindings: 0 p (uniform Params), 1 x: array<f32> (read), 2 out: array<f32> (read_write).
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d.

#include "common/index.wgsl"
#include "common/hash.wgsl"

struct Params {
    n: u32,
    seed: u32,
    rate: f32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let keep = uniform01(pcg_hash(i ^ pcg_hash(p.seed))) >= p.rate;
    out[i] = select(0.0, x_in[i] * p.scale, keep);
}
