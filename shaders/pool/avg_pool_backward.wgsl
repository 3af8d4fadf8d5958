// Average-pooling backward: grad_x[nc, ih, iw] = sum over the windows containing the pixel of grad_out / divisor
// (the same divisor as avg_pool.wgsl). A gather: no atomics.
//
// Bindings: 0 p (uniform Params), 1 gy: array<f32> (read) NC x OH x OW, 2 gx: array<f32> (read_write)
//   NC x H x W.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * H * W.
// Template: WG.

#include "common/index.wgsl"

struct Params { n: u32, H: u32, W: u32, OH: u32, OW: u32, KH: u32, KW: u32, sh: u32, sw: u32, ph: u32, pw: u32, count_include_pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;

fn pool_count(y0: i32, x0: i32) -> i32 {
    var ylo = y0; var yhi = y0 + i32(p.KH); var xlo = x0; var xhi = x0 + i32(p.KW);
    if (p.count_include_pad == 1u) {
        yhi = min(yhi, i32(p.H + p.ph)); xhi = min(xhi, i32(p.W + p.pw));
    } else {
        ylo = max(ylo, 0); xlo = max(xlo, 0); yhi = min(yhi, i32(p.H)); xhi = min(xhi, i32(p.W));
    }
    return max(1, (yhi - ylo) * (xhi - xlo));
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let iw = i32(i % p.W);
    let ih = i32((i / p.W) % p.H);
    let nc = i / (p.W * p.H);
    let oh_lo = max(0, (ih + i32(p.ph) - i32(p.KH) + i32(p.sh)) / i32(p.sh));
    let oh_hi = min(i32(p.OH) - 1, (ih + i32(p.ph)) / i32(p.sh));
    let ow_lo = max(0, (iw + i32(p.pw) - i32(p.KW) + i32(p.sw)) / i32(p.sw));
    let ow_hi = min(i32(p.OW) - 1, (iw + i32(p.pw)) / i32(p.sw));
    let base = nc * p.OH * p.OW;
    var acc = 0.0;
    for (var oh = oh_lo; oh <= oh_hi; oh++) {
        for (var ow = ow_lo; ow <= ow_hi; ow++) {
            let cnt = pool_count(oh * i32(p.sh) - i32(p.ph), ow * i32(p.sw) - i32(p.pw));
            acc += gy[base + u32(oh) * p.OW + u32(ow)] / f32(cnt);
        }
    }
    gx[i] = acc;
}
