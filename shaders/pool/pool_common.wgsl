// Shared part of the pooling kernels (pool/*.wgsl): the uniform, the invocation index, and the window geometry
// (forward windows, tiled windows, the windows over an input pixel, the average divisor). Included once per
// kernel; {{WG}} comes from the including kernel's template values. Each kernel declares its storage bindings.
//
// Binding 0 p (uniform Params): n invocations, input H x W, output OH x OW, window KH x KW, stride sh, sw,
//   padding ph, pw; count_include_pad only matters to the average kernels (the max ones get 0).

#include "common/index.wgsl"

struct Params {
    n: u32, H: u32, W: u32, OH: u32, OW: u32, KH: u32, KW: u32, sh: u32, sw: u32, ph: u32, pw: u32,
    count_include_pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn invocation(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return flat_workgroup(wid, nwg) * {{WG}}u + lid;
}

// the window of output i = (nc, oh, ow): offset of its input plane and top-left corner (may lie in the padding)
struct Window { plane: u32, y0: i32, x0: i32 }

fn window(i: u32) -> Window {
    let ow = i % p.OW;
    let oh = (i / p.OW) % p.OH;
    let nc = i / (p.OW * p.OH);
    return Window(nc * p.H * p.W, i32(oh * p.sh) - i32(p.ph), i32(ow * p.sw) - i32(p.pw));
}

// the window of output i when the windows tile the input exactly (stride = kernel, no padding, H = OH*KH,
// W = OW*KW): offset of its input plane and its top-left corner
struct Tile { plane: u32, y0: u32, x0: u32 }

fn tile(i: u32) -> Tile {
    let r = i / p.OW;                           // nc * OH + oh
    return Tile((r / p.OH) * p.H * p.W, (r % p.OH) * p.KH, (i % p.OW) * p.KW);
}

// the windows (oh_lo..oh_hi) x (ow_lo..ow_hi) that contain input pixel i = (nc, ih, iw), i.e.
// oh*sh - ph <= ih <= oh*sh - ph + KH - 1; base = offset of the output plane
struct Over { base: u32, ih: i32, iw: i32, oh_lo: i32, oh_hi: i32, ow_lo: i32, ow_hi: i32 }

fn windows_over(i: u32) -> Over {
    let iw = i32(i % p.W);
    let ih = i32((i / p.W) % p.H);
    let nc = i / (p.W * p.H);
    let oh_lo = max(0, (ih + i32(p.ph) - i32(p.KH) + i32(p.sh)) / i32(p.sh));
    let oh_hi = min(i32(p.OH) - 1, (ih + i32(p.ph)) / i32(p.sh));
    let ow_lo = max(0, (iw + i32(p.pw) - i32(p.KW) + i32(p.sw)) / i32(p.sw));
    let ow_hi = min(i32(p.OW) - 1, (iw + i32(p.pw)) / i32(p.sw));
    return Over(nc * p.OH * p.OW, ih, iw, oh_lo, oh_hi, ow_lo, ow_hi);
}

// input row y / column x inside the image
fn inside_h(y: i32) -> bool {
    return y >= 0 && y < i32(p.H);
}

fn inside_w(x: i32) -> bool {
    return x >= 0 && x < i32(p.W);
}

// average-pool divisor of the window with corner (y0, x0): the padded window clipped to the padded input
// (count_include_pad = 1, PyTorch's default) or only its in-image pixels (count_include_pad = 0)
fn pool_count(y0: i32, x0: i32) -> i32 {
    var ylo = y0; var yhi = y0 + i32(p.KH); var xlo = x0; var xhi = x0 + i32(p.KW);
    if (p.count_include_pad == 1u) {
        yhi = min(yhi, i32(p.H + p.ph)); xhi = min(xhi, i32(p.W + p.pw));
    } else {
        ylo = max(ylo, 0); xlo = max(xlo, 0); yhi = min(yhi, i32(p.H)); xhi = min(xhi, i32(p.W));
    }
    return max(1, (yhi - ylo) * (xhi - xlo));
}
