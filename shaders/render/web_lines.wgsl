// Web page: one polyline (a training curve, an axis or a grid line) read from a storage buffer of (x, y) data
// points, drawn as a line strip in one colour.
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       view:  vec4<f32> (canvas width, canvas height, unused, unused)
//       xform: vec4<f32> (sx, sy, ox, oy): canvas pixel = data * (sx, sy) + (ox, oy)
//       color: vec4<f32> straight RGBA
//   @binding(1) var<storage, read> pts: array<vec2<f32>>
// Draw: draw(n) with primitive topology "line-strip".

struct Params {
    view: vec4<f32>,
    xform: vec4<f32>,
    color: vec4<f32>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pts: array<vec2<f32>>;

@vertex
fn vs_main(@builtin(vertex_index) vi: u32) -> @builtin(position) vec4<f32> {
    let q = pts[vi] * p.xform.xy + p.xform.zw;
    return vec4<f32>(q.x / p.view.x * 2.0 - 1.0, 1.0 - q.y / p.view.y * 2.0, 0.0, 1.0);
}

@fragment
fn fs_main() -> @location(0) vec4<f32> {
    return vec4<f32>(p.color.rgb * p.color.a, p.color.a);
}
