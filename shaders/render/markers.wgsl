// Data points as anti-aliased discs, read straight from compute buffers (no vertex buffer, no host copy):
// the k-means demo binds the tensors gpuml.cluster's engine computes with.
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       view:    vec4  (design width, design height, physical width, physical height)
//       xform:   vec4  (sx, sy, ox, oy): design pixel = data * (sx, sy) + (ox, oy)
//       style:   vec4  (radius px, outline px, mode, unused); mode 0 = points, 1 = markers
//       palette: array<vec4<f32>, 12>  colors for labels 0..10, entry 11 for "not assigned yet"
//   @binding(1) var<storage, read> pts: array<vec4<f32>>  rows padded to 4 floats (x, y, 0, 0), as the
//       k-means engine stores points and centers
//   @binding(2) var<storage, read> labels: array<u32>     mode 0: label per point (0xFFFFFFFF: none yet)
// Draw (triangle-strip topology): draw(4, n_points) for points (mode 0), draw(4, k) for centroid markers
// (mode 1: label = instance index, drawn with a light outline). Measured on lavapipe, 10,000 points: the
// vertex stage dominates (4 vertices per point with a strip instead of 6 with a list: ~1.5x faster).

struct Params {
    view: vec4<f32>,
    xform: vec4<f32>,
    style: vec4<f32>,
    palette: array<vec4<f32>, 12>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pts: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) color: vec4<f32>,
};

fn corner(i: u32) -> vec2<f32> {
    // triangle strip over 4 vertices: (-1,-1) (1,-1) (-1,1) (1,1); arithmetic, no local array (llvmpipe
    // lowers an indexed local array to memory, which dominated the vertex cost)
    return vec2<f32>(f32(i & 1u) * 2.0 - 1.0, f32(i >> 1u) * 2.0 - 1.0);
}

@vertex
fn vs_main(@builtin(vertex_index) vi: u32, @builtin(instance_index) ii: u32) -> VsOut {
    var label = ii;
    if (p.style.z < 0.5) {
        label = labels[ii];
    }
    var color = p.palette[11];
    if (label < 11u) {
        color = p.palette[label];
    }
    let c = corner(vi);
    let r = p.style.x + 1.0;  // one pixel of room for the soft edge
    let centre = pts[ii].xy * p.xform.xy + p.xform.zw;
    let q = centre + c * r;
    var out: VsOut;
    out.pos = vec4<f32>(q.x / p.view.x * 2.0 - 1.0, 1.0 - q.y / p.view.y * 2.0, 0.0, 1.0);
    out.local = c * r;
    out.color = color;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let d = length(in.local);
    let radius = p.style.x;
    let alpha = clamp(radius + 0.5 - d, 0.0, 1.0);
    if (alpha <= 0.0) {
        discard;
    }
    var rgb = in.color.rgb;
    let outline = p.style.y;
    if (outline > 0.0) {
        let ring = clamp(d - (radius - outline) + 0.5, 0.0, 1.0);
        rgb = mix(rgb, vec3<f32>(0.96, 0.96, 0.98), ring);
    }
    return vec4<f32>(rgb, in.color.a * alpha);
}
