// out[b, c, r] = x[b, r, c]: a batch of 2-D transposes (what gpuml.ops.transpose reduces to for weight matrices and
// (G, K, OCg) -> (G, OCg, K) permutes), one 32-bit word per invocation, no integer division.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<u32> (read) B x R x C, 2 out: array<u32> (read_write) B x C x R.
//   Words are copied as bits, so this serves every 32-bit dtype.
// Dispatch: (ceil(R / 8), ceil(C / 8), B) workgroups of 8 x 8 (B <= the per-dimension limit).
// Why: layout/permute.wgsl's general index arithmetic (a division and a dynamically indexed uniform per axis) ran
// 40 ns per element on SwiftShader even with the axes merged (LeNet fc1's 120 x 400 weights: 2 ms).

struct Params {
    R: u32,
    C: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = wid.x * 8u + lid.x;
    let c = wid.y * 8u + lid.y;
    if (r >= p.R || c >= p.C) {
        return;
    }
    let base = wid.z * p.R * p.C;
    out[base + c * p.R + r] = x_in[base + r * p.C + c];
}
