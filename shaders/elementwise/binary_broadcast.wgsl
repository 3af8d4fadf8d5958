// out = OP(a, b) with numpy broadcasting over up to 8 dimensions, one output element per invocation.
//
// Bindings: 0 params (uniform Params), 1 a, 2 b: array<f32> (read), 3 out: array<f32> (read_write).
//   shape: output shape, right-aligned in 8 slots (leading slots 1); stride_a/stride_b: element strides
//   of a and b in the same slots, 0 where that operand is broadcast.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d.
// Template: OP and WG as in binary.wgsl, with V = T (the scalar type: f32 by default, f16 for half inference).

#include "common/index.wgsl"
#include "common/nan.wgsl"

alias V = {{T}};

fn nan_of(x: V) -> bool {
    return is_nan(f32(x));
}

struct Params {
    n: u32,
    alpha: f32,
    shape: array<vec4<u32>, 2>,
    stride_a: array<vec4<u32>, 2>,
    stride_b: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_in: array<{{T}}>;
@group(0) @binding(2) var<storage, read> b_in: array<{{T}}>;
@group(0) @binding(3) var<storage, read_write> out: array<{{T}}>;

fn apply(a: V, b: V) -> V {
    return {{OP}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    var rest = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = 7i; d >= 0; d--) {
        let extent = p.shape[d / 4][d % 4];
        let coord = rest % extent;
        rest = rest / extent;
        ia += coord * p.stride_a[d / 4][d % 4];
        ib += coord * p.stride_b[d / 4][d % 4];
    }
    out[i] = apply(a_in[ia], b_in[ib]);
}
