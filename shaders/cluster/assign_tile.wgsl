// k-means assignment step for CPU adapters (lavapipe: 8-lane subgroups, SwiftShader: 4), fused with the first
// level of the centroid reduction; same results and outputs as assign.wgsl / assign_subgroup.wgsl.
// The scores s[i, j] = |c_j|^2 - 2 x_i . c_j are computed as a GEMM tile: a workgroup is ONE subgroup of SG lanes;
// lane q owns the 4 * C4 clusters 4 C4 q .. 4 C4 (q + 1) - 1 (C4 vec4 column groups) and keeps -2 c^T of them in
// registers (C4 * 4 * D4 vec4, constant indices only: NIR unrolls the small loops over g, t). The workgroup walks
// tiles of TILE = 2 SG points: lane q loads points 2q and 2q + 1 (vec4 rows), every point is handed to all lanes
// with subgroupBroadcast(., constant lane), each lane scores its clusters (4 D4 vec4 FMAs per group) and keeps
// its best (score, index). The 2 SG per-lane bests are reduced across lanes by a transposing butterfly
// (subgroupShuffleXor with masks SG/2 .. 1, each step halving the values a lane holds): lane q ends with the
// winners of its own points 2q, 2q + 1 — ties go to the smaller index, like numpy.argmin. Lane q then writes the
// labels, counts changed labels, adds the EXACT squared distance |x - c|^2 (direct differences against a copy
// of the centers in workgroup memory: no cancellation in the inertia) and adds x to its private cluster sums.
// At the end the lanes' sums are added with subgroupAdd: one partial per workgroup.
// Why (lavapipe, 1M x 16 points, k = 64): 50 ms per pass at load average 2.4, 7.3x less GPU and CPU time than
// assign_subgroup.wgsl in the same process (whose per-lane center array was dynamically indexed: scratch memory).
// Split of the CPU time (variants with parts removed, one process): loading x ~30% (lavapipe loads storage
// buffers lane by lane with a bounds check per component; a textureLoad of the same data measured 3x cheaper),
// scoring + argmin + butterfly ~53% (disassembled: vmulps + vaddps with the centers as stack operands, NIR lowers
// fma; shuffles are in-register), labels + exact distances + sums ~17%.
//
// Bindings: 0 p (uniform Params); 1 x: n x D4 vec4 (zero-padded rows); 2 centers: K x D4; 3 cnorm: K;
//   4 labels: n u32 (read_write: previous labels in, new labels out); 5 part_sums: G x K x D4 (ACCUM);
//   6 part_counts: G x K (ACCUM); 7 part_stats: G x 2 (inertia, changed labels); 8 mindist: n (WRITE_DIST).
//   G counts WORKGROUPS, offset by p.lane0 (data chunks).
// Dispatch: ceil(n / per_wg) workgroups (grid_1d); per_wg is a multiple of TILE.
// Template: SG (4 or 8, the probed subgroup size = the workgroup size), K, C4 = ceil(K / (4 SG)),
//   CBN = 4 C4 D4, D4, KD4 = K D4 (<= workgroup memory / 16 bytes), ACCUM, WRITE_DIST.

enable subgroups;
diagnostic(off, subgroup_uniformity);

#include "common/index.wgsl"

struct Params {
    n: u32,
    per_wg: u32,
    lane0: u32,
    _pad: u32,
}

const K: u32 = {{K}}u;
const D4: u32 = {{D4}}u;
const SG: u32 = {{SG}}u;
const C4: u32 = {{C4}}u;
const TILE: u32 = 2u * SG;
const BIG: f32 = 3.0e38;

#include "cluster/assign_bindings.wgsl"

struct Best {
    s: f32,
    j: u32,
}

alias Row = array<vec4<f32>, D4>;

// this lane's clusters j = 4 (lane C4 + g) + c, c < 4: cb[g * 4 D4 + d] = -2 (c_j[d] for the 4 c), cn[g] = |c_j|^2
var<private> cb: array<vec4<f32>, {{CBN}}>;
var<private> cn: array<vec4<f32>, C4>;
var<private> lane: u32;
var<private> acc: array<vec4<f32>, {{KD4}}>;   // sums of this lane's points per cluster (label-indexed)
var<private> cnt: array<f32, K>;
var<private> inertia: f32;
var<private> changed: f32;

