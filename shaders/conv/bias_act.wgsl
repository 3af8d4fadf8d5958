// GEMM-convolution epilogue: out[n, oc, q] = act(y[oc, n * Pc + oh * OWc + ow] + bias[oc]) for q = oh * OW + ow,
// i.e. the GEMM result (G x OCg x NPc = OC x NPc, columns = all images side by side, OWc >= OW columns per output
// row, see conv/im2col.wgsl) back to NCHW, with the bias and ReLU fused.
//
// Bindings: 0 p (uniform Params), 1 y: array<f32> (read) OC x NPc, 2 bias: array<f32> (read) OC (ignored unless
//   has_bias = 1; bind any buffer), 3 out: array<f32> (read_write) N x OC x P.
// Dispatch: (ceil(P / WG), OC, N) workgroups (one chunk of N images, written from element out_offset on).
//   relu = 1 applies max(., 0).
// Template: WG; BLK (0: y is OC x NPc; else y is blocked, NPc / BLK x OC x BLK).
// Why: the layout change has to happen once anyway (images are GEMM columns); bias and ReLU ride along free.
// Coordinates come from the 3-D grid: integer division is scalarised on lavapipe and a 1-D version that decoded
// (n, oc, q) per element ran ~4x slower than this.

#include "common/nan.wgsl"

struct Params { OC: u32, P: u32, OW: u32, OWc: u32, Pc: u32, NPc: u32, has_bias: u32, relu: u32, out_offset: u32 }

@group(0) @binding(0) var<uniform> p: Params;

const BLK: u32 = {{BLK}}u;  // columns per block of a blocked GEMM result (conv/im2col.wgsl), 0 = plain
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let q = wid.x * {{WG}}u + lid;
    if (q >= p.P) {
        return;
    }
    let oc = wid.y;
    let n = wid.z;
    let i = (n * p.OC + oc) * p.P + q;
    var src = q;
    if (p.OWc != p.OW) {
        src = (q / p.OW) * p.OWc + q % p.OW;
    }
    let j = n * p.Pc + src;                // GEMM column
    var v: f32;
    if (BLK == 0u) {
        v = y[oc * p.NPc + j];
    } else {                               // blocked: (NPc / BLK, OC, BLK)
        let b = max(BLK, 1u);              // Tint rejects a constant division by zero in the branch BLK == 0 skips
        v = y[((j / b) * p.OC + oc) * b + j % b];
    }
    if (p.has_bias == 1u) {
        v += bias[oc];
    }
    if (p.relu == 1u) {
        v = max_nan(v, 0.0);               // NaN stays NaN (numpy's maximum)
    }
    out[p.out_offset + i] = v;
}
