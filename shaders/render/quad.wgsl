// Screen-space textured quads: solid rectangles, text glyphs and images, all through this one pipeline.
//
// Vertex input (step mode "instance", 48 bytes per quad; no per-vertex buffer; triangle strip, 4 vertices):
//   @location(0) rect:  vec4<f32>  x, y, width, height in design pixels (origin top left, y down)
//   @location(1) uv:    vec4<f32>  u0, v0, u1, v1 in the bound texture
//   @location(2) color: vec4<f32>  tint, straight alpha; the output is color * texture sample
// Bindings: @group(0) @binding(0) uniform View { size: (design width, design height, physical w, physical h) }
//           @binding(1) texture_2d<f32> (the glyph atlas, whose texel (0, 0) is opaque white, or an image)
//           @binding(2) sampler
// Draw: draw(4, n_quads, 0, first_quad) per run of quads that share a texture.
// Why one pipeline: a frame's rectangles and text (bars, labels, panels) merge into a single draw call; on
// lavapipe each draw call costs tens of microseconds, the per-quad cost is negligible.

struct View {
    size: vec4<f32>,
};

@group(0) @binding(0) var<uniform> view: View;
@group(0) @binding(1) var tex: texture_2d<f32>;
@group(0) @binding(2) var samp: sampler;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) color: vec4<f32>,
};

fn corner(i: u32) -> vec2<f32> {
    // triangle strip (0,0) (1,0) (0,1) (1,1), computed (an indexed local array is slow on llvmpipe)
    return vec2<f32>(f32(i & 1u), f32(i >> 1u));
}

@vertex
fn vs_main(
    @builtin(vertex_index) vi: u32,
    @location(0) rect: vec4<f32>,
    @location(1) uv: vec4<f32>,
    @location(2) color: vec4<f32>,
) -> VsOut {
    let c = corner(vi);
    let p = rect.xy + c * rect.zw;
    var out: VsOut;
    out.pos = vec4<f32>(p.x / view.size.x * 2.0 - 1.0, 1.0 - p.y / view.size.y * 2.0, 0.0, 1.0);
    out.uv = mix(uv.xy, uv.zw, c);
    out.color = color;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    return in.color * textureSample(tex, samp, in.uv);
}
