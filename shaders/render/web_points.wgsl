// Web page: 2-D points (k-means data coloured by label, or by their k-means++ D^2 sampling weight during the
// seeding, or the centroids as outlined markers) as anti-aliased discs, one quad (6 vertices) each, read straight
// from storage buffers.
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       view:  vec4<f32> (canvas width, canvas height, radius px, mode: 0 points, 1 centroid markers,
//              2 points by weight: labels hold levels 0..255 = D^2 / max D^2; brightness and size grow with it)
//       xform: vec4<f32> (sx, sy, ox, oy): canvas pixel = data * (sx, sy) + (ox, oy)
//       palette: array<vec4<f32>, 16>: colours of labels 0..14; entry 15 for "no label yet"
//   @binding(1) var<storage, read> pts: array<vec4<f32>>  point (or centroid) coordinates in .xy (the k-means
//       engine's rows: centered data, the centering folded into xform)
//   @binding(2) var<storage, read> labels: array<u32>     label per point (mode 0; 0xFFFFFFFF: none yet), or
//       weight level per point (mode 2)
// Draw: draw(6 * n) — one quad (6 vertices) per point, point = vertex_index / 6.
// Why one non-instanced draw from storage: one draw call for all points, no vertex buffer layout to keep in sync;
// an instanced draw costs ~24 us per instance on SwiftShader: draw(6, 1000) took 25 ms per frame (with the copy
// presentation), draw(6000) 3.5 ms.

struct Params {
    view: vec4<f32>,
    xform: vec4<f32>,
    palette: array<vec4<f32>, 16>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pts: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) color: vec4<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) v: u32) -> VsOut {
    let ii = v / 6u;
    let vi = v - 6u * ii;
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(-1.0, 1.0),
        vec2<f32>(-1.0, 1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
    );
    var label = ii;
    if (p.view.w < 0.5 || p.view.w > 1.5) {
        label = labels[ii];
    }
    var color = p.palette[15];
    if (label < 15u) {
        color = p.palette[label];
    }
    var radius = p.view.z;
    if (p.view.w > 1.5) {  // D^2 weight w: slate -> hot yellow, radius 2.2 -> 5 px
        let w = f32(min(label, 255u)) / 255.0;
        color = vec4<f32>(mix(vec3<f32>(0.4, 0.43, 0.55), vec3<f32>(1.0, 0.84, 0.1), w), 1.0);
        radius = 2.2 + 2.8 * w;
    }
    let r = radius + 1.0;
    let q = pts[ii].xy * p.xform.xy + p.xform.zw + corners[vi] * r;
    var out: VsOut;
    out.pos = vec4<f32>(q.x / p.view.x * 2.0 - 1.0, 1.0 - q.y / p.view.y * 2.0, 0.0, 1.0);
    out.local = corners[vi] * r;
    out.color = vec4<f32>(color.rgb, radius);
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let d = length(in.local);
    let r = in.color.a;  // this disc's radius
    let a = clamp(r + 0.5 - d, 0.0, 1.0);
    var rgb = in.color.rgb;
    if (p.view.w > 0.5 && p.view.w < 1.5 && d > r - 2.5) {
        rgb = vec3<f32>(0.05, 0.05, 0.08);  // dark outline around centroid markers
    }
    return vec4<f32>(rgb * a, a);  // premultiplied alpha
}
