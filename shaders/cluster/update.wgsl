// k-means centroid update: the second level of the segmented reduction started in assign.wgsl, plus the
// convergence scalars. One workgroup; invocation t owns clusters t, t + WG, ... and sums their G partials
// (G x K x D4 sums, G x K counts), in partial order g = 0..G-1 (deterministic, no atomics).
//
// MODE 0 (Lloyd): new center = sum / count. MODE 1 (mini-batch, scikit-learn's per-center learning rate):
//   new = (old * w + sum) / (w + count), w += count (w in `weights`).
// A cluster with count 0 keeps its old center and is counted in stats[3]; the host re-seeds it.
// Writes centers_new, cnorm (|c|^2 of the new centers), sums and counts (for the host's empty-cluster fix-up),
// and stats = (sum of squared center shifts, inertia, changed labels, empty clusters), reduced over the
// workgroup with a tree in workgroup memory (log2 WG barriers, once per iteration).
//
// Bindings: 0 p (uniform Params); 1 part_sums: G x K x D4; 2 part_counts: G x K; 3 part_stats: G x 2;
//   4 centers_old: K x D4; 5 centers_new: K x D4; 6 cnorm: K; 7 sums: K x D4; 8 counts: K;
//   9 weights: K (MODE 1); 10 stats: 4.
// Dispatch: 1 workgroup. Template: WG (power of two), K, D4, MODE.
// The loop bound p.groups is read through workgroup memory (workgroupUniformLoad): lavapipe (Mesa 22.3) inlines a
// uniform that bounds a loop and re-specializes the shader AT EVERY DISPATCH when the inlined trip count lets NIR
// unroll the loop — 3-12 ms of queue-thread CPU per dispatch for groups <= ~20 (the 1,000-point k-means case),
// against 0.05 ms with the load laundered.

struct Params {
    groups: u32,
}

const K: u32 = {{K}}u;
const D4: u32 = {{D4}}u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part_sums: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> part_counts: array<f32>;
@group(0) @binding(3) var<storage, read> part_stats: array<f32>;
@group(0) @binding(4) var<storage, read> centers_old: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> centers_new: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> cnorm: array<f32>;
@group(0) @binding(7) var<storage, read_write> sums: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> counts: array<f32>;
@group(0) @binding(9) var<storage, read_write> weights: array<f32>;
@group(0) @binding(10) var<storage, read_write> stats: array<f32>;

var<workgroup> red: array<vec4<f32>, {{WG}}>;
var<workgroup> wg_groups: u32;

@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) t: u32) {
    if (t == 0u) {
        wg_groups = p.groups;
    }
    let groups = workgroupUniformLoad(&wg_groups);   // not a uniform-buffer load: see the header
    var local = vec4<f32>(0.0);  // shift, inertia, changed, empty
    for (var j = t; j < K; j += {{WG}}u) {
        var s: array<vec4<f32>, D4>;
        var c = 0.0;
        for (var g = 0u; g < groups; g++) {
            c += part_counts[g * K + j];
            let base = (g * K + j) * D4;
            for (var q = 0u; q < D4; q++) {
                s[q] += part_sums[base + q];
            }
        }
        counts[j] = c;
        var w = c;
        if ({{MODE}}u == 1u) {
            w = weights[j] + c;
        }
        var shift = 0.0;
        var norm = 0.0;
        for (var q = 0u; q < D4; q++) {
            sums[j * D4 + q] = s[q];
            let old = centers_old[j * D4 + q];
            var v = old;
            if (c > 0.0) {
                if ({{MODE}}u == 1u) {
                    v = (old * weights[j] + s[q]) / w;
                } else {
                    v = s[q] / c;
                }
            }
            centers_new[j * D4 + q] = v;
            shift += dot(v - old, v - old);
            norm += dot(v, v);
        }
        if ({{MODE}}u == 1u) {
            weights[j] = w;
        }
        cnorm[j] = norm;
        local.x += shift;
        if (c == 0.0) {
            local.w += 1.0;
        }
    }
    for (var g = t; g < groups; g += {{WG}}u) {
        local.y += part_stats[2u * g];
        local.z += part_stats[2u * g + 1u];
    }
    red[t] = local;
    for (var step = {{WG}}u / 2u; step > 0u; step /= 2u) {
        workgroupBarrier();
        if (t < step) {
            red[t] += red[t + step];
        }
    }
    if (t == 0u) {
        stats[0] = red[0].x;
        stats[1] = red[0].y;
        stats[2] = red[0].z;
        stats[3] = red[0].w;
    }
}
