// Weight and bias gradients of a convolution with one group, horizontal stride and dilation 1, KW <= 5 and
// OC <= 16, for CPU adapters with subgroups (LeNet conv1 and conv2): part[s, oc, k] = the sum over the output rows
// of chunk s of sum_ow dY[n, oc, oh, ow] * x[n, c, oh*sh - ph + kh*dh, ow - pw + kw], k = (c * KH + kh) * KW + kw;
// part[s, oc, K] = the chunk's sum of dY (bias). Same layout as conv/grad_w.wgsl with OCg16 = OC; summed over s by
// conv/grad_w_finish.wgsl.
//
// Bindings: 0 p (uniform Params), 1 x_in: array<f32> (read) N x C x H x W, 2 dy: array<f32> (read)
//   N x OC x OH x OW, 3 dy4: array<vec4<f32>> (read) the same buffer as dy (read only when ALIGNED),
//   4 part: array<f32> (read_write) S x OC x KB (KB = K + 1 rounded up to 4).
// Dispatch: (S, ceil((C * KH + 1) / 8), 1) workgroups of 8: lane t of row group y owns kernel row (c, kh) =
//   y * 8 + t of all OC channels (row C * KH is the bias, an all-ones input window); chunk s sums R output rows.
// Template: LANES (8: subgroups of >= 8 lanes with lane = local index; 4: any subgroup of >= 4 lanes, SwiftShader),
//   ALIGNED (true when OW % 4 == 0: the dY quads are vec4 loads).
// Why (lavapipe, where a per-lane storage load costs ~50 FMAs): per 4 pixels of a row a lane loads the 8-value
// input window that covers its kernel row's 4 x 5 pixel-by-tap block and one or two dY quads (lane q: channels q,
// q + 8; with LANES 4: q, q + 4, q + 8, q + 12), which reach every lane through subgroupBroadcast from constant
// lanes. Interleaved A/B on loaded lavapipe, process CPU per call with grad_w_finish: LeNet conv2 N=64 4.4 -> 2.8
// ms (conv/grad_w.wgsl), conv1 3.0 -> 2.6 ms (conv/grad_w_rows.wgsl). The accumulators are named variables:
// as a private array (constant indices) they stayed in scratch memory, ~2x slower; a run-time 4/8-lane branch in
// one shader cost another ~1.8x (registers), hence the template.

enable subgroups;
// the broadcasts run in row loops bounded per workgroup, which Tint cannot prove subgroup-uniform
diagnostic(off, subgroup_uniformity);

struct Params {
    R: u32, rows: u32, C: u32, H: u32, W: u32, OC: u32, KH: u32, KW: u32,
    K: u32, KB: u32, OH: u32, OW: u32, OWq: u32, sh: u32, ph: u32, pw: u32,
    dh: u32, CK: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;

// loop bounds through workgroupUniformLoad: lavapipe re-specializes a shader per dispatch for small loops
// bounded by inlined uniforms (docs/ENGINEERING.md, Measuring)
var<workgroup> bound_q: u32;

const LANES: u32 = {{LANES}}u;
const ALIGNED: bool = {{ALIGNED}};

// The 8-value input window x[0..7] of a quad as the rows the 4 pixels read: w.i = x[i..i+3] (taps 0..3 of pixel
// i), t4 = x[4..7] (tap 4 of each pixel). Rows of pixels past OW are zero: their dY is 0, and 0 * a NaN/Inf input
// outside every receptive field of the tap would reach the gradient.
struct Win { s0: vec4<f32>, s1: vec4<f32>, s2: vec4<f32>, s3: vec4<f32>, t4: vec4<f32> }

fn window(a: vec4<f32>, b: vec4<f32>, ow0: u32) -> Win {
    let live = vec4<u32>(ow0) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.OW);
    if (all(live)) {
        return Win(a, vec4<f32>(a.yzw, b.x), vec4<f32>(a.zw, b.xy), vec4<f32>(a.w, b.xyz), b);
    }
    let z = vec4<f32>();
    return Win(a, select(z, vec4<f32>(a.yzw, b.x), live.y), select(z, vec4<f32>(a.zw, b.xy), live.z),
               select(z, vec4<f32>(a.w, b.xyz), live.w), select(z, b, live));
}

// 4 pixels (dY d) times the window's taps 0..3 (pixel i, tap j reads x[i + j]); tap 4 is dot(d, w.t4)
fn tap(w: Win, d: vec4<f32>) -> vec4<f32> {
    return d.x * w.s0 + d.y * w.s1 + d.z * w.s2 + d.w * w.s3;
}

