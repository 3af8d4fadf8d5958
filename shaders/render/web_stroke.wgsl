// Digit-pad ink (web page): adds pen segments to a H x W float ink image, ink = max(ink, coverage) where the
// coverage of a pixel centre is a soft disc-swept segment of radius r (1 inside, 0 beyond r + 1 pixel).
//
// Bindings: 0 p (uniform Params), 1 segs: array<vec4<f32>> (read) n_segs segments (x0, y0, x1, y1) in ink
//   pixels, 2 ink: array<f32> (read_write) H x W, row-major.
// Dispatch: ceil(H * W / WG) workgroups, split over (x, y) by Device.grid_1d.
// Why this shape: one invocation per pixel looping over the (few, < 64) segments of one pointer batch keeps
// the whole stroke update one dispatch; ink stays on the device, where the pad canvas draws it from.

#include "common/index.wgsl"

struct Params {
    n_segs: u32,
    height: u32,
    width: u32,
    radius: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> segs: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> ink: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.height * p.width) {
        return;
    }
    let q = vec2<f32>(f32(i % p.width) + 0.5, f32(i / p.width) + 0.5);
    var best = ink[i];
    for (var s = 0u; s < p.n_segs; s++) {
        let seg = segs[s];
        let a = seg.xy;
        let d = seg.zw - a;
        let len2 = dot(d, d);
        var t = 0.0;
        if (len2 > 0.0) {
            t = clamp(dot(q - a, d) / len2, 0.0, 1.0);
        }
        let dist = length(q - (a + t * d));
        best = max(best, clamp(p.radius + 0.5 - dist, 0.0, 1.0));
    }
    ink[i] = best;
}
