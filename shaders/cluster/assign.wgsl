// k-means assignment step, fused with the partial sums of the centroid update (Lloyd's E- and half the M-step).
// For each point: label = argmin_j (|c_j|^2 - 2 x.c_j) (first index on ties, as numpy.argmin), its exact squared
// distance |x - c_label|^2 (direct differences: no cancellation in the inertia), whether the label changed
// (strict convergence), and, when ACCUM, adds x to a per-invocation accumulator of its cluster.
//
// Bindings: 0 p (uniform Params); 1 x: array<vec4<f32>> n x D4 (zero-padded rows); 2 centers: K x D4;
//   3 cnorm: K (|c_j|^2); 4 labels: n u32 (read_write: previous labels in, new labels out; 0xffffffff = none);
//   5 part_sums: G x K x D4, 6 part_counts: G x K, 7 part_stats: G x 2 (inertia, changed labels);
//   8 mindist: n (|x - c_label|^2, written when WRITE_DIST).  G = lanes in the grid, offset by p.lane0.
// Dispatch: ceil(n / (WG * per_lane)) workgroups (grid_1d). Lane l of workgroup w handles points
//   w * WG * per_lane + l + WG * t, t < per_lane (adjacent lanes on adjacent points).
// Template: WG, K, D4 (vec4s per row), ACCUM, WRITE_DIST.
//
// Why this shape (lavapipe, a storage load ~ 50 FMAs): the reduction is a two-level segmented one without
// atomics (WGSL has no float atomics; a CAS loop or fixed-point atomics would be slower or lossy): each
// invocation keeps private sums for all K clusters over its per_lane points, the data already in registers
// (no second pass over x), then update.wgsl sums the G partials per (cluster, column). The centers are
// read at lane-uniform addresses inside the k loop; the distance loop is K * D4 vec4 FMAs per point.

#include "common/index.wgsl"

struct Params {
    n: u32,
    per_lane: u32,
    lane0: u32,
    _pad: u32,
}

const K: u32 = {{K}}u;
const D4: u32 = {{D4}}u;
const NONE: u32 = 0xffffffffu;

#include "cluster/assign_bindings.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = flat_workgroup(wid, nwg);
    let lane = p.lane0 + w * {{WG}}u + lid;
    var acc: array<vec4<f32>, {{KD4}}>;
    var cnt: array<f32, K>;
    var inertia = 0.0;
    var changed = 0.0;
    let first = w * {{WG}}u * p.per_lane + lid;
    for (var t = 0u; t < p.per_lane; t++) {
        let i = first + t * {{WG}}u;
        if (i >= p.n) {
            break;
        }
        var xv: array<vec4<f32>, D4>;
        for (var q = 0u; q < D4; q++) {
            xv[q] = x[i * D4 + q];
        }
        var best = 0u;
        var best_score = 3.4e38;
        for (var j = 0u; j < K; j++) {
            var s = vec4<f32>(0.0);
            for (var q = 0u; q < D4; q++) {
                s = fma(xv[q], centers[j * D4 + q], s);
            }
            let score = cnorm[j] - 2.0 * (s.x + s.y + s.z + s.w);
            if (score < best_score) {
                best_score = score;
                best = j;
            }
        }
        var e = vec4<f32>(0.0);
        for (var q = 0u; q < D4; q++) {
            let diff = xv[q] - centers[best * D4 + q];
            e = fma(diff, diff, e);
        }
        let dist = e.x + e.y + e.z + e.w;
        inertia += dist;
        if (labels[i] != best) {
            changed += 1.0;
        }
        labels[i] = best;
        if ({{WRITE_DIST}}) {
            mindist[i] = dist;
        }
        if ({{ACCUM}}) {
            for (var q = 0u; q < D4; q++) {
                acc[best * D4 + q] += xv[q];
            }
            cnt[best] += 1.0;
        }
    }
    if ({{ACCUM}}) {
        for (var m = 0u; m < K * D4; m++) {
            part_sums[lane * K * D4 + m] = acc[m];
        }
        for (var j = 0u; j < K; j++) {
            part_counts[lane * K + j] = cnt[j];
        }
    }
    part_stats[2u * lane] = inertia;
    part_stats[2u * lane + 1u] = changed;
}