// Accumulators are separate variables passed by pointer, not an array (see the header).
// Channels r..r+3 take the dY quads of lanes k0..k0+3 (constant): taps 0..3 into l0..l3, tap 4 into h.
fn bc4(l0: ptr<function, vec4<f32>>, l1: ptr<function, vec4<f32>>, l2: ptr<function, vec4<f32>>,
       l3: ptr<function, vec4<f32>>, h: ptr<function, vec4<f32>>, w: Win,
       d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>) {
    *l0 += tap(w, d0);
    *l1 += tap(w, d1);
    *l2 += tap(w, d2);
    *l3 += tap(w, d3);
    *h += vec4<f32>(dot(d0, w.t4), dot(d1, w.t4), dot(d2, w.t4), dot(d3, w.t4));
}

// dY[n, oc, oh, ow0..ow0+3] (zero past OW and for oc >= OC); o = the element index of ow0
fn dquad(oc: u32, o: u32, ow0: u32) -> vec4<f32> {
    if (oc >= p.OC) {
        return vec4<f32>();
    }
    if (ALIGNED) {
        return dy4[o / 4u];
    }
    let last = p.OW - 1u;
    return vec4<f32>(dy[o], select(0.0, dy[o + min(1u, last - ow0)], ow0 + 1u <= last),
                     select(0.0, dy[o + min(2u, last - ow0)], ow0 + 2u <= last),
                     select(0.0, dy[o + min(3u, last - ow0)], ow0 + 3u <= last));
}

fn ld(row: i32, ix: i32, ok: bool) -> f32 {
    let in = ok && ix >= 0 && ix < i32(p.W);
    return select(0.0, x_in[select(0, row + ix, in)], in);
}

