// out[i] = value for every 32-bit word (the value's bits are given, so it fills any 32-bit dtype).
//
// Bindings: 0 params (uniform Params), 1 out: array<vec4<u32>> (read_write), padded to whole vec4s.
// Dispatch: ceil(n4 / WG) workgroups, split over (x, y) by Device.grid_1d; n4 = ceil(n / 4).

#include "common/index.wgsl"

struct Params {
    n4: u32,
    bits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<u32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i < p.n4) {
        out[i] = vec4<u32>(p.bits);
    }
}
