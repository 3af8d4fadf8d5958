// Web page: float images read straight from compute buffers (ink, layer activations, augmented batches,
// Grad-CAM maps), drawn as a grid of tiles with nearest or bilinear sampling and a colour map.
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       grid:  vec4<u32> (n images, columns, channels, element offset into data)
//       dims:  vec4<u32> (h, w, colour mode, sampling): mode 0 gray, 1 RGB (C = 3, CHW), 2 heat overlay
//              (transparent where cold), 3 diverging (blue < 0 < red); sampling 0 nearest, 1 bilinear
//       view:  vec4<f32> (canvas width, canvas height, gap px, value scale)
//       box:   vec4<f32> (x, y, width, height) of the grid inside the canvas, in canvas pixels
//       extra: vec4<u32> (element offset into norm, unused x3)
//   @binding(1) var<storage, read> data: array<f32>   N x C x h x w from grid.w on
//   @binding(2) var<storage, read> norm: array<f32>   per-image divisor from extra.x on (e.g. the map's max;
//       <= 0: use 1)
// Draw: draw(6, n) — one quad per image; rows = ceil(n / columns).
// Why read storage buffers in the fragment shader: the tensors gpuml computes are drawn where they are, with
// no readback and no texture copy.

struct Params {
    grid: vec4<u32>,
    dims: vec4<u32>,
    view: vec4<f32>,
    box: vec4<f32>,
    extra: vec4<u32>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<f32>;
@group(0) @binding(2) var<storage, read> norm: array<f32>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) @interpolate(flat) image: u32,
};

fn tile_size() -> vec2<f32> {
    let cols = f32(p.grid.y);
    let rows = f32((p.grid.x + p.grid.y - 1u) / p.grid.y);
    return vec2<f32>((p.box.z - p.view.z * (cols - 1.0)) / cols, (p.box.w - p.view.z * (rows - 1.0)) / rows);
}

@vertex
fn vs_main(@builtin(vertex_index) vi: u32, @builtin(instance_index) ii: u32) -> VsOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 1.0),
    );
    let c = corners[vi];
    let t = tile_size();
    let cell = vec2<f32>(f32(ii % p.grid.y), f32(ii / p.grid.y));
    let q = p.box.xy + cell * (t + vec2<f32>(p.view.z)) + c * t;
    var out: VsOut;
    out.pos = vec4<f32>(q.x / p.view.x * 2.0 - 1.0, 1.0 - q.y / p.view.y * 2.0, 0.0, 1.0);
    out.uv = c;
    out.image = ii;
    return out;
}

fn texel(image: u32, ch: u32, y: i32, x: i32) -> f32 {
    let h = i32(p.dims.x);
    let w = i32(p.dims.y);
    let yy = u32(clamp(y, 0, h - 1));
    let xx = u32(clamp(x, 0, w - 1));
    let base = p.grid.w + ((image * p.grid.z + ch) * p.dims.x + yy) * p.dims.y + xx;
    return data[base];
}

fn sample(image: u32, ch: u32, uv: vec2<f32>) -> f32 {
    let size = vec2<f32>(f32(p.dims.y), f32(p.dims.x));
    if (p.dims.w == 0u) {
        let q = vec2<i32>(floor(uv * size));
        return texel(image, ch, q.y, q.x);
    }
    let q = uv * size - 0.5;
    let f = fract(q);
    let q0 = vec2<i32>(floor(q));
    let top = mix(texel(image, ch, q0.y, q0.x), texel(image, ch, q0.y, q0.x + 1), f.x);
    let bottom = mix(texel(image, ch, q0.y + 1, q0.x), texel(image, ch, q0.y + 1, q0.x + 1), f.x);
    return mix(top, bottom, f.y);
}

fn heat(t: f32) -> vec3<f32> {
    // black-red-yellow-white ramp (perceptually ordered, prints in gray)
    return clamp(vec3<f32>(3.0 * t, 3.0 * t - 1.0, 3.0 * t - 2.0), vec3<f32>(0.0), vec3<f32>(1.0));
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    var scale = norm[p.extra.x + in.image];
    if (scale <= 0.0) {
        scale = 1.0;
    }
    scale = p.view.w / scale;
    let mode = p.dims.z;
    if (mode == 1u) {
        let rgb = vec3<f32>(sample(in.image, 0u, in.uv), sample(in.image, 1u, in.uv), sample(in.image, 2u, in.uv));
        return vec4<f32>(clamp(rgb * scale, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
    }
    let v = sample(in.image, 0u, in.uv) * scale;
    if (mode == 2u) {
        let t = clamp(v, 0.0, 1.0);
        let a = 0.65 * smoothstep(0.05, 0.5, t);
        return vec4<f32>(heat(0.35 + 0.65 * t) * a, a);  // premultiplied alpha
    }
    if (mode == 3u) {
        let t = clamp(v, -1.0, 1.0);
        let pos = vec3<f32>(1.0, 1.0 - t, 1.0 - t);
        let neg = vec3<f32>(1.0 + t, 1.0 + t, 1.0);
        return vec4<f32>(select(neg, pos, t >= 0.0), 1.0);
    }
    let g = clamp(v, 0.0, 1.0);
    return vec4<f32>(g, g, g, 1.0);
}