// channel r's KW taps (l = taps 0..3, h = tap 4) into part, or its bias from the bias lane
fn store(l: vec4<f32>, h: f32, r: u32, base: u32, t: u32, is_bias: bool) {
    if (r >= p.OC) {
        return;
    }
    let o = base + r * p.KB;
    if (is_bias) {
        part[o + p.K] = l.x;
        return;
    }
    let k0 = o + t * p.KW;
    part[k0] = l.x;
    if (p.KW > 1u) { part[k0 + 1u] = l.y; }
    if (p.KW > 2u) { part[k0 + 2u] = l.z; }
    if (p.KW > 3u) { part[k0 + 3u] = l.w; }
    if (p.KW > 4u) { part[k0 + 4u] = h; }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    if (li == 0u) {
        bound_q = p.OWq;
    }
    let OWq = workgroupUniformLoad(&bound_q);
    let s = wg.x;
    let t = wg.y * 8u + li;                      // kernel row (c, kh); CK = the bias row
    let real = t < p.CK;
    let is_bias = t == p.CK;
    let one = select(0.0, 1.0, is_bias);
    let tt = min(t, p.CK - 1u);
    let kh = tt % p.KH;
    let c = tt / p.KH;
    let fast = LANES == 8u;
    let q = li % LANES;                          // dY channels this lane loads: q, q + 8 or q, q + 4, q + 8, q + 12
    let plane_d = p.OH * p.OW;
    var l0 = vec4<f32>(); var l1 = vec4<f32>(); var l2 = vec4<f32>(); var l3 = vec4<f32>();
    var l4 = vec4<f32>(); var l5 = vec4<f32>(); var l6 = vec4<f32>(); var l7 = vec4<f32>();
    var l8 = vec4<f32>(); var l9 = vec4<f32>(); var l10 = vec4<f32>(); var l11 = vec4<f32>();
    var l12 = vec4<f32>(); var l13 = vec4<f32>(); var l14 = vec4<f32>(); var l15 = vec4<f32>();
    var h0 = vec4<f32>(); var h1 = vec4<f32>(); var h2 = vec4<f32>(); var h3 = vec4<f32>();
    let r0 = s * p.R;
    let r1 = min(r0 + p.R, p.rows);
    var n = r0 / p.OH;
    var oh = r0 % p.OH;
    for (var rr = r0; rr < r1; rr++) {
        let ih = i32(oh * p.sh + kh * p.dh) - i32(p.ph);
        let ok = real && ih >= 0 && ih < i32(p.H);
        let xrow = i32(((n * p.C + c) * p.H) * p.W) + ih * i32(p.W);
        let drow = n * p.OC * plane_d + oh * p.OW;
        for (var wq = 0u; wq < OWq; wq++) {
            let ow0 = wq * 4u;
            let ix = i32(ow0) - i32(p.pw);
            let a = vec4<f32>(ld(xrow, ix, ok), ld(xrow, ix + 1, ok), ld(xrow, ix + 2, ok), ld(xrow, ix + 3, ok))
                + vec4<f32>(one);
            let b = vec4<f32>(ld(xrow, ix + 4, ok), ld(xrow, ix + 5, ok), ld(xrow, ix + 6, ok), ld(xrow, ix + 7, ok))
                + vec4<f32>(one);
            let win = window(a, b, ow0);
            let o = drow + ow0;
            if (fast) {
                let d = dquad(q, o + q * plane_d, ow0);
                bc4(&l0, &l1, &l2, &l3, &h0, win, subgroupBroadcast(d, 0u), subgroupBroadcast(d, 1u),
                    subgroupBroadcast(d, 2u), subgroupBroadcast(d, 3u));
                bc4(&l4, &l5, &l6, &l7, &h1, win, subgroupBroadcast(d, 4u), subgroupBroadcast(d, 5u),
                    subgroupBroadcast(d, 6u), subgroupBroadcast(d, 7u));
                if (p.OC > 8u) {
                    let e = dquad(q + 8u, o + (q + 8u) * plane_d, ow0);
                    bc4(&l8, &l9, &l10, &l11, &h2, win, subgroupBroadcast(e, 0u), subgroupBroadcast(e, 1u),
                        subgroupBroadcast(e, 2u), subgroupBroadcast(e, 3u));
                    bc4(&l12, &l13, &l14, &l15, &h3, win, subgroupBroadcast(e, 4u), subgroupBroadcast(e, 5u),
                        subgroupBroadcast(e, 6u), subgroupBroadcast(e, 7u));
                }
            } else {
                let d = dquad(q, o + q * plane_d, ow0);
                bc4(&l0, &l1, &l2, &l3, &h0, win, subgroupBroadcast(d, 0u), subgroupBroadcast(d, 1u),
                    subgroupBroadcast(d, 2u), subgroupBroadcast(d, 3u));
                let e = dquad(q + 4u, o + (q + 4u) * plane_d, ow0);
                bc4(&l4, &l5, &l6, &l7, &h1, win, subgroupBroadcast(e, 0u), subgroupBroadcast(e, 1u),
                    subgroupBroadcast(e, 2u), subgroupBroadcast(e, 3u));
                if (p.OC > 8u) {
                    let f = dquad(q + 8u, o + (q + 8u) * plane_d, ow0);
                    bc4(&l8, &l9, &l10, &l11, &h2, win, subgroupBroadcast(f, 0u), subgroupBroadcast(f, 1u),
                        subgroupBroadcast(f, 2u), subgroupBroadcast(f, 3u));
                    let g = dquad(q + 12u, o + (q + 12u) * plane_d, ow0);
                    bc4(&l12, &l13, &l14, &l15, &h3, win, subgroupBroadcast(g, 0u), subgroupBroadcast(g, 1u),
                        subgroupBroadcast(g, 2u), subgroupBroadcast(g, 3u));
                }
            }
        }
        oh++;
        if (oh == p.OH) { oh = 0u; n++; }
    }
    if (!real && !is_bias) {
        return;
    }
    let base = s * p.OC * p.KB;
    store(l0, h0.x, 0u, base, t, is_bias); store(l1, h0.y, 1u, base, t, is_bias);
    store(l2, h0.z, 2u, base, t, is_bias); store(l3, h0.w, 3u, base, t, is_bias);
    store(l4, h1.x, 4u, base, t, is_bias); store(l5, h1.y, 5u, base, t, is_bias);
    store(l6, h1.z, 6u, base, t, is_bias); store(l7, h1.w, 7u, base, t, is_bias);
    store(l8, h2.x, 8u, base, t, is_bias); store(l9, h2.y, 9u, base, t, is_bias);
    store(l10, h2.z, 10u, base, t, is_bias); store(l11, h2.w, 11u, base, t, is_bias);
    store(l12, h3.x, 12u, base, t, is_bias); store(l13, h3.y, 13u, base, t, is_bias);
    store(l14, h3.z, 14u, base, t, is_bias); store(l15, h3.w, 15u, base, t, is_bias);
}
