// Data points of the k-means demo: turns the splat words of render/points_splat.wgsl (one per pixel of the plot
// rectangle) into anti-aliased colored discs, alpha-blended over the Voronoi background.
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       view:    vec4  (design width, design height, physical width, physical height)
//       grid:    vec4<u32> (x0, y0, w, h): the splat grid's top-left physical pixel and size
//       frame:   vec4<u32> (tag of this frame's words, unused, unused, unused)
//       palette: array<vec4<f32>, 12>  colors for labels 0..10, entry 11 for "not assigned yet"
//   @binding(1) var<storage, read> splat: array<u32>  w * h words, row-major from the top left (render/disc.wgsl)
// Draw (triangle-strip topology): draw(4, 1): one rectangle exactly over the grid's physical pixels.
// Why: 10,000 points as instanced quads (20,000 tiny triangles) cost lavapipe ~11 ms per frame in triangle
// setup; a compute splat plus this pass (one load per pixel) costs a fraction of that.

#include "render/disc.wgsl"

struct Params {
    view: vec4<f32>,
    grid: vec4<u32>,
    frame: vec4<u32>,
    palette: array<vec4<f32>, 12>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> splat: array<u32>;

@vertex
fn vs_main(@builtin(vertex_index) vi: u32) -> @builtin(position) vec4<f32> {
    let c = vec2<f32>(f32(vi & 1u), f32(vi >> 1u));  // strip (0,0) (1,0) (0,1) (1,1)
    let q = vec2<f32>(p.grid.xy) + c * vec2<f32>(p.grid.zw);  // physical pixels
    return vec4<f32>(q.x / p.view.z * 2.0 - 1.0, 1.0 - q.y / p.view.w * 2.0, 0.0, 1.0);
}

@fragment
fn fs_main(@builtin(position) frag: vec4<f32>) -> @location(0) vec4<f32> {
    let px = vec2<u32>(frag.xy) - p.grid.xy;  // inside the grid: the rectangle covers exactly its pixels
    let s = splat_read(splat[px.y * p.grid.z + px.x], p.frame.x);
    return vec4<f32>(p.palette[s.y].rgb, f32(s.x) * (1.0 / 255.0));
}
