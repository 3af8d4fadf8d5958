// A run of pixel ops over a float32 image: a pipeline segment that starts with a contrast op, which needs the
// image mean (image_mean.wgsl, from the grey sums the previous pass wrote per quad). See common.wgsl for the quad
// layout, the parameter block and the ops.
//
// Bindings: 0 p (uniform Params; ho, wo are the image size), 1 prm: array<vec4<u32>> (read),
//   2 stats: array<f32> (read, per-image grey mean), 3 partials: array<f32> (read_write, one grey sum per quad,
//   written when PARTIALS: a later contrast op), 4 inp: array<IN_T> (read, N x C x ho x wo float32; a dummy
//   when in place), 5 out: array<OUT_T> (read_write, float32 N x C x ho x wo, or uint8 pixels with PIXEL_OUT).
// Template: WG, C, OUT_T / PUT / PUT_PX / PIXEL_OUT, OPS_LOAD / OPS, QUADS, PARTIALS as in resample.wgsl; IN_T /
//   GET the input element type and the body of load4, which reads `out` (in place) or `inp` (INPUTS in
//   gpuml/impl/webgpu/augment.py).
// Dispatch: as resample.wgsl: ceil(n * qpi / WG) workgroups over Device.grid_1d, one invocation per QUADS quads
//   of one image (all channels).
// Why in place for float32 output: each invocation reads and rewrites only its own pixels (one vec4 per channel
// when ho * wo % 4 == 0), and on lavapipe that is ~7% faster for the whole pipeline than writing a second image
// (interleaved A/B, 256 x 224 x 224 RGB); a last segment with uint8 output reads `inp` and writes packed pixels.

#include "augment/common.wgsl"

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> prm: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read> inp: array<{{IN_T}}>;
@group(0) @binding(5) var<storage, read_write> out: array<{{OUT_T}}>;

// Channel values of a quad's m valid pixels at element i of `inp`.
fn load4(i: u32, m: u32) -> vec4<f32> {
    {{GET}}
}

fn load_quad(c0: u32, r: Quad) -> mat4x4<f32> {
    let i = (r.n * C + c0) * P.plane + r.e0;
    var t = mat4x4<f32>();
    t[0] = load4(i, r.m);
    if (c0 + 1u < C) {
        t[1] = load4(i + P.plane, r.m);
    }
    if (c0 + 2u < C) {
        t[2] = load4(i + 2u * P.plane, r.m);
    }
    if (c0 + 3u < C) {
        t[3] = load4(i + 3u * P.plane, r.m);
    }
    return transpose(t);
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    P = p;
    let first = first_quad(wid, nwg, lid);
    let n = first.x;
    if (n >= P.n) {
        return;
    }
    let blk = P.base + n * P.stride;
    {{OPS_LOAD}}
    var r = quad_at(n, first.y);
    for (var k = 0u; k < QUADS && r.m > 0u; k++) {
        for (var c0 = 0u; c0 < C; c0 += 4u) {
            var q = load_quad(c0, r);
            {{OPS}}
            if (PARTIALS && c0 == 0u) {
                partials[r.g] = quad_grey(q, r.m);
            }
            store_quad(q, c0, r);
        }
        r = quad_next(r);
    }
}
