// matmul_tiled.wgsl — batched f32 GEMM C = A·B (row-major); discrete-GPU variant (NVIDIA/AMD/Intel/Apple).
// Bindings: 0 uniform Params; 1 a: M x K; 2 b: K x N (N_b x K with TRANS_B); 3 c: M x N (row-major per batch
//   element, vec4 arrays); 4 bias: N floats as vec4s (read only when EPI > 0; bind any other buffer otherwise).
//   stride_a/b/c = per-batch offsets in f32 ELEMENTS (multiples of 4); stride 0 broadcasts that operand.
// HOST_PAD4: params.K and params.N MUST be multiples of 4 (host zero-pads A to M x K4, B to K4 x N4; C is M x N4,
//   drop the pad columns). M is arbitrary.
// Workgroup 16x16 = 256 invocations computes a 64x64 block of C; each invocation a 4x4 register block.
// K is walked in tiles of 16 staged in workgroup memory (A transposed, so both operands are read as vec4):
// per k, 2 vec4 workgroup loads feed 16 FMAs. Two barriers per K tile.
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M), batch) with TILE_M = 64, TILE_N = 64.
// Measured on lavapipe: 1024^3 ≈ 6 GFLOP/s — expected (barriers are coroutine switches there); use matmul_subgroup.
// Template: TRANS_B (true/false): b holds B transposed, N_b x K row-major (a fully connected layer's weights as
//   stored); params.nb = N_b; 64 B tile loaders read 4 rows' vec4s along k and transpose them into Bs. EPI: 0 plain
//   C; 1 C + bias[col]; 2 max(C + bias[col], 0), applied to the accumulators before the store (as matmul_subgroup).

struct Params { M: u32, N: u32, K: u32, batch: u32, stride_a: u32, stride_b: u32, stride_c: u32, nb: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// Template: T, the storage scalar type of a, b and c (f32 by default; f16 for half inference: loads widen to f32,
//   products and sums stay f32, stores narrow).
@group(0) @binding(1) var<storage, read> a: array<vec4<{{T}}>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<{{T}}>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<{{T}}>>;
#include "linalg/epilogue.wgsl"

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;

var<workgroup> As: array<vec4<f32>, 256>;   // [k * 16 + m4]: A[m4*4 .. m4*4+3, k] (transposed tile)
var<workgroup> Bs: array<vec4<f32>, 256>;   // [k * 16 + n4]: B[k, n4*4 .. n4*4+3]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let M = params.M;
  let N4 = params.N / 4u;
  let K4 = params.K / 4u;
  let ab = wg.z * params.stride_a / 4u;
  let bb = wg.z * params.stride_b / 4u;
  let cb = wg.z * params.stride_c / 4u;
  let row0 = wg.y * TILE_M;
  let col40 = wg.x * (TILE_N / 4u);

  // A tile loaders: invocations 0..63 each load a 4x4 block (4 rows x one vec4 along k) and store it transposed.
  let la_m4 = t % 16u;
  let la_k4 = (t / 16u) % 4u;
  let ra = ab + min(row0 + la_m4 * 4u, M - 1u) * K4;   // rows clamped: junk rows are never stored
  let rstep = select(0u, K4, row0 + la_m4 * 4u + 1u < M);
  let rstep2 = select(rstep, 2u * K4, row0 + la_m4 * 4u + 2u < M);
  let rstep3 = select(rstep2, 3u * K4, row0 + la_m4 * 4u + 3u < M);
  // B tile loaders: every invocation loads one vec4: k = t / 16, n4 = t % 16.
  let lb_k = t / 16u;
  let lb_n4 = t % 16u;
  let cbn = min(col40 + lb_n4, N4 - 1u);

  var acc0 = vec4<f32>(); var acc1 = vec4<f32>(); var acc2 = vec4<f32>(); var acc3 = vec4<f32>();
  for (var k0 = 0u; k0 < params.K; k0 += TILE_K) {
    let k40 = k0 / 4u;
    if (t < 64u) {
      let kk = k40 + la_k4;
      let inb = kk < K4;
      let kc = min(kk, K4 - 1u);
      let z = vec4<f32>();
      let v0 = select(z, vec4<f32>(a[ra + kc]), inb);
      let v1 = select(z, vec4<f32>(a[ra + rstep + kc]), inb);
      let v2 = select(z, vec4<f32>(a[ra + rstep2 + kc]), inb);
      let v3 = select(z, vec4<f32>(a[ra + rstep3 + kc]), inb);
      // rows -> k-entries: column i of the transpose holds (v0[i], v1[i], v2[i], v3[i]), the 4 rows at k + i
      let tr = transpose(mat4x4<f32>(v0, v1, v2, v3));
      let base = la_k4 * 4u * 16u + la_m4;
      As[base] = tr[0]; As[base + 16u] = tr[1]; As[base + 32u] = tr[2]; As[base + 48u] = tr[3];
    }
    if (TRANS_B) {
      // invocations 0..63, as the A loaders: rows 4 n4 .. 4 n4 + 3 of b (B's columns, clamped to nb - 1) at
      // k-vec4 k40 + kq, transposed in registers into whole Bs vec4s (no component stores shared between lanes)
      if (t < 64u) {
        let n4 = t % 16u;
        let kq = t / 16u;
        let kk = k40 + kq;
        let inb = kk < K4;
        let kc = bb + min(kk, K4 - 1u);
        let j0 = col40 * 4u + n4 * 4u;
        let last = params.nb - 1u;
        let z = vec4<f32>();
        let v0 = select(z, vec4<f32>(b[kc + min(j0, last) * K4]), inb);
        let v1 = select(z, vec4<f32>(b[kc + min(j0 + 1u, last) * K4]), inb);
        let v2 = select(z, vec4<f32>(b[kc + min(j0 + 2u, last) * K4]), inb);
        let v3 = select(z, vec4<f32>(b[kc + min(j0 + 3u, last) * K4]), inb);
        let tr = transpose(mat4x4<f32>(v0, v1, v2, v3));
        let base = kq * 4u * 16u + n4;
        Bs[base] = tr[0]; Bs[base + 16u] = tr[1]; Bs[base + 32u] = tr[2]; Bs[base + 48u] = tr[3];
      }
    } else {
      let kb = k0 + lb_k;
      Bs[t] = select(vec4<f32>(), vec4<f32>(b[bb + min(kb, params.K - 1u) * N4 + cbn]), kb < params.K);
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let av = As[k * 16u + lid.y];
      let bv = Bs[k * 16u + lid.x];
      acc0 += av.x * bv; acc1 += av.y * bv; acc2 += av.z * bv; acc3 += av.w * bv;
    }
    workgroupBarrier();
  }

  let cn = col40 + lid.x;
  let r = row0 + lid.y * 4u;
  if (cn < N4) {
    let o = cb + r * N4 + cn;
    if (r < M) { c[o] = finish(acc0, cn); }
    if (r + 1u < M) { c[o + N4] = finish(acc1, cn); }
    if (r + 2u < M) { c[o + 2u * N4] = finish(acc2, cn); }
    if (r + 3u < M) { c[o + 3u * N4] = finish(acc3, cn); }
  }
}
