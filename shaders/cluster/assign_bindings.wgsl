// The bindings every k-means assignment kernel shares (assign.wgsl, assign_subgroup.wgsl, assign_tile.wgsl; included,
// not a kernel): the same inputs and outputs, so gpuml/impl/webgpu/kmeans.py binds them the same way. The including file
// defines its own `struct Params` first.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> centers: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> cnorm: array<f32>;
@group(0) @binding(4) var<storage, read_write> labels: array<u32>;
@group(0) @binding(5) var<storage, read_write> part_sums: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> part_counts: array<f32>;
@group(0) @binding(7) var<storage, read_write> part_stats: array<f32>;
@group(0) @binding(8) var<storage, read_write> mindist: array<f32>;
