// Centroid markers of the k-means demo: anti-aliased discs with a light outline, colored by cluster, read
// straight from the k-means engine's center buffer (no vertex buffer, no host copy). The data points do not
// come through here (render/points_splat.wgsl + scatter.wgsl draw them).
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       view:    vec4  (design width, design height, physical width, physical height)
//       xform:   vec4  (sx, sy, ox, oy): design pixel = data * (sx, sy) + (ox, oy)
//       style:   vec4  (radius px, outline px, unused, unused)
//       palette: array<vec4<f32>, 16>  colors for clusters 0..14
//   @binding(1) var<storage, read> pts: array<vec4<f32>>  centers, rows padded to 4 floats (x, y, 0, 0)
// Draw (triangle-strip topology): draw(4, k); marker j has the color of cluster j.

#include "render/disc.wgsl"

struct Params {
    view: vec4<f32>,
    xform: vec4<f32>,
    style: vec4<f32>,
    palette: array<vec4<f32>, 16>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pts: array<vec4<f32>>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) color: vec4<f32>,
};

fn corner(i: u32) -> vec2<f32> {
    // triangle strip over 4 vertices: (-1,-1) (1,-1) (-1,1) (1,1); arithmetic, no local array (llvmpipe
    // lowers an indexed local array to memory)
    return vec2<f32>(f32(i & 1u) * 2.0 - 1.0, f32(i >> 1u) * 2.0 - 1.0);
}

@vertex
fn vs_main(@builtin(vertex_index) vi: u32, @builtin(instance_index) ii: u32) -> VsOut {
    let c = corner(vi);
    let r = p.style.x + 1.0;  // one pixel of room for the soft edge
    let centre = pts[ii].xy * p.xform.xy + p.xform.zw;
    let q = centre + c * r;
    var out: VsOut;
    out.pos = vec4<f32>(q.x / p.view.x * 2.0 - 1.0, 1.0 - q.y / p.view.y * 2.0, 0.0, 1.0);
    out.local = c * r;
    out.color = p.palette[min(ii, 15u)];
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let d = length(in.local);
    let radius = p.style.x;
    let alpha = disc_coverage(d, radius);
    if (alpha <= 0.0) {
        discard;
    }
    let ring = clamp(d - (radius - p.style.y) + 0.5, 0.0, 1.0);
    let rgb = mix(in.color.rgb, vec3<f32>(0.96, 0.96, 0.98), ring);
    return vec4<f32>(rgb, in.color.a * alpha);
}
