// matmul_subgroup.wgsl — batched f32 GEMM C = A·B (row-major), CPU-adapter variant (lavapipe / SwiftShader).
// Needs device feature "subgroup". Tint (Chrome) requires the `enable subgroups;` directive below; naga rejects
// it, so the native backend comments it out.
// Bindings: 0 uniform Params; 1 a: M x K; 2 b: K x N (N_b x K with TRANS_B); 3 c: M x N (all row-major, per batch
//   element, as vec4 arrays); 4 bias: N floats as vec4s (read only when EPI > 0; bind any other buffer otherwise).
//   stride_a/b/c = per-batch offsets in f32 ELEMENTS (multiples of 4); stride 0 broadcasts that operand.
// HOST_PAD4: params.K and params.N MUST be multiples of 4. Host zero-pads A to M x K4 and B to K4 x N4
//   (padded B rows must be zero or padded A columns zero; both zero is simplest) and C is M x N4 (drop the pad columns).
//   M is arbitrary. Reason: vec4 bindings are 3.9x faster than scalar array<f32> loads on lavapipe (38 vs 9.8 GFLOP/s).
// Workgroup = 8 invocations; each owns COLS vec4s of adjacent columns (lane li: column vec4s li and li + 8) and all
// TILE_M rows of the workgroup: 32 accumulator vec4s per lane in every variant.
// Template: ROWS = TILE_M, COLS: (32, 1) the square 32 x 32 tile; (16, 2) a 16 x 64 tile for short A (e.g. a
//   convolution's 16 output channels), where half of a 32-row tile would be padding.
//   TRANS_B (true/false): b holds B transposed, N_b x K row-major (a fully connected layer's weights as
//   torch.nn.Linear stores them): the same 4 vec4 loads per 4 x 4 block, read along k; params.nb = N_b (rows past
//   it are clamped; their C columns are padding). EPI: 0 plain C; 1 C + bias[col]; 2 max(C + bias[col], 0) (a
//   layer's bias and ReLU on the accumulators before the one store).
// Dispatch: (ceil(N / (32 * COLS)), ceil(M / TILE_M), batch).
// Sharing: A is loaded once per workgroup (lane q loads rows q, q+8, ... as vec4 along k) and handed to all
// lanes with subgroupBroadcast(·, const lane); B is loaded once per lane. Portable across subgroup sizes: the fast
// path runs when the 8 invocations form lanes 0..7 of one subgroup (size >= 8: lavapipe 8, NVIDIA 32, AMD 64);
// otherwise (size 4, e.g. SwiftShader) a path that broadcasts only from lanes 0..3 runs (2x the A loads).
// The rank-8/rank-4/store helpers take constant row offsets and there are no loops over acc: after inlining every
// acc index is constant, so acc stays in registers. One dynamic index anywhere (e.g. a 32-trip loop NIR does not
// unroll) puts all of acc in per-lane scratch memory on lavapipe: 5x slower.
// Measured on lavapipe (2 cores, AVX2): 1024^3 ≈ 32-39 GFLOP/s (size-4 path forced: 29; numpy ≈ 195).

enable subgroups;
// Tint does not treat subgroupAll(...) as subgroup-uniform; the broadcasts below are guarded by it.
diagnostic(off, subgroup_uniformity);

