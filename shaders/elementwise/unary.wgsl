// out = OP(x), elementwise: each invocation maps 16 values, one mat4x4 read as four vec4s.
//
// Bindings: 0 params (uniform Params: n16, alpha, beta), 1 x_in: array<mat4x4<T>> (read),
//   2 out: array<mat4x4<T>> (read_write). x_in and out hold n values; bindings cover whole 64-byte blocks
//   (GPUDevice.record_dispatch rounds them up; pooled buffers are 256-byte multiples), so the padded lanes of
//   the last mat4x4 are computed and ignored.
// Dispatch: ceil(n16 / WG) workgroups, split over (x, y) by Device.grid_1d; n16 = ceil(n / 16)
//   (gpuml/impl/webgpu/elementwise.py, unary()).
// Template: T, the scalar type (f32 by default, f16 for half-precision inference); OP is a WGSL expression in
//   `x: V` (V = vec4<T>), `p: Params` (alpha, beta) and nan_of(x), from the UNARY table in gpuml/impl/webgpu/elementwise.py;
//   WG is the workgroup size.
// Why 16 per invocation: lavapipe pays per access (bounds check, address), so one 64-byte access beats four vec4
// ones: axpy on 16M floats measured 0.89 G elem/s this way vs 0.79 with vec4 accesses (numpy 1.10).

#include "common/index.wgsl"
#include "common/nan.wgsl"

alias V = vec4<{{T}}>;

// the NaN lanes of x (numpy semantics: relu, clip and maximum keep NaN; see common/nan.wgsl)
fn nan_of(x: V) -> vec4<bool> {
    return is_nan4(vec4<f32>(x));
}

// log with numpy's domain: NaN below 0 and for NaN, -Inf at +-0, Inf at Inf. SwiftShader's log returns finite
// values there (log(0) = -88, log(-x) = log(x)). NaN and -Inf are built from the bits at run time: a WGSL constant
// expression may not evaluate to them.
fn log_np(x: V) -> V {
    let bits = bitcast<vec4<u32>>(vec4<f32>(x));
    let zero = (bits & vec4<u32>(0x7fffffffu)) == vec4<u32>(0u);
    let undefined = (bits > vec4<u32>(0x80000000u)) | nan_of(x);  // below -0, or NaN
    let neg_inf = V(bitcast<vec4<f32>>(bits | vec4<u32>(0xff800000u)));
    let nan = V(bitcast<vec4<f32>>(bits | vec4<u32>(0x7fc00000u)));
    let inf = bits == vec4<u32>(0x7f800000u);
    return select(select(select(log(x), x, inf), neg_inf, zero), nan, undefined);
}

struct Params {
    n16: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<mat4x4<{{T}}>>;
@group(0) @binding(2) var<storage, read_write> out: array<mat4x4<{{T}}>>;

fn apply(x: V) -> V {
    return {{OP}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i < p.n16) {
        let x = x_in[i];
        out[i] = mat4x4<{{T}}>(apply(x[0]), apply(x[1]), apply(x[2]), apply(x[3]));
    }
}
