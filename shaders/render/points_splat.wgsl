// Data points as anti-aliased discs, splatted by a compute pass into one word per pixel of the plot rectangle
// (coverage and point index), plus a flag per 32 x 32 tile that holds a point (encoding in render/disc.wgsl);
// render/points.wgsl draws the flagged tiles' words in the colors of the points' labels. Reads the k-means
// engine's point buffer (no host copy). The words depend on positions only: run once per dataset and plot size,
// on zeroed buffers.
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       xform:  vec4 (sx, sy, ox, oy): splat pixel coordinate = data * (sx, sy) + (ox, oy); pixel (i, j)
//               covers [i, i + 1) x [j, j + 1), its centre is (i + 0.5, j + 0.5)
//       radius: disc radius in physical pixels
//       w, h:   splat grid size in pixels; n: number of points (< 2^24); tw: tiles per grid row,
//       ceil(w / SPLAT_TILE)
//   @binding(1) var<storage, read> pts: array<vec4<f32>>   rows padded to 4 floats (x, y, 0, 0)
//   @binding(2) var<storage, read_write> splat: array<atomic<u32>>  w * h words, row-major from the top left
//   @binding(3) var<storage, read_write> tiles: array<atomic<u32>>  tw * ceil(h / SPLAT_TILE) tile flags
// Dispatch: device.grid_1d(ceil(n / WG)) workgroups; one invocation per point loops over the pixels of its
// bounding square. Template: WG.
// Why: on lavapipe, 10,000 points as instanced quads (20,000 tiny triangles) cost ~11 ms per frame; this pass
// (~23 covered pixels per point) ~1.2 ms, and only when the points move. Loading a word first and skipping the
// atomicMax where it would not change the word: -20% on the blobs dataset.

#include "common/index.wgsl"
#include "render/disc.wgsl"

struct Params {
    xform: vec4<f32>,
    radius: f32,
    w: u32,
    h: u32,
    n: u32,
    tw: u32,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pts: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> splat: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> tiles: array<atomic<u32>>;

@compute @workgroup_size({{WG}})
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let c = pts[i].xy * p.xform.xy + p.xform.zw;
    let reach = p.radius + 0.5;
    // pixels whose centre lies within `reach` of c, clipped to the grid (float bounds first: no i32 overflow)
    let lo = max(floor(c - reach), vec2<f32>(0.0));
    let hi = min(ceil(c + reach), vec2<f32>(f32(p.w), f32(p.h)));
    for (var y = lo.y; y < hi.y; y = y + 1.0) {
        let dy = y + 0.5 - c.y;
        let row = u32(y) * p.w;
        for (var x = lo.x; x < hi.x; x = x + 1.0) {
            let dx = x + 0.5 - c.x;
            let cover = disc_coverage(sqrt(dx * dx + dy * dy), p.radius);
            if (cover >= 0.5 / 255.0) {
                let word = splat_word(cover, i);
                let at = row + u32(x);
                if (atomicLoad(&splat[at]) < word) {  // most pixels of a dense cluster are settled: skip the
                    atomicMax(&splat[at], word);       // read-modify-write (a compare-exchange loop on x86)
                }
            }
        }
    }
    if (all(hi > lo)) {  // flag the tiles under the footprint (at most 2 x 2)
        let t0 = vec2<u32>(lo) / SPLAT_TILE;
        let t1 = (vec2<u32>(hi) - 1u) / SPLAT_TILE;
        for (var ty = t0.y; ty <= t1.y; ty = ty + 1u) {
            for (var tx = t0.x; tx <= t1.x; tx = tx + 1u) {
                atomicStore(&tiles[ty * p.tw + tx], 1u);
            }
        }
    }
}
