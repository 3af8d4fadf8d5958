// k-means assignment step for CPU adapters (lavapipe, SwiftShader), fused with the first level of the centroid
// reduction. Since assign_tile.wgsl (3-7x faster where it applies), the fallback for d > 16 or more centers per
// lane than assign_tile.wgsl keeps in registers, and for subgroup sizes other than 4 and 8 (GPUEngine._kind).
// Same results and outputs as assign.wgsl, different shape: the CENTERS stay in registers and the points stream
// through. A workgroup is one subgroup of SG lanes (SG = 8 on lavapipe, 4 on SwiftShader, probed
// at run time); lane q keeps centers q, q + SG, q + 2 SG, ... (KL = ceil(K / SG) of them, D4 vec4 each) in
// private memory for the whole dispatch. For each SG points, lane q loads point q once (D4 vec4 loads), every
// point is handed to all lanes with subgroupShuffle, each lane scores its KL centers, and subgroupMin picks the
// nearest (score, then smallest index: numpy.argmin's tie rule). The owner lane of the winning center adds the
// point to its private sums (a lane-uniform index: no atomics, no races).
// Why: on lavapipe a storage load costs ~50 FMAs and loads at lane-uniform addresses are not scalarised, so
// assign.wgsl's center loads (K * (D4 + 1) per point) dominate: 1M x 16, K = 64 took ~900 ms per pass; this
// shape loads each point once: ~300 ms. The rest is lavapipe keeping the dynamically indexed private center
// array in scratch memory (NIR does not unroll the K x D4 loop), not FMAs: the 43 ms of scikit-learn is not
// reached (see benchmarks/RESULTS.md).
//
// Bindings: as assign.wgsl (1 x, 2 centers, 3 cnorm, 4 labels, 5 part_sums G x K x D4, 6 part_counts G x K,
//   7 part_stats G x 2, 8 mindist), but G counts WORKGROUPS (one partial per subgroup), offset by p.lane0.
// Dispatch: ceil(n / per_wg) workgroups (grid_1d); per_wg is a multiple of SG.
// Template: SG (the probed subgroup size; the workgroup is one subgroup), K, KL = ceil(K / SG), D4, ACCUM, WRITE_DIST.

enable subgroups;

#include "common/index.wgsl"

struct Params {
    n: u32,
    per_wg: u32,
    lane0: u32,
    _pad: u32,
}

const K: u32 = {{K}}u;
const KL: u32 = {{KL}}u;
const D4: u32 = {{D4}}u;
const BIG: f32 = 3.0e38;

#include "cluster/assign_bindings.wgsl"

var<private> acc: array<vec4<f32>, {{KLD4}}>;   // sums of the points assigned to this lane's centers
var<private> cnt: array<f32, KL>;
var<private> inertia: f32;

@compute @workgroup_size({{SG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) q: u32) {
    let w = flat_workgroup(wid, nwg);
    var lcen: array<vec4<f32>, {{KLD4}}>;
    var lcn: array<f32, KL>;
    for (var m = 0u; m < KL; m++) {
        let j = m * {{SG}}u + q;
        if (j < K) {
            for (var i = 0u; i < D4; i++) {
                lcen[m * D4 + i] = centers[j * D4 + i];
            }
            lcn[m] = cnorm[j];
        } else {
            lcn[m] = BIG;
        }
    }
    var changed = 0.0;
    let start = w * p.per_wg;
    let stop = min(start + p.per_wg, p.n);
    for (var base = start; base < stop; base += {{SG}}u) {   // uniform loop: every lane takes every step
        let i = base + q;
        let valid = u32(i < stop);
        let ii = min(i, p.n - 1u);
        var xq: array<vec4<f32>, D4>;
        for (var t = 0u; t < D4; t++) {
            xq[t] = x[ii * D4 + t];
        }
        var label = 0u;
        for (var r = 0u; r < {{SG}}u; r++) {
            var xb: array<vec4<f32>, D4>;
            for (var t = 0u; t < D4; t++) { xb[t] = subgroupShuffle(xq[t], r); }
            var bs = 3.4e38;
            var bm = 0u;
            for (var m = 0u; m < KL; m++) {
                var s = vec4<f32>(0.0);
                for (var t = 0u; t < D4; t++) {
                    s = fma(xb[t], lcen[m * D4 + t], s);
                }
                let score = lcn[m] - 2.0 * (s.x + s.y + s.z + s.w);
                if (score < bs) {
                    bs = score;
                    bm = m;
                }
            }
            let lowest = subgroupMin(bs);
            let best = subgroupMin(select(0xffffffffu, bm * {{SG}}u + q, bs == lowest));
            let ok = subgroupShuffle(valid, r) != 0u;
            if (ok && best % {{SG}}u == q) {
                let mm = best / {{SG}}u;
                var e = vec4<f32>(0.0);
                for (var t = 0u; t < D4; t++) {
                    let diff = xb[t] - lcen[mm * D4 + t];
                    e = fma(diff, diff, e);
                    if ({{ACCUM}}) {
                        acc[mm * D4 + t] += xb[t];
                    }
                }
                inertia += e.x + e.y + e.z + e.w;
                cnt[mm] += 1.0;
            }
            if (q == r) { label = best; }
        }
        if (valid != 0u) {
            if (labels[i] != label) {
                changed += 1.0;
            }
            labels[i] = label;
        }
    }
    if ({{WRITE_DIST}}) {
        // second pass for the distances of this workgroup's points (used only on the rare empty-cluster path)
        for (var base = start; base < stop; base += {{SG}}u) {
            let i = base + q;
            if (i < stop) {
                let j = labels[i];
                var e = vec4<f32>(0.0);
                for (var t = 0u; t < D4; t++) {
                    let diff = x[i * D4 + t] - centers[j * D4 + t];
                    e = fma(diff, diff, e);
                }
                mindist[i] = e.x + e.y + e.z + e.w;
            }
        }
    }
    let g = p.lane0 + w;
    if ({{ACCUM}}) {
        for (var m = 0u; m < KL; m++) {
            let j = m * {{SG}}u + q;
            if (j < K) {
                for (var i = 0u; i < D4; i++) {
                    part_sums[(g * K + j) * D4 + i] = acc[m * D4 + i];
                }
                part_counts[g * K + j] = cnt[m];
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
