// Shared index helpers. Large 1-D problems are dispatched as a 2-D grid of workgroups (x, y) because each
// grid dimension is limited (65535); `flat_workgroup` undoes that split.

fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}
