// A fully connected layer at small batch: out[m, o] = act(bias[o] + sum_k x[m, k] * w[o, k]) with w stored as
// (N, K) row-major (torch.nn.Linear's layout), so no transposed copy of w and no padded GEMM operands are made.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<vec4<f32>> (read) M x K (K4 = K / 4 vec4s per row),
//   2 w: array<vec4<f32>> (read) N x K, 3 bias: array<f32> (read) N (ignored unless has_bias = 1),
//   4 out: array<f32> (read_write) M x N.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = N * ceil(M / RB): one invocation per output feature o
//   and block of RB rows (o fastest, so neighbouring lanes read neighbouring weight rows). Needs K % 4 == 0.
// Template: WG; RB (1 or 4): rows of x per invocation (each weight vec4 loaded once feeds RB rows).
// Why: a batch-1 forward through matmul(x, transpose(w)) cost a transpose of w (layout/permute.wgsl: 9.5 ms for
// LeNet's 120 x 400 fc1 on SwiftShader), pad/crop copies for N % 4 != 0, a GEMM tile that is 1/32 used and a
// separate bias + ReLU pass: 13 dispatches for LeNet's three fc layers. This is 3 (see gpuml.ops.linalg.linear).

#include "common/index.wgsl"

struct Params {
    n: u32, M: u32, N: u32, K4: u32, has_bias: u32, relu: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn finish(acc: vec4<f32>, o: u32) -> f32 {
    var r = acc.x + acc.y + acc.z + acc.w;
    if (p.has_bias == 1u) { r += bias[o]; }
    if (p.relu == 1u) { r = max(r, 0.0); }
    return r;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let o = i % p.N;
    let m0 = (i / p.N) * {{RB}}u;
    let wb = o * p.K4;
    // rows past M re-read the last row (a valid address) and are not stored
    let x0 = min(m0, p.M - 1u) * p.K4;
    let x1 = min(m0 + 1u, p.M - 1u) * p.K4;
    let x2 = min(m0 + 2u, p.M - 1u) * p.K4;
    let x3 = min(m0 + 3u, p.M - 1u) * p.K4;
    var a0 = vec4<f32>();
    var a1 = vec4<f32>();
    var a2 = vec4<f32>();
    var a3 = vec4<f32>();
    for (var k = 0u; k < p.K4; k++) {
        let wv = w[wb + k];
        a0 += x_in[x0 + k] * wv;
        if ({{RB}}u == 4u) {
            a1 += x_in[x1 + k] * wv;
            a2 += x_in[x2 + k] * wv;
            a3 += x_in[x3 + k] * wv;
        }
    }
    out[m0 * p.N + o] = finish(a0, o);
    if ({{RB}}u == 4u) {
        if (m0 + 1u < p.M) { out[(m0 + 1u) * p.N + o] = finish(a1, o); }
        if (m0 + 2u < p.M) { out[(m0 + 2u) * p.N + o] = finish(a2, o); }
        if (m0 + 3u < p.M) { out[(m0 + 3u) * p.N + o] = finish(a3, o); }
    }
}
