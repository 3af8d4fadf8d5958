// out = OP(a, b) for two tensors of the same shape: each invocation maps 16 values, one mat4x4 of each operand
// read as four vec4s.
//
// Bindings: 0 params (uniform Params: n16, alpha), 1 a_in, 2 b_in: array<mat4x4<f32>> (read),
//   3 out: array<mat4x4<f32>> (read_write); bindings cover whole 64-byte blocks (GPUDevice.record_dispatch), so the
//   padded lanes of the last mat4x4 are computed and ignored.
// Dispatch: ceil(n16 / WG) workgroups, split over (x, y) by Device.grid_1d; n16 = ceil(n / 16)
//   (gpuml/impl/webgpu/elementwise.py, binary()).
// Template: OP is a WGSL expression in `a: V`, `b: V` (V = vec4<f32>), `p: Params` (alpha) and
//   nan_of(x) (its NaN lanes, common/nan.wgsl), from the BINARY
//   table in gpuml/impl/webgpu/elementwise.py; WG is the workgroup size.
// Broadcasting shapes go to binary_broadcast.wgsl, which shares the OP table with V = f32.

#include "common/index.wgsl"
#include "common/nan.wgsl"

alias V = vec4<f32>;

fn nan_of(x: V) -> vec4<bool> {
    return is_nan4(x);
}

struct Params {
    n16: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a_in: array<mat4x4<f32>>;
@group(0) @binding(2) var<storage, read> b_in: array<mat4x4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<mat4x4<f32>>;

fn apply(a: V, b: V) -> V {
    return {{OP}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i < p.n16) {
        let a = a_in[i];
        let b = b_in[i];
        out[i] = mat4x4<f32>(apply(a[0], b[0]), apply(a[1], b[1]), apply(a[2], b[2]), apply(a[3], b[3]));
    }
}