var<workgroup> wcen: array<vec4<f32>, {{KD4}}>;   // the centers, for the exact distances

// the better of two (score, index) pairs: lower score, then lower index
fn better(a: Best, b: Best) -> Best {
    let take = b.s < a.s || (b.s == a.s && b.j < a.j);
    return Best(select(a.s, b.s, take), select(a.j, b.j, take));
}

// this lane's nearest cluster to the point xb (strict < in index order keeps the first of equal scores)
fn nearest(xb: Row) -> Best {
    var best = Best(3.4e38, 0xffffffffu);
    for (var g = 0u; g < C4; g++) {
        var s = cn[g];
        for (var t = 0u; t < D4; t++) {
            let v = xb[t];
            let o = g * 4u * D4 + 4u * t;
            s = fma(vec4<f32>(v.x), cb[o], s);
            s = fma(vec4<f32>(v.y), cb[o + 1u], s);
            s = fma(vec4<f32>(v.z), cb[o + 2u], s);
            s = fma(vec4<f32>(v.w), cb[o + 3u], s);
        }
        let j0 = (lane * C4 + g) * 4u;
        if (s.x < best.s) { best = Best(s.x, j0); }
        if (s.y < best.s) { best = Best(s.y, j0 + 1u); }
        if (s.z < best.s) { best = Best(s.z, j0 + 2u); }
        if (s.w < best.s) { best = Best(s.w, j0 + 3u); }
    }
    return best;
}

// one butterfly step: of the 2 half values, keep the half this lane's bit `mask` selects, send the other half to
// lane ^ mask and merge what comes back. Afterwards v[i] holds the best over lanes ^ (mask..SG/2) for the point
// the kept half stood for.
fn exchange(v: ptr<function, array<Best, 16>>, half: u32, mask: u32) {
    let hi = (lane & mask) != 0u;
    for (var i = 0u; i < half; i++) {
        let a = (*v)[i];
        let b = (*v)[i + half];
        let keep = Best(select(a.s, b.s, hi), select(a.j, b.j, hi));
        let send = Best(select(b.s, a.s, hi), select(b.j, a.j, hi));
        let r = Best(subgroupShuffleXor(send.s, mask), subgroupShuffleXor(send.j, mask));
        (*v)[i] = better(keep, r);
    }
}

// a point row from lane L to every lane (naga needs a constant lane: one function per lane)
fn bc0(r: Row) -> Row { var o: Row; for (var t = 0u; t < D4; t++) { o[t] = subgroupBroadcast(r[t], 0u); } return o; }
fn bc1(r: Row) -> Row { var o: Row; for (var t = 0u; t < D4; t++) { o[t] = subgroupBroadcast(r[t], 1u); } return o; }
fn bc2(r: Row) -> Row { var o: Row; for (var t = 0u; t < D4; t++) { o[t] = subgroupBroadcast(r[t], 2u); } return o; }
fn bc3(r: Row) -> Row { var o: Row; for (var t = 0u; t < D4; t++) { o[t] = subgroupBroadcast(r[t], 3u); } return o; }
fn bc4(r: Row) -> Row { var o: Row; for (var t = 0u; t < D4; t++) { o[t] = subgroupBroadcast(r[t], 4u); } return o; }
fn bc5(r: Row) -> Row { var o: Row; for (var t = 0u; t < D4; t++) { o[t] = subgroupBroadcast(r[t], 5u); } return o; }
fn bc6(r: Row) -> Row { var o: Row; for (var t = 0u; t < D4; t++) { o[t] = subgroupBroadcast(r[t], 6u); } return o; }
fn bc7(r: Row) -> Row { var o: Row; for (var t = 0u; t < D4; t++) { o[t] = subgroupBroadcast(r[t], 7u); } return o; }

