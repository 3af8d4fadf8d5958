// matmul_subgroup.wgsl — batched f32 GEMM C = A·B (row-major), CPU-adapter variant (lavapipe / SwiftShader).
// Needs device feature "subgroup". Tint (Chrome) requires the `enable subgroups;` directive below; naga rejects
// it, so the native backend comments it out.
// Bindings: 0 uniform Params; 1 a: M x K; 2 b: K x N; 3 c: M x N (all row-major, per batch element, as vec4 arrays).
//   stride_a/b/c = per-batch offsets in f32 ELEMENTS (multiples of 4); stride 0 broadcasts that operand.
// HOST_PAD4: params.K and params.N MUST be multiples of 4. Host zero-pads A to M x K4 and B to K4 x N4
//   (padded B rows must be zero or padded A columns zero; both zero is simplest) and C is M x N4 (drop the pad columns).
//   M is arbitrary. Reason: vec4 bindings are 3.9x faster than scalar array<f32> loads on lavapipe (38 vs 9.8 GFLOP/s).
// Workgroup = 8 invocations; each owns 4 adjacent columns (one vec4) and all TILE_M rows of the workgroup.
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M), batch) with TILE_N = 32 and TILE_M = 32 or 16 (template
//   ROWS; 16 for short A, e.g. a convolution's 16 output channels, where half of a 32-row tile would be padding).
// Sharing: A is loaded once per workgroup (lane q loads rows q, q+8, q+16, q+24 as vec4 along k) and handed to all
// lanes with subgroupBroadcast(·, const lane); B is loaded once per lane. Portable across subgroup sizes: the fast
// path runs when the 8 invocations form lanes 0..7 of one subgroup (size >= 8: lavapipe 8, NVIDIA 32, AMD 64);
// otherwise (size 4, e.g. SwiftShader) a path that broadcasts only from lanes 0..3 runs (2x the A loads).
// Measured on lavapipe (2 cores, AVX2): 1024^3 ≈ 32-36 GFLOP/s (size-4 path forced: 29; numpy ≈ 195).

enable subgroups;
// Tint does not treat subgroupAll(...) as subgroup-uniform; the broadcasts below are guarded by it.
diagnostic(off, subgroup_uniformity);

struct Params { M: u32, N: u32, K: u32, batch: u32, stride_a: u32, stride_b: u32, stride_c: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// Template: T, the storage scalar type of a, b and c (f32 by default; f16 for half inference: loads widen to f32,
//   products and sums stay f32, stores narrow).
@group(0) @binding(1) var<storage, read> a: array<vec4<{{T}}>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<{{T}}>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<{{T}}>>;

const TILE_M: u32 = {{ROWS}}u;   // rows per workgroup: 32 or 16 (the rows of acc beyond TILE_M fold away)
const TILE_N: u32 = 32u;   // columns per workgroup (8 invocations x vec4)

// 4 consecutive k-rows of B at vec4-column c4, as columns of a matrix: bm * (a_k..a_k+3) = sum_k a_k * B[k, c4..]
fn load_b(base: u32, k: u32, c4: u32, N4: u32) -> mat4x4<f32> {
  let i = base + k * N4 + c4;
  return mat4x4<f32>(vec4<f32>(b[i]), vec4<f32>(b[i + N4]), vec4<f32>(b[i + 2u * N4]), vec4<f32>(b[i + 3u * N4]));
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32) {
  let M = params.M;
  let N4 = params.N / 4u;
  let K4 = params.K / 4u;
  let ab = wg.z * params.stride_a / 4u;
  let bb = wg.z * params.stride_b / 4u;
  let cb = wg.z * params.stride_c / 4u;
  let row0 = wg.y * TILE_M;
  let c4 = min(wg.x * 8u + li, N4 - 1u);      // clamped: out-of-range lanes compute junk, never stored
  var acc: array<vec4<f32>, 32>;   // acc[r] = C[row0 + r, 4*c4 .. 4*c4+3]

  // Uniform across the workgroup (subgroupAll), so both paths keep the subgroup converged.
  let fast = subgroupAll(sg_size >= 8u && lane == li);
  if (fast) {
    let q = lane;                              // lane q loads rows q, q+8, q+16, q+24 of the tile (clamped to M-1)
    let r0 = ab + min(row0 + q, M - 1u) * K4;
    let r1 = ab + min(row0 + q + 8u, M - 1u) * K4;
    let r2 = ab + min(row0 + q + 16u, M - 1u) * K4;
    let r3 = ab + min(row0 + q + 24u, M - 1u) * K4;
    for (var k4 = 0u; k4 < K4; k4++) {
      let bm = load_b(bb, k4 * 4u, c4, N4);
      let a0 = vec4<f32>(a[r0 + k4]); let a1 = vec4<f32>(a[r1 + k4]);
      acc[0] += bm * subgroupBroadcast(a0, 0u);  acc[1] += bm * subgroupBroadcast(a0, 1u);
      acc[2] += bm * subgroupBroadcast(a0, 2u);  acc[3] += bm * subgroupBroadcast(a0, 3u);
      acc[4] += bm * subgroupBroadcast(a0, 4u);  acc[5] += bm * subgroupBroadcast(a0, 5u);
      acc[6] += bm * subgroupBroadcast(a0, 6u);  acc[7] += bm * subgroupBroadcast(a0, 7u);
      acc[8] += bm * subgroupBroadcast(a1, 0u);  acc[9] += bm * subgroupBroadcast(a1, 1u);
      acc[10] += bm * subgroupBroadcast(a1, 2u); acc[11] += bm * subgroupBroadcast(a1, 3u);
      acc[12] += bm * subgroupBroadcast(a1, 4u); acc[13] += bm * subgroupBroadcast(a1, 5u);
      acc[14] += bm * subgroupBroadcast(a1, 6u); acc[15] += bm * subgroupBroadcast(a1, 7u);
      if (TILE_M == 32u) {
      let a2 = vec4<f32>(a[r2 + k4]); let a3 = vec4<f32>(a[r3 + k4]);
      acc[16] += bm * subgroupBroadcast(a2, 0u); acc[17] += bm * subgroupBroadcast(a2, 1u);
      acc[18] += bm * subgroupBroadcast(a2, 2u); acc[19] += bm * subgroupBroadcast(a2, 3u);
      acc[20] += bm * subgroupBroadcast(a2, 4u); acc[21] += bm * subgroupBroadcast(a2, 5u);
      acc[22] += bm * subgroupBroadcast(a2, 6u); acc[23] += bm * subgroupBroadcast(a2, 7u);
      acc[24] += bm * subgroupBroadcast(a3, 0u); acc[25] += bm * subgroupBroadcast(a3, 1u);
      acc[26] += bm * subgroupBroadcast(a3, 2u); acc[27] += bm * subgroupBroadcast(a3, 3u);
      acc[28] += bm * subgroupBroadcast(a3, 4u); acc[29] += bm * subgroupBroadcast(a3, 5u);
      acc[30] += bm * subgroupBroadcast(a3, 6u); acc[31] += bm * subgroupBroadcast(a3, 7u);
      }
    }
  } else {
    // Subgroups of 4 (or an unexpected lane layout): every subgroup's lanes 0..3 hold all 32 rows.
    let q = lane % 4u;                         // lane q loads rows q + 4j, j = 0..7
    let r0 = ab + min(row0 + q, M - 1u) * K4;
    let r1 = ab + min(row0 + q + 4u, M - 1u) * K4;
    let r2 = ab + min(row0 + q + 8u, M - 1u) * K4;
    let r3 = ab + min(row0 + q + 12u, M - 1u) * K4;
    let r4 = ab + min(row0 + q + 16u, M - 1u) * K4;
    let r5 = ab + min(row0 + q + 20u, M - 1u) * K4;
    let r6 = ab + min(row0 + q + 24u, M - 1u) * K4;
    let r7 = ab + min(row0 + q + 28u, M - 1u) * K4;
    for (var k4 = 0u; k4 < K4; k4++) {
      let bm = load_b(bb, k4 * 4u, c4, N4);
      let a0 = vec4<f32>(a[r0 + k4]); let a1 = vec4<f32>(a[r1 + k4]); let a2 = vec4<f32>(a[r2 + k4]); let a3 = vec4<f32>(a[r3 + k4]);
      acc[0] += bm * subgroupBroadcast(a0, 0u);  acc[1] += bm * subgroupBroadcast(a0, 1u);
      acc[2] += bm * subgroupBroadcast(a0, 2u);  acc[3] += bm * subgroupBroadcast(a0, 3u);
      acc[4] += bm * subgroupBroadcast(a1, 0u);  acc[5] += bm * subgroupBroadcast(a1, 1u);
      acc[6] += bm * subgroupBroadcast(a1, 2u);  acc[7] += bm * subgroupBroadcast(a1, 3u);
      acc[8] += bm * subgroupBroadcast(a2, 0u);  acc[9] += bm * subgroupBroadcast(a2, 1u);
      acc[10] += bm * subgroupBroadcast(a2, 2u); acc[11] += bm * subgroupBroadcast(a2, 3u);
      acc[12] += bm * subgroupBroadcast(a3, 0u); acc[13] += bm * subgroupBroadcast(a3, 1u);
      acc[14] += bm * subgroupBroadcast(a3, 2u); acc[15] += bm * subgroupBroadcast(a3, 3u);
      if (TILE_M == 32u) {
      let a4 = vec4<f32>(a[r4 + k4]); let a5 = vec4<f32>(a[r5 + k4]); let a6 = vec4<f32>(a[r6 + k4]); let a7 = vec4<f32>(a[r7 + k4]);
      acc[16] += bm * subgroupBroadcast(a4, 0u); acc[17] += bm * subgroupBroadcast(a4, 1u);
      acc[18] += bm * subgroupBroadcast(a4, 2u); acc[19] += bm * subgroupBroadcast(a4, 3u);
      acc[20] += bm * subgroupBroadcast(a5, 0u); acc[21] += bm * subgroupBroadcast(a5, 1u);
      acc[22] += bm * subgroupBroadcast(a5, 2u); acc[23] += bm * subgroupBroadcast(a5, 3u);
      acc[24] += bm * subgroupBroadcast(a6, 0u); acc[25] += bm * subgroupBroadcast(a6, 1u);
      acc[26] += bm * subgroupBroadcast(a6, 2u); acc[27] += bm * subgroupBroadcast(a6, 3u);
      acc[28] += bm * subgroupBroadcast(a7, 0u); acc[29] += bm * subgroupBroadcast(a7, 1u);
      acc[30] += bm * subgroupBroadcast(a7, 2u); acc[31] += bm * subgroupBroadcast(a7, 3u);
      }
    }
  }

  if (wg.x * 8u + li < N4) {
    let o = cb + row0 * N4 + c4;    // constant acc indices keep acc in registers
    if (row0 + 0u < M) { c[o + 0u * N4] = vec4<{{T}}>(acc[0]); } if (row0 + 1u < M) { c[o + 1u * N4] = vec4<{{T}}>(acc[1]); }
    if (row0 + 2u < M) { c[o + 2u * N4] = vec4<{{T}}>(acc[2]); } if (row0 + 3u < M) { c[o + 3u * N4] = vec4<{{T}}>(acc[3]); }
    if (row0 + 4u < M) { c[o + 4u * N4] = vec4<{{T}}>(acc[4]); } if (row0 + 5u < M) { c[o + 5u * N4] = vec4<{{T}}>(acc[5]); }
    if (row0 + 6u < M) { c[o + 6u * N4] = vec4<{{T}}>(acc[6]); } if (row0 + 7u < M) { c[o + 7u * N4] = vec4<{{T}}>(acc[7]); }
    if (row0 + 8u < M) { c[o + 8u * N4] = vec4<{{T}}>(acc[8]); } if (row0 + 9u < M) { c[o + 9u * N4] = vec4<{{T}}>(acc[9]); }
    if (row0 + 10u < M) { c[o + 10u * N4] = vec4<{{T}}>(acc[10]); } if (row0 + 11u < M) { c[o + 11u * N4] = vec4<{{T}}>(acc[11]); }
    if (row0 + 12u < M) { c[o + 12u * N4] = vec4<{{T}}>(acc[12]); } if (row0 + 13u < M) { c[o + 13u * N4] = vec4<{{T}}>(acc[13]); }
    if (row0 + 14u < M) { c[o + 14u * N4] = vec4<{{T}}>(acc[14]); } if (row0 + 15u < M) { c[o + 15u * N4] = vec4<{{T}}>(acc[15]); }
    if (TILE_M == 32u) {
    if (row0 + 16u < M) { c[o + 16u * N4] = vec4<{{T}}>(acc[16]); } if (row0 + 17u < M) { c[o + 17u * N4] = vec4<{{T}}>(acc[17]); }
    if (row0 + 18u < M) { c[o + 18u * N4] = vec4<{{T}}>(acc[18]); } if (row0 + 19u < M) { c[o + 19u * N4] = vec4<{{T}}>(acc[19]); }
    if (row0 + 20u < M) { c[o + 20u * N4] = vec4<{{T}}>(acc[20]); } if (row0 + 21u < M) { c[o + 21u * N4] = vec4<{{T}}>(acc[21]); }
    if (row0 + 22u < M) { c[o + 22u * N4] = vec4<{{T}}>(acc[22]); } if (row0 + 23u < M) { c[o + 23u * N4] = vec4<{{T}}>(acc[23]); }
    if (row0 + 24u < M) { c[o + 24u * N4] = vec4<{{T}}>(acc[24]); } if (row0 + 25u < M) { c[o + 25u * N4] = vec4<{{T}}>(acc[25]); }
    if (row0 + 26u < M) { c[o + 26u * N4] = vec4<{{T}}>(acc[26]); } if (row0 + 27u < M) { c[o + 27u * N4] = vec4<{{T}}>(acc[27]); }
    if (row0 + 28u < M) { c[o + 28u * N4] = vec4<{{T}}>(acc[28]); } if (row0 + 29u < M) { c[o + 29u * N4] = vec4<{{T}}>(acc[29]); }
    if (row0 + 30u < M) { c[o + 30u * N4] = vec4<{{T}}>(acc[30]); } if (row0 + 31u < M) { c[o + 31u * N4] = vec4<{{T}}>(acc[31]); }
    }
  }
}
