// The background of the k-means scatter plot, opaque: the Voronoi cells of the centroids, each filled with the
// panel color tinted by its centroid's color (render/points.wgsl draws the data points over them).
//
// The cells are built in the vertex stage from the k-means engine's center buffer: cell j is the convex polygon
// {x in box : |x - c_j| <= |x - c_i| for all i}, drawn as a fan of triangles (c_j, edge) with one candidate edge
// per constraint line (the k - 1 bisectors and the 4 box sides). The edge on line i is the parameter interval
// of that line left by the other constraints; a line that leaves none gives a collapsed (culled) triangle. A fan
// from c_j covers the cell exactly because c_j lies in its own cell and, as a mean (or a sample) of the data,
// inside the box. The cells tile the box, so they also paint the plot's background (no panel under them).
// Without the Voronoi tint: k = 1 and strength 0 (one cell, the box, in the panel color).
//
// Bindings:
//   @group(0) @binding(0) uniform Params:
//       view:    vec4  (design width, design height, physical width, physical height)
//       xform:   vec4  (sx, sy, ox, oy): design pixel = data * (sx, sy) + (ox, oy)
//       box:     vec4  (x0, y0, x1, y1): the plot rectangle in data coordinates (x0 < x1, y0 < y1)
//       style:   vec4  (k, tint strength in [0, 1], unused, unused)
//       panel:   vec4  the panel color under the tint (rgb)
//       palette: array<vec4<f32>, 16>  colors for clusters 0..14
//   @binding(1) var<storage, read> centers: array<vec4<f32>>  k rows padded to 4 floats (x, y, 0, 0)
// Draw (triangle-list topology, no blending): draw(3 * (k + 4), k): instance j = cell j, triangle i = its edge
// on line i.
// Why: on lavapipe, finding the nearest of k = 8 centroids per pixel cost ~10 ms per frame (0.57 M pixels x 8
// storage loads); filling the cells costs about what one flat rectangle does.

struct Params {
    view: vec4<f32>,
    xform: vec4<f32>,
    box: vec4<f32>,
    style: vec4<f32>,
    panel: vec4<f32>,
    palette: array<vec4<f32>, 16>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> centers: array<vec4<f32>>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) @interpolate(flat) color: vec4<f32>,
};

// Constraint line l of cell j as (normal n, point q): the cell lies where dot(n, x - q) <= 0.
// l < k: the bisector with centroid l (n = 0 when l == j or the two coincide); l = k..k+3: left, right, bottom
// and top side of the box.
fn constraint(l: u32, k: u32, cj: vec2<f32>) -> vec4<f32> {
    if (l < k) {
        let cl = centers[l].xy;
        return vec4<f32>(cl - cj, (cl + cj) * 0.5);
    }
    let side = l - k;
    if (side == 0u) {
        return vec4<f32>(-1.0, 0.0, p.box.xy);
    }
    if (side == 1u) {
        return vec4<f32>(1.0, 0.0, p.box.zw);
    }
    if (side == 2u) {
        return vec4<f32>(0.0, -1.0, p.box.xy);
    }
    return vec4<f32>(0.0, 1.0, p.box.zw);
}

@vertex
fn vs_main(@builtin(vertex_index) vi: u32, @builtin(instance_index) j: u32) -> VsOut {
    let k = u32(p.style.x);
    let i = vi / 3u;  // the constraint line of this triangle's edge
    var corner = vi - i * 3u;
    let cj = centers[j].xy;
    var out: VsOut;
    out.color = vec4<f32>(mix(p.panel.rgb, p.palette[min(j, 15u)].rgb, p.style.y), 1.0);
    let line = constraint(i, k, cj);
    let n = line.xy;
    let q = line.zw;
    let d = vec2<f32>(-n.y, n.x);
    // the interval [t0, t1] of q + t d inside every other constraint
    var t0 = -1.0e30;
    var t1 = 1.0e30;
    var empty = all(n == vec2<f32>(0.0));
    for (var l = 0u; l < k + 4u; l = l + 1u) {
        if (l == i) {
            continue;
        }
        let other = constraint(l, k, cj);
        if (all(other.xy == vec2<f32>(0.0))) {
            // l == j, or a duplicate centroid: the lower index owns the cell (as a nearest-centroid scan would)
            empty = empty || l < j;
            continue;
        }
        let s = dot(other.xy, d);
        let r = dot(other.xy, other.zw - q);
        if (s > 0.0) {
            t1 = min(t1, r / s);
        } else if (s < 0.0) {
            t0 = max(t0, r / s);
        } else if (r < 0.0) {
            empty = true;  // parallel and outside
        }
    }
    if (empty || t0 >= t1) {
        corner = 0u;  // collapse the triangle onto c_j
    }
    var x = cj;
    if (corner == 1u) {
        x = q + t0 * d;
    } else if (corner == 2u) {
        x = q + t1 * d;
    }
    let design = x * p.xform.xy + p.xform.zw;
    out.pos = vec4<f32>(design.x / p.view.x * 2.0 - 1.0, 1.0 - design.y / p.view.y * 2.0, 0.0, 1.0);
    return out;
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    return in.color;
}
