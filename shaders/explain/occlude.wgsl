// Occluded copies of one image: out[k, c, y, x] = fill inside the patch x patch square whose top-left corner
// is corners[k] = (y0, x0), else image[0, c, y, x]. Builds a whole occlusion-sensitivity batch on the device.
//
// Bindings: 0 p (uniform Params), 1 image: array<f32> (read) 1 x C x H x W, 2 corners: array<i32> (read)
//   2 per copy (y0, x0), 3 out: array<f32> (read_write) P x C x H x W.
// Dispatch: ceil(P * C * H * W / WG) workgroups, split over (x, y) by Device.grid_1d.

#include "common/index.wgsl"

struct Params {
    n: u32,
    channels: u32,
    height: u32,
    width: u32,
    patch_size: u32,
    fill: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<storage, read> corners: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let plane = p.height * p.width;
    let per_copy = p.channels * plane;
    let k = i / per_copy;
    let within = i % per_copy;
    let y = (within % plane) / p.width;
    let x = within % p.width;
    let y0 = u32(corners[2u * k]);
    let x0 = u32(corners[2u * k + 1u]);
    let inside = y >= y0 && y < y0 + p.patch_size && x >= x0 && x < x0 + p.patch_size;
    out[i] = select(image[within], p.fill, inside);
}
