// Anti-aliased line segments of any width (curves, optimizer paths, axes), one quad per segment.
//
// Vertex input (step mode "instance", 48 bytes per segment):
//   @location(0) ends:  vec4<f32>  x0, y0, x1, y1 in design pixels (origin top left, y down)
//   @location(1) color: vec4<f32>  straight alpha
//   @location(2) style: vec4<f32>  x: width in design pixels (y, z, w unused)
// Bindings: @group(0) @binding(0) uniform View { size: (design width, design height, physical w, physical h) }
// Draw (triangle strip): draw(4, n_segments, 0, first_segment).
// The quad is widened by one pixel each side and extended by half the width at both ends (square caps, so a
// polyline has no gaps at its joints); the fragment fades alpha over the outermost pixel.

struct View {
    size: vec4<f32>,
};

@group(0) @binding(0) var<uniform> view: View;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) across: f32,
    @location(1) half_width: f32,
    @location(2) color: vec4<f32>,
};

fn corner(i: u32) -> vec2<f32> {
    // triangle strip: x = position along the segment (0, 1), y = side (-1, 1)
    return vec2<f32>(f32(i & 1u), f32(i >> 1u) * 2.0 - 1.0);
}

@vertex
fn vs_main(
    @builtin(vertex_index) vi: u32,
    @location(0) ends: vec4<f32>,
    @location(1) color: vec4<f32>,
    @location(2) style: vec4<f32>,
) -> VsOut {
    let c = corner(vi);
    let a = ends.xy;
    let b = ends.zw;
    let d = b - a;
    let len = length(d);
    var t = vec2<f32>(1.0, 0.0);
    if (len > 1e-6) {
        t = d / len;
    }
    let n = vec2<f32>(-t.y, t.x);
    let hw = 0.5 * style.x;
    let outer = hw + 1.0;
    let p = mix(a - t * hw, b + t * hw, c.x) + n * (c.y * outer);
    var out: VsOut;
    out.pos = vec4<f32>(p.x / view.size.x * 2.0 - 1.0, 1.0 - p.y / view.size.y * 2.0, 0.0, 1.0);
    out.across = c.y * outer;
    out.half_width = hw;
    out.color = color;
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let coverage = clamp(in.half_width + 0.5 - abs(in.across), 0.0, 1.0);
    return vec4<f32>(in.color.rgb, in.color.a * coverage);
}
