// Shared by the scatter-plot shaders: anti-aliased disc coverage (render/markers.wgsl, points_splat.wgsl), the
// per-pixel splat word and the tile flags (written by render/points_splat.wgsl, read by render/points.wgsl).
//
// Splat word, one u32 per physical pixel of the plot rectangle (0: no point), combined with atomicMax:
//   bits 24..31  coverage of the pixel by the disc, 1..255 (the anti-aliasing alpha)
//   bits  0..23  index of the point (< 2^24)
// The maximum over the discs that touch a pixel is the best-covering one (ties: the higher index), the same word
// whatever order the invocations run in. The words depend on the positions only, not on the labels, so they are
// splatted once per dataset and plot size; render/points.wgsl looks the label up every frame.
//
// Tile flags: one u32 per SPLAT_TILE x SPLAT_TILE pixels of the grid (row-major), 1 where a point's footprint
// touches the tile: render/points.wgsl draws those tiles only.

const SPLAT_TILE: u32 = 32u;

// Coverage of a pixel whose centre lies `d` pixels from the centre of a disc of radius `radius`: one pixel of
// linear ramp across the edge.
fn disc_coverage(d: f32, radius: f32) -> f32 {
    return clamp(radius + 0.5 - d, 0.0, 1.0);
}

fn splat_word(coverage: f32, index: u32) -> u32 {
    return (u32(coverage * 255.0 + 0.5) << 24u) | index;
}

// (coverage 0..255, point index) of a word
fn splat_read(word: u32) -> vec2<u32> {
    return vec2<u32>(word >> 24u, word & 0xFFFFFFu);
}
