// matmul_register.wgsl — batched f32 GEMM C = A·B (row-major); portable fallback: no subgroups, no workgroup memory.
// Bindings: 0 uniform Params; 1 a: M x K; 2 b: K x N; 3 c: M x N (row-major per batch element, vec4 arrays).
//   stride_a/b/c = per-batch offsets in f32 ELEMENTS (multiples of 4); stride 0 broadcasts that operand.
// HOST_PAD4: params.K and params.N MUST be multiples of 4 (host zero-pads A to M x K4, B to K4 x N4; C is M x N4,
//   drop the pad columns). M is arbitrary. vec4 bindings: scalar array<f32> loads are ~4x slower on lavapipe.
// Each invocation: 16 rows x 8 columns (2 vec4) in 32 vec4 registers; per 4 k: 8 vec4 B loads + 16 vec4 A loads for
// 512 FMAs. The 8 invocations of a workgroup share rows (A addresses uniform across the subgroup) and take adjacent
// column pairs, so B loads are contiguous across lanes (measured: this layout 2.5x faster than lanes along M).
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M), batch) with TILE_M = 16, TILE_N = 64, workgroup_size 8.
// Measured on lavapipe: 1024^3 ≈ 23 GFLOP/s (4x4 per invocation: 9.6, 8x8: 19.4).

