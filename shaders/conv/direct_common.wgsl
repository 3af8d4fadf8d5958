// Shared part of the register-blocked direct convolution kernels (conv/direct.wgsl, conv/direct8x16.wgsl): the
// uniform, the bindings, weight staging in workgroup memory, the invocation's place in the output, input loads
// with zero padding, and the bias/ReLU/store epilogue helpers. Included once per kernel; {{WG}} comes from the
// including kernel's template values.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 wp: array<vec4<f32>> (read)
//   G*OCB x Cg x KH*KW (conv/direct_wpack.wgsl: one vec4 of 4 output channels per tap),
//   3 bias: array<f32> (read) OC (ignored unless has_bias = 1), 4 out: array<f32> (read_write) N x OC x OH x OW.
// Invocation order: i = ((n * G * OCB / NB + channel block) * OH + oh) * OWB + owb, NB = 4-channel weight blocks
//   per invocation, so lanes run along output pixels (adjacent lanes read adjacent inputs).

#include "common/index.wgsl"
#include "common/nan.wgsl"

struct Params {
    n: u32, C: u32, H: u32, W: u32, Cg: u32, OCg: u32, OC: u32, KH: u32,
    KW: u32, OH: u32, OW: u32, OCB: u32, OWB: u32, G: u32, sh: u32, sw: u32,
    ph: u32, pw: u32, dh: u32, dw: u32, has_bias: u32, relu: u32, wsh_max: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// the workgroup's packed weights, staged once when all its invocations share one channel block (see stage_weights)
var<workgroup> wsh: array<vec4<f32>, 1024>;
var<private> use_sh: bool;
var<private> wbase: u32;

// Stage the weights in workgroup memory (a workgroup load is ~2x cheaper than a storage load on lavapipe) when
// every invocation of the workgroup uses the same nb weight block(s): one channel block per group and G == 1, or
// the workgroup lies within one (image, block) run of OH * OWB invocations. wsh_max = 0 turns this off.
// Every invocation of the workgroup must call it (it ends with a barrier); nb is a constant at each call site.
fn stage_weights(wg0: u32, lid: u32, nb: u32) {
    let run = p.OH * p.OWB;
    let nbt = p.G * p.OCB / nb;
    let r_first = wg0 / run;
    let r_last = (min(wg0 + {{WG}}u, p.n) - 1u) / run;
    let span = nb * p.Cg * p.KH * p.KW;
    use_sh = (nbt == 1u || r_first == r_last) && span <= p.wsh_max;
    if (use_sh) {
        let bf = r_first % nbt;
        wbase = ((bf / (p.OCB / nb)) * p.OCB + (bf % (p.OCB / nb)) * nb) * p.Cg * p.KH * p.KW;
        for (var k = lid; k < span; k += {{WG}}u) {
            wsh[k] = wp[wbase + k];
        }
    }
    workgroupBarrier();
}

fn wload(t: u32) -> vec4<f32> {
    if (use_sh) {
        return wsh[t - wbase];
    }
    return wp[t];
}

// where invocation i works: image n, group g, first weight block blk (of nb), first channel o0 within the group,
// output row oh, first output column ow0 (of px)
struct Place { n: u32, g: u32, blk: u32, o0: u32, oh: u32, ow0: u32 }

fn place(i: u32, nb: u32, px: u32) -> Place {
    let owb = i % p.OWB;
    var r = i / p.OWB;
    let oh = r % p.OH;
    r = r / p.OH;
    let nbg = p.OCB / nb;                       // invocations along the channels of one group
    let b = r % (p.G * nbg);
    let g = b / nbg;
    return Place(r / (p.G * nbg), g, g * p.OCB + (b % nbg) * nb, (b % nbg) * 4u * nb, oh, owb * px);
}

// input at column iw of row offset xrow, 0 outside the image (clamped address, no divergent branch)
fn ld(xrow: u32, iw: i32) -> f32 {
    let W = i32(p.W);
    return select(0.0, x_in[xrow + u32(clamp(iw, 0, W - 1))], iw >= 0 && iw < W);
}

// offset of input row ih of channel c (within group g) of image n; ih must lie inside the image
fn xrow_of(n: u32, g: u32, c: u32, ih: i32) -> u32 {
    return ((n * p.C + g * p.Cg + c) * p.H + u32(ih)) * p.W;
}

fn row_inside(ih: i32) -> bool {
    return ih >= 0 && ih < i32(p.H);
}

// output channels o0 .. o0 + 3 of group g, clamped to the group: junk channels are computed, never stored
fn chans4(g: u32, o0: u32) -> vec4<u32> {
    let last = p.OCg - 1u;
    return vec4<u32>(g * p.OCg) + vec4<u32>(min(o0, last), min(o0 + 1u, last), min(o0 + 2u, last), min(o0 + 3u, last));
}

// bias, then ReLU if asked; a NaN stays NaN (numpy's maximum; common/nan.wgsl)
fn finish(v: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return select(v + b, max_nan4(v + b, vec4<f32>(0.0)), p.relu == 1u);
}

// bias of 4 channels, loaded once per invocation (0 without bias)
fn bias4(oc: vec4<u32>) -> vec4<f32> {
    if (p.has_bias == 1u) {
        return vec4<f32>(bias[oc.x], bias[oc.y], bias[oc.z], bias[oc.w]);
    }
    return vec4<f32>();
}

fn store4(base: u32, plane: u32, o0: u32, oc: vec4<u32>, v: vec4<f32>) {
    if (o0 < p.OCg) { out[base + oc.x * plane] = v.x; }
    if (o0 + 1u < p.OCg) { out[base + oc.y * plane] = v.y; }
    if (o0 + 2u < p.OCg) { out[base + oc.z * plane] = v.z; }
    if (o0 + 3u < p.OCg) { out[base + oc.w * plane] = v.w; }
}
