// out = x transposed by an axis permutation (numpy.transpose), up to 8 dimensions, one element per invocation.
//
// Bindings: 0 params (uniform Params), 1 x: array<u32> (read), 2 out: array<u32> (read_write).
//   Words are copied as bits, so this serves every 32-bit dtype.
//   shape: output shape right-aligned in 8 slots (leading 1s); stride: for each output axis, the element
//   stride of the corresponding input axis.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d.
// Template: WG; ND (1..8), the number of axes left after gpuml.ops.layout merges the ones that stay adjacent (a
//   weight transpose is ND = 2): the loop runs ND - 1 times, with one division each.
// Each invocation writes one contiguous output element and gathers its input (writes coalesce; reads stride).
// Why ND: the loop over all 8 slots (16 integer divisions per element) ran 200 ns per element on SwiftShader
// (LeNet fc1's 120 x 400 weight transpose: 9.5 ms).

#include "common/index.wgsl"

struct Params {
    n: u32,
    shape: array<vec4<u32>, 2>,
    stride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    var rest = i;
    var src = 0u;
    for (var d = 7i; d > 8i - {{ND}}i; d--) {
        let extent = p.shape[d / 4][d % 4];
        let q = rest / extent;
        src += (rest - q * extent) * p.stride[d / 4][d % 4];
        rest = q;
    }
    src += rest * p.stride[(8 - {{ND}}) / 4][(8 - {{ND}}) % 4];
    out[i] = x_in[src];
}