struct Params { M: u32, N: u32, K: u32, batch: u32, stride_a: u32, stride_b: u32, stride_c: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// Template: T, the storage scalar type of a, b and c (f32 by default; f16 for half inference: loads widen to f32,
//   products and sums stay f32, stores narrow).
@group(0) @binding(1) var<storage, read> a: array<vec4<{{T}}>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<{{T}}>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<{{T}}>>;

const TILE_M: u32 = 16u;   // rows per workgroup (= rows per invocation)
const TILE_N: u32 = 64u;   // columns per workgroup (8 invocations x 2 vec4)

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = params.M;
  let N4 = params.N / 4u;
  let K4 = params.K / 4u;
  let ab = wg.z * params.stride_a / 4u;
  let bb = wg.z * params.stride_b / 4u;
  let cb = wg.z * params.stride_c / 4u;
  let row0 = wg.y * TILE_M;
  let c40 = (wg.x * 8u + li) * 2u;             // first vec4 column of this invocation
  let v0 = c40 < N4;
  let v1 = c40 + 1u < N4;
  let cc0 = min(c40, N4 - 1u);                 // clamped: junk columns are computed but never stored
  let cc1 = min(c40 + 1u, N4 - 1u);
  let ra0 = ab + min(row0 + 0u, M - 1u) * K4;
  let ra1 = ab + min(row0 + 1u, M - 1u) * K4;
  let ra2 = ab + min(row0 + 2u, M - 1u) * K4;
  let ra3 = ab + min(row0 + 3u, M - 1u) * K4;
  let ra4 = ab + min(row0 + 4u, M - 1u) * K4;
  let ra5 = ab + min(row0 + 5u, M - 1u) * K4;
  let ra6 = ab + min(row0 + 6u, M - 1u) * K4;
  let ra7 = ab + min(row0 + 7u, M - 1u) * K4;
  let ra8 = ab + min(row0 + 8u, M - 1u) * K4;
  let ra9 = ab + min(row0 + 9u, M - 1u) * K4;
  let ra10 = ab + min(row0 + 10u, M - 1u) * K4;
  let ra11 = ab + min(row0 + 11u, M - 1u) * K4;
  let ra12 = ab + min(row0 + 12u, M - 1u) * K4;
  let ra13 = ab + min(row0 + 13u, M - 1u) * K4;
  let ra14 = ab + min(row0 + 14u, M - 1u) * K4;
  let ra15 = ab + min(row0 + 15u, M - 1u) * K4;
  var acc: array<vec4<f32>, 32>;               // acc[2r + j] = C[row0 + r, 4*(c40 + j) .. +3]
  for (var k4 = 0u; k4 < K4; k4++) {
    let kb = bb + k4 * 4u * N4;
    // columns of b0 are B rows k..k+3 at vec4 column cc0, so b0 * a_r = sum_k A[r,k] * B[k, cols]
    let b0 = mat4x4<f32>(vec4<f32>(b[kb + cc0]), vec4<f32>(b[kb + N4 + cc0]), vec4<f32>(b[kb + 2u * N4 + cc0]), vec4<f32>(b[kb + 3u * N4 + cc0]));
    let b1 = mat4x4<f32>(vec4<f32>(b[kb + cc1]), vec4<f32>(b[kb + N4 + cc1]), vec4<f32>(b[kb + 2u * N4 + cc1]), vec4<f32>(b[kb + 3u * N4 + cc1]));
    let a0 = vec4<f32>(a[ra0 + k4]); acc[0] += b0 * a0; acc[1] += b1 * a0;
    let a1 = vec4<f32>(a[ra1 + k4]); acc[2] += b0 * a1; acc[3] += b1 * a1;
    let a2 = vec4<f32>(a[ra2 + k4]); acc[4] += b0 * a2; acc[5] += b1 * a2;
    let a3 = vec4<f32>(a[ra3 + k4]); acc[6] += b0 * a3; acc[7] += b1 * a3;
    let a4 = vec4<f32>(a[ra4 + k4]); acc[8] += b0 * a4; acc[9] += b1 * a4;
    let a5 = vec4<f32>(a[ra5 + k4]); acc[10] += b0 * a5; acc[11] += b1 * a5;
    let a6 = vec4<f32>(a[ra6 + k4]); acc[12] += b0 * a6; acc[13] += b1 * a6;
    let a7 = vec4<f32>(a[ra7 + k4]); acc[14] += b0 * a7; acc[15] += b1 * a7;
    let a8 = vec4<f32>(a[ra8 + k4]); acc[16] += b0 * a8; acc[17] += b1 * a8;
    let a9 = vec4<f32>(a[ra9 + k4]); acc[18] += b0 * a9; acc[19] += b1 * a9;
    let a10 = vec4<f32>(a[ra10 + k4]); acc[20] += b0 * a10; acc[21] += b1 * a10;
    let a11 = vec4<f32>(a[ra11 + k4]); acc[22] += b0 * a11; acc[23] += b1 * a11;
    let a12 = vec4<f32>(a[ra12 + k4]); acc[24] += b0 * a12; acc[25] += b1 * a12;
    let a13 = vec4<f32>(a[ra13 + k4]); acc[26] += b0 * a13; acc[27] += b1 * a13;
    let a14 = vec4<f32>(a[ra14 + k4]); acc[28] += b0 * a14; acc[29] += b1 * a14;
    let a15 = vec4<f32>(a[ra15 + k4]); acc[30] += b0 * a15; acc[31] += b1 * a15;
  }
  // constant acc indices keep acc in registers (a dynamic index spills it: 2.7x slower)
  if (row0 + 0u < M) { let o = cb + (row0 + 0u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[0]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[1]); } }
  if (row0 + 1u < M) { let o = cb + (row0 + 1u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[2]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[3]); } }
  if (row0 + 2u < M) { let o = cb + (row0 + 2u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[4]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[5]); } }
  if (row0 + 3u < M) { let o = cb + (row0 + 3u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[6]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[7]); } }
  if (row0 + 4u < M) { let o = cb + (row0 + 4u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[8]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[9]); } }
  if (row0 + 5u < M) { let o = cb + (row0 + 5u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[10]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[11]); } }
  if (row0 + 6u < M) { let o = cb + (row0 + 6u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[12]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[13]); } }
  if (row0 + 7u < M) { let o = cb + (row0 + 7u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[14]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[15]); } }
  if (row0 + 8u < M) { let o = cb + (row0 + 8u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[16]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[17]); } }
  if (row0 + 9u < M) { let o = cb + (row0 + 9u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[18]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[19]); } }
  if (row0 + 10u < M) { let o = cb + (row0 + 10u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[20]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[21]); } }
  if (row0 + 11u < M) { let o = cb + (row0 + 11u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[22]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[23]); } }
  if (row0 + 12u < M) { let o = cb + (row0 + 12u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[24]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[25]); } }
  if (row0 + 13u < M) { let o = cb + (row0 + 13u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[26]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[27]); } }
  if (row0 + 14u < M) { let o = cb + (row0 + 14u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[28]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[29]); } }
  if (row0 + 15u < M) { let o = cb + (row0 + 15u) * N4 + c40; if (v0) { c[o] = vec4<{{T}}>(acc[30]); } if (v1) { c[o + 1u] = vec4<{{T}}>(acc[31]); } }
}
