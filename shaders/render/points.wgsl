// Data points of the k-means demo: draws the splat words of render/points_splat.wgsl as anti-aliased discs in the
// colors of the points' current labels, over the Voronoi cells (alpha-blended), on the 32 x 32 tiles that hold
// points only.
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       view:    vec4  (design width, design height, physical width, physical height)
//       grid:    vec4<u32> (x0, y0, w, h): the splat grid's top-left physical pixel and size
//       tiles:   vec4<u32> (tiles per row, tile rows, unused, unused)
//       palette: array<vec4<f32>, 16>  colors for labels 0..14, entry 15 for "not assigned yet"
//   @binding(1) var<storage, read> splat: array<u32>   w * h words, row-major from the grid's top left
//   @binding(2) var<storage, read> flags: array<u32>   the tile flags (render/disc.wgsl)
//   @binding(3) var<storage, read> labels: array<u32>  the k-means engine's label per point (0xFFFFFFFF: none yet)
// Draw (triangle-list topology): draw(6 * tiles per row * tile rows): two triangles per tile, collapsed to a point
// (culled) where the tile has no point.
// Why: 10,000 points as instanced quads (20,000 tiny triangles) cost lavapipe ~11 ms per frame. Reading a word per
// pixel costs ~2x a flat fill (lavapipe loads storage buffers lane by lane), so only the tiles with points read
// them: 36-52% of the plot for blobs and circles, 14-23% for moons and anisotropic blobs. The label load is a
// second, dependent one, on covered pixels only; it replaces a per-frame splat (~40% of the points' cost).

#include "render/disc.wgsl"

struct Params {
    view: vec4<f32>,
    grid: vec4<u32>,
    tiles: vec4<u32>,
    palette: array<vec4<f32>, 16>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> splat: array<u32>;
@group(0) @binding(2) var<storage, read> flags: array<u32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;

@vertex
fn vs_main(@builtin(vertex_index) vi: u32) -> @builtin(position) vec4<f32> {
    let tile = vi / 6u;
    let v = vi - tile * 6u;  // triangles (0, 1, 2) and (2, 1, 3) over the corners (0,0) (1,0) (0,1) (1,1)
    let corner = select(select(v, 2u, v == 3u), select(1u, 3u, v == 5u), v >= 4u);
    if (flags[tile] == 0u) {
        return vec4<f32>(0.0, 0.0, 0.0, 1.0);
    }
    let t = vec2<u32>(tile % p.tiles.x, tile / p.tiles.x);
    let c = vec2<u32>(corner & 1u, corner >> 1u);
    let q = vec2<f32>(p.grid.xy + min((t + c) * SPLAT_TILE, p.grid.zw));  // physical pixels, clipped to the grid
    return vec4<f32>(q.x / p.view.z * 2.0 - 1.0, 1.0 - q.y / p.view.w * 2.0, 0.0, 1.0);
}

@fragment
fn fs_main(@builtin(position) frag: vec4<f32>) -> @location(0) vec4<f32> {
    let px = vec2<u32>(frag.xy) - p.grid.xy;  // inside the grid: the tiles are clipped to it
    let s = splat_read(splat[px.y * p.grid.z + px.x]);
    var label = 15u;
    if (s.x > 0u) {
        label = min(labels[s.y], 15u);
    }
    return vec4<f32>(p.palette[label].rgb, f32(s.x) * (1.0 / 255.0));
}
