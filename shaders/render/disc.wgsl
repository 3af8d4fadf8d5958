// Shared by the scatter-plot shaders: anti-aliased disc coverage (render/markers.wgsl, points_splat.wgsl), the
// per-pixel splat word and the tile flags (written by render/points_splat.wgsl, read by render/points.wgsl).
//
// Splat word, one u32 per physical pixel of the plot rectangle, combined with atomicMax:
//   bits 12..31  frame tag (1 .. 2^20 - 1). Words of earlier frames compare smaller and read as empty, so the
//                buffer needs no clearing pass; the host zeroes it when it is new and when the tag wraps.
//   bits  4..11  coverage of the pixel by the disc, 0..255 (the anti-aliasing alpha)
//   bits  0..3   label: 0..10 a cluster, 11 = not assigned yet
// The maximum over the discs that touch a pixel is the best-covering disc (ties: the higher label), the same
// word whatever order the invocations run in: frames do not flicker.

// Tile flags: one u32 per SPLAT_TILE x SPLAT_TILE pixels of the grid (row-major), atomicMax'ed with the frame
// tag by every point whose footprint touches the tile: render/points.wgsl draws only the tiles of this frame.
const SPLAT_TILE: u32 = 32u;
const SPLAT_TAG_SHIFT: u32 = 12u;
const SPLAT_NO_LABEL: u32 = 11u;

// Coverage of a pixel whose centre lies `d` pixels from the centre of a disc of radius `radius`: one pixel of
// linear ramp across the edge.
fn disc_coverage(d: f32, radius: f32) -> f32 {
    return clamp(radius + 0.5 - d, 0.0, 1.0);
}

fn splat_word(tag: u32, coverage: f32, label: u32) -> u32 {
    let q = u32(coverage * 255.0 + 0.5);
    return (tag << SPLAT_TAG_SHIFT) | (q << 4u) | min(label, SPLAT_NO_LABEL);
}

// (coverage in [0, 1], label) of a word; coverage 0 when the word is from another frame
fn splat_read(word: u32, tag: u32) -> vec2<u32> {
    if ((word >> SPLAT_TAG_SHIFT) != tag) {
        return vec2<u32>(0u, 0u);
    }
    return vec2<u32>((word >> 4u) & 255u, word & 15u);
}