struct Params { M: u32, N: u32, K: u32, batch: u32, stride_a: u32, stride_b: u32, stride_c: u32, nb: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// Template: T, the storage scalar type of a, b and c (f32 by default; f16 for half inference: loads widen to f32,
//   products and sums stay f32, stores narrow).
@group(0) @binding(1) var<storage, read> a: array<vec4<{{T}}>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<{{T}}>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<{{T}}>>;
#include "linalg/epilogue.wgsl"

const TILE_M: u32 = {{ROWS}}u;   // rows per workgroup
const COLS: u32 = {{COLS}}u;     // column vec4s per lane; TILE_M * COLS == 32
const TILE_N: u32 = 32u * COLS;  // columns per workgroup

alias Acc = array<vec4<f32>, 32>;

// 4 consecutive k-rows of B at vec4-column c4, as columns of a matrix: bm * (a_k..a_k+3) = sum_k a_k * B[k, c4..]
fn load_b(base: u32, k: u32, c4: u32, N4: u32) -> mat4x4<f32> {
  if (TRANS_B) {  // rows 4 c4 .. 4 c4 + 3 of b (clamped to nb - 1), each a vec4 along k: B's block, transposed
    let K4 = params.K / 4u;
    let last = params.nb - 1u;
    let j = base + k / 4u;
    return transpose(mat4x4<f32>(vec4<f32>(b[j + min(4u * c4, last) * K4]),
                                 vec4<f32>(b[j + min(4u * c4 + 1u, last) * K4]),
                                 vec4<f32>(b[j + min(4u * c4 + 2u, last) * K4]),
                                 vec4<f32>(b[j + min(4u * c4 + 3u, last) * K4])));
  }
  let i = base + k * N4 + c4;
  return mat4x4<f32>(vec4<f32>(b[i]), vec4<f32>(b[i + N4]), vec4<f32>(b[i + 2u * N4]), vec4<f32>(b[i + 3u * N4]));
}

// acc[r + l] += bm * (A row held by lane l), l = 0..7 (r constant at every call)
fn rank8(acc: ptr<function, Acc>, r: u32, bm: mat4x4<f32>, av: vec4<f32>) {
  (*acc)[r] += bm * subgroupBroadcast(av, 0u);      (*acc)[r + 1u] += bm * subgroupBroadcast(av, 1u);
  (*acc)[r + 2u] += bm * subgroupBroadcast(av, 2u); (*acc)[r + 3u] += bm * subgroupBroadcast(av, 3u);
  (*acc)[r + 4u] += bm * subgroupBroadcast(av, 4u); (*acc)[r + 5u] += bm * subgroupBroadcast(av, 5u);
  (*acc)[r + 6u] += bm * subgroupBroadcast(av, 6u); (*acc)[r + 7u] += bm * subgroupBroadcast(av, 7u);
}

// acc[r + l] += bm * (A row held by lane l), l = 0..3
fn rank4(acc: ptr<function, Acc>, r: u32, bm: mat4x4<f32>, av: vec4<f32>) {
  (*acc)[r] += bm * subgroupBroadcast(av, 0u);      (*acc)[r + 1u] += bm * subgroupBroadcast(av, 1u);
  (*acc)[r + 2u] += bm * subgroupBroadcast(av, 2u); (*acc)[r + 3u] += bm * subgroupBroadcast(av, 3u);
}

// rows row0 + r .. row0 + r + 7 of the lane's column vec4 c4 from acc[first + r ..] (constant first and r)
fn store8(acc: ptr<function, Acc>, first: u32, r: u32, o: u32, row0: u32, M: u32, N4: u32, c4: u32) {
  let i = first + r;
  let o0 = o + r * N4;
  let rr = row0 + r;
  if (rr < M) { c[o0] = finish((*acc)[i], c4); }
  if (rr + 1u < M) { c[o0 + N4] = finish((*acc)[i + 1u], c4); }
  if (rr + 2u < M) { c[o0 + 2u * N4] = finish((*acc)[i + 2u], c4); }
  if (rr + 3u < M) { c[o0 + 3u * N4] = finish((*acc)[i + 3u], c4); }
  if (rr + 4u < M) { c[o0 + 4u * N4] = finish((*acc)[i + 4u], c4); }
  if (rr + 5u < M) { c[o0 + 5u * N4] = finish((*acc)[i + 5u], c4); }
  if (rr + 6u < M) { c[o0 + 6u * N4] = finish((*acc)[i + 6u], c4); }
  if (rr + 7u < M) { c[o0 + 7u * N4] = finish((*acc)[i + 7u], c4); }
}

// rows row0 .. row0 + TILE_M - 1 of the lane's column vec4 c4 from acc[first ..]
fn store(acc: ptr<function, Acc>, first: u32, o: u32, row0: u32, M: u32, N4: u32, c4: u32) {
  store8(acc, first, 0u, o, row0, M, N4, c4);
  store8(acc, first, 8u, o, row0, M, N4, c4);
  if (TILE_M == 32u) {
    store8(acc, first, 16u, o, row0, M, N4, c4);
    store8(acc, first, 24u, o, row0, M, N4, c4);
  }
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
  let col0 = wg.x * 8u * COLS + li;
  let c4 = min(col0, N4 - 1u);                 // clamped: out-of-range lanes compute junk, never stored
  let c4b = min(col0 + 8u, N4 - 1u);           // the second column vec4 (COLS = 2)
  var acc: Acc;                                // acc[r] = C[row0 + r, 4*c4 ..] (+ acc[16 + r] at c4b)

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
      let a0 = vec4<f32>(a[r0 + k4]);
      let a1 = vec4<f32>(a[r1 + k4]);
      rank8(&acc, 0u, bm, a0);
      rank8(&acc, 8u, bm, a1);
      if (TILE_M == 32u) {
        rank8(&acc, 16u, bm, vec4<f32>(a[r2 + k4]));
        rank8(&acc, 24u, bm, vec4<f32>(a[r3 + k4]));
      } else {
        let bm2 = load_b(bb, k4 * 4u, c4b, N4);
        rank8(&acc, 16u, bm2, a0);
        rank8(&acc, 24u, bm2, a1);
      }
    }
  } else {
    // Subgroups of 4 (or an unexpected lane layout): every subgroup's lanes 0..3 hold all TILE_M rows.
    let q = lane % 4u;                         // lane q loads rows q + 4j
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
      let a0 = vec4<f32>(a[r0 + k4]);
      let a1 = vec4<f32>(a[r1 + k4]);
      let a2 = vec4<f32>(a[r2 + k4]);
      let a3 = vec4<f32>(a[r3 + k4]);
      rank4(&acc, 0u, bm, a0);
      rank4(&acc, 4u, bm, a1);
      rank4(&acc, 8u, bm, a2);
      rank4(&acc, 12u, bm, a3);
      if (TILE_M == 32u) {
        rank4(&acc, 16u, bm, vec4<f32>(a[r4 + k4]));
        rank4(&acc, 20u, bm, vec4<f32>(a[r5 + k4]));
        rank4(&acc, 24u, bm, vec4<f32>(a[r6 + k4]));
        rank4(&acc, 28u, bm, vec4<f32>(a[r7 + k4]));
      } else {
        let bm2 = load_b(bb, k4 * 4u, c4b, N4);
        rank4(&acc, 16u, bm2, a0);
        rank4(&acc, 20u, bm2, a1);
        rank4(&acc, 24u, bm2, a2);
        rank4(&acc, 28u, bm2, a3);
      }
    }
  }

  if (col0 < N4) {
    store(&acc, 0u, cb + row0 * N4 + c4, row0, M, N4, c4);
  }
  if (COLS == 2u && col0 + 8u < N4) {
    store(&acc, 16u, cb + row0 * N4 + c4b, row0, M, N4, c4b);
  }
}
