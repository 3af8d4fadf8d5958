// Shared by the GEMM kernels with the transposed-B and epilogue options (linalg/matmul_subgroup.wgsl,
// linalg/matmul_tiled.wgsl): binding 4 `bias` (N floats as vec4s; read only when EPI > 0, so callers bind any other
// read-only buffer otherwise), the template switches, and the store-time epilogue.
// Template: T; TRANS_B (true/false): b holds B transposed, N_b x K row-major; EPI: 0 plain C; 1 C + bias[col];
//   2 max(C + bias[col], 0).

@group(0) @binding(4) var<storage, read> bias: array<vec4<{{T}}>>;

const TRANS_B: bool = {{TRANS_B}};
const EPI: u32 = {{EPI}}u;

// the stored value of an accumulator at column vec4 c4: the epilogue applied, narrowed to T
fn finish(v: vec4<f32>, c4: u32) -> vec4<{{T}}> {
  var out = v;
  if (EPI >= 1u) {
    out += vec4<f32>(bias[c4]);
  }
  if (EPI == 2u) {
    out = max(out, vec4<f32>(0.0));
  }
  return vec4<{{T}}>(out);
}
