// Peak arithmetic microbenchmark: each invocation runs ITERS rounds of 8 independent vec4 FMA chains
// (64 FLOP per round) on registers and stores one value, so memory traffic is negligible.
// Used by gpuml.bench.bench_roofline to state other kernels as a fraction of the adapter's measured peak.
//
// Bindings: 0 p (uniform Params), 1 out: array<vec4<f32>> (read_write), one vec4 per invocation.
// Dispatch: ceil(n / WG) workgroups, split over (x, y) by Device.grid_1d. FLOP = n * ITERS * 64.

#include "common/index.wgsl"

struct Params {
    n: u32,
    iters: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let seed = f32(i) * 1e-7;
    let a = vec4<f32>(p.a);
    let b = vec4<f32>(p.b);
    var x0 = vec4<f32>(seed, seed + 1.0, seed + 2.0, seed + 3.0);
    var x1 = x0 + 0.1;
    var x2 = x0 + 0.2;
    var x3 = x0 + 0.3;
    var x4 = x0 + 0.4;
    var x5 = x0 + 0.5;
    var x6 = x0 + 0.6;
    var x7 = x0 + 0.7;
    for (var k = 0u; k < p.iters; k++) {
        x0 = fma(x0, a, b);
        x1 = fma(x1, a, b);
        x2 = fma(x2, a, b);
        x3 = fma(x3, a, b);
        x4 = fma(x4, a, b);
        x5 = fma(x5, a, b);
        x6 = fma(x6, a, b);
        x7 = fma(x7, a, b);
    }
    out[i] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}