// the winner of point i (held by this lane): label, changed count, exact distance, sums
fn account(row: Row, i: u32, label: u32) {
    if (labels[i] != label) {
        changed += 1.0;
    }
    labels[i] = label;
    var e = vec4<f32>(0.0);
    for (var t = 0u; t < D4; t++) {
        let diff = row[t] - wcen[label * D4 + t];
        e = fma(diff, diff, e);
        if ({{ACCUM}}) {
            acc[label * D4 + t] += row[t];
        }
    }
    let dist = e.x + e.y + e.z + e.w;
    inertia += dist;
    cnt[label] += 1.0;
    if ({{WRITE_DIST}}) {
        mindist[i] = dist;
    }
}

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) q: u32) {
    lane = q;
    let w = flat_workgroup(wid, nwg);
    // centers: all of them to workgroup memory, this lane's transposed and scaled by -2 to registers
    for (var m = q; m < K * D4; m += SG) {
        wcen[m] = centers[m];
    }
    for (var g = 0u; g < C4; g++) {
        let j0 = (q * C4 + g) * 4u;
        var norms = vec4<f32>(BIG);
        for (var c = 0u; c < 4u; c++) {
            if (j0 + c < K) {
                norms[c] = cnorm[j0 + c];
            }
        }
        cn[g] = norms;
        for (var t = 0u; t < D4; t++) {
            var m = mat4x4<f32>();
            for (var c = 0u; c < 4u; c++) {
                if (j0 + c < K) {
                    m[c] = -2.0 * centers[(j0 + c) * D4 + t];
                }
            }
            let tm = transpose(m);
            let o = g * 4u * D4 + 4u * t;
            cb[o] = tm[0];
            cb[o + 1u] = tm[1];
            cb[o + 2u] = tm[2];
            cb[o + 3u] = tm[3];
        }
    }
    workgroupBarrier();
    let start = w * p.per_wg;
    let stop = min(start + p.per_wg, p.n);
    for (var base = start; base < stop; base += TILE) {
        let i0 = base + 2u * q;
        var x0: Row;
        var x1: Row;
        let r0 = min(i0, p.n - 1u) * D4;
        let r1 = min(i0 + 1u, p.n - 1u) * D4;
        for (var t = 0u; t < D4; t++) {
            x0[t] = x[r0 + t];
            x1[t] = x[r1 + t];
        }
        var v: array<Best, 16>;   // v[2L + h]: this lane's best for point h of lane L (16 = max TILE)
        v[0] = nearest(bc0(x0));
        v[1] = nearest(bc0(x1));
        v[2] = nearest(bc1(x0));
        v[3] = nearest(bc1(x1));
        v[4] = nearest(bc2(x0));
        v[5] = nearest(bc2(x1));
        v[6] = nearest(bc3(x0));
        v[7] = nearest(bc3(x1));
        if (SG == 8u) {
            v[8] = nearest(bc4(x0));
            v[9] = nearest(bc4(x1));
            v[10] = nearest(bc5(x0));
            v[11] = nearest(bc5(x1));
            v[12] = nearest(bc6(x0));
            v[13] = nearest(bc6(x1));
            v[14] = nearest(bc7(x0));
            v[15] = nearest(bc7(x1));
            exchange(&v, 8u, 4u);
        }
        exchange(&v, 4u, 2u);
        exchange(&v, 2u, 1u);
        if (i0 < stop) {
            account(x0, i0, v[0].j);
        }
        if (i0 + 1u < stop) {
            account(x1, i0 + 1u, v[1].j);
        }
    }
    let g = p.lane0 + w;
    if ({{ACCUM}}) {
        for (var m = 0u; m < K * D4; m++) {
            let s = subgroupAdd(acc[m]);
            if (q == 0u) {
                part_sums[g * K * D4 + m] = s;
            }
        }
        for (var j = 0u; j < K; j++) {
            let c = subgroupAdd(cnt[j]);
            if (q == 0u) {
                part_counts[g * K + j] = c;
            }
        }
    }
    let total_inertia = subgroupAdd(inertia);
    let total_changed = subgroupAdd(changed);
    if (q == 0u) {
        part_stats[2u * g] = total_inertia;
        part_stats[2u * g + 1u] = total_changed;
    }
}
