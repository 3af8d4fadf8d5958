// 2-D average pooling over NCHW planes: out = sum of the KH x KW window / divisor, where the divisor counts the
// padded window clipped to the padded input (count_include_pad = 1, PyTorch's default) or only in-image pixels
// (count_include_pad = 0).
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) NC x H x W, 2 out: array<f32> (read_write)
//   NC x OH x OW.
// Dispatch: ceil(n / WG) workgroups over Device.grid_1d; n = NC * OH * OW.
// Template: WG.

#include "common/index.wgsl"

struct Params { n: u32, H: u32, W: u32, OH: u32, OW: u32, KH: u32, KW: u32, sh: u32, sw: u32, ph: u32, pw: u32, count_include_pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= p.n) {
        return;
    }
    let ow = i % p.OW;
    let oh = (i / p.OW) % p.OH;
    let nc = i / (p.OW * p.OH);
    let y0 = i32(oh * p.sh) - i32(p.ph);
    let x0 = i32(ow * p.sw) - i32(p.pw);
    let plane = nc * p.H * p.W;
    var acc = 0.0;
    for (var kh = 0u; kh < p.KH; kh++) {
        let y = y0 + i32(kh);
        if (y < 0 || y >= i32(p.H)) { continue; }
        for (var kw = 0u; kw < p.KW; kw++) {
            let x = x0 + i32(kw);
            if (x < 0 || x >= i32(p.W)) { continue; }
            acc += x_in[plane + u32(y) * p.W + u32(x)];
        }
    }
    out[i] = acc / f32(pool_count(y0, x0));
}

// window size used as the divisor (see header)
fn pool_count(y0: i32, x0: i32) -> i32 {
    var ylo = y0; var yhi = y0 + i32(p.KH); var xlo = x0; var xhi = x0 + i32(p.KW);
    if (p.count_include_pad == 1u) {
        yhi = min(yhi, i32(p.H + p.ph)); xhi = min(xhi, i32(p.W + p.pw));
    } else {
        ylo = max(ylo, 0); xlo = max(xlo, 0); yhi = min(yhi, i32(p.H)); xhi = min(xhi, i32(p.W));
    }
    return max(1, (yhi - ylo) * (xhi - xlo));
}
