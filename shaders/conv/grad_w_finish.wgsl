// Sums the chunk partials of conv/grad_w.wgsl: grad_w[g*OCg + o, k] = sum_s part[g*S + s, o, k] for the K taps,
// and grad_b[g*OCg + o] = sum_s part[g*S + s, o, K] (the constant-1 tap).
//
// Bindings: 0 p (uniform Params), 1 part: array<f32> (read) G*S x OCg16 x KB, 2 gw: array<f32> (read_write)
//   OC x K, 3 gb: array<f32> (read_write) OC.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = OC * (K + 1) (one invocation per output).
// Template: WG.

#include "common/index.wgsl"

struct Params { n: u32, K: u32, KB: u32, OCg: u32, OCg16: u32, S: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> gw: array<f32>;
@group(0) @binding(3) var<storage, read_write> gb: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let k = i % (p.K + 1u);
    let oc = i / (p.K + 1u);
    let g = oc / p.OCg;
    let o = oc % p.OCg;
    var a = (g * p.S * p.OCg16 + o) * p.KB + k;
    let step = p.OCg16 * p.KB;
    var acc = 0.0;
    for (var s = 0u; s < p.S; s++) {
        acc += part[a];
        a += step;
    }
    if (k < p.K) {
        gw[oc * p.K + k] = acc;
    } else {
        gb[oc] = acc;
    }
}
