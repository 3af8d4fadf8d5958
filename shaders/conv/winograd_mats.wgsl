// Winograd F(m x m, 3 x 3) transform matrices (included; not a kernel), row-major, for m = 2 (alpha = 4) and
// m = 4 (alpha = 6, Lavin & Gray's points 0, +-1, +-2, inf). Y = A^T [(G g G^T) .* (B^T d B)] A.
// The numpy twins in gpuml/ops/conv.py (WINOGRAD) hold the same matrices.

const BT2 = array<f32, 16>(1.0, 0.0, -1.0, 0.0,  0.0, 1.0, 1.0, 0.0,  0.0, -1.0, 1.0, 0.0,  0.0, 1.0, 0.0, -1.0);
const G2 = array<f32, 12>(1.0, 0.0, 0.0,  0.5, 0.5, 0.5,  0.5, -0.5, 0.5,  0.0, 0.0, 1.0);
const AT2 = array<f32, 8>(1.0, 1.0, 1.0, 0.0,  0.0, 1.0, -1.0, -1.0);

const BT4 = array<f32, 36>(
    4.0, 0.0, -5.0, 0.0, 1.0, 0.0,
    0.0, -4.0, -4.0, 1.0, 1.0, 0.0,
    0.0, 4.0, -4.0, -1.0, 1.0, 0.0,
    0.0, -2.0, -1.0, 2.0, 1.0, 0.0,
    0.0, 2.0, -1.0, -2.0, 1.0, 0.0,
    0.0, 4.0, 0.0, -5.0, 0.0, 1.0);
const G4 = array<f32, 18>(
    0.25, 0.0, 0.0,
    -0.16666667, -0.16666667, -0.16666667,
    -0.16666667, 0.16666667, -0.16666667,
    0.041666668, 0.083333336, 0.16666667,
    0.041666668, -0.083333336, 0.16666667,
    0.0, 0.0, 1.0);
const AT4 = array<f32, 24>(
    1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
    0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
    0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
    0.0, 1.0, -1.0, 8.0, -8.0, 1.0);

// The same transforms in one dimension, written out with constant indices. The 2-D kernels apply them to columns,
// then rows; products with the constant matrices above, indexed in loops, ran ~5-10x slower on lavapipe (the
// arrays went to per-lane scratch memory).
fn bt_1d_2(d: array<f32, 4>) -> array<f32, 4> {
    return array<f32, 4>(d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]);
}

fn at_1d_2(m: array<f32, 4>) -> array<f32, 2> {
    return array<f32, 2>(m[0] + m[1] + m[2], m[1] - m[2] - m[3]);
}

fn bt_1d_4(d: array<f32, 6>) -> array<f32, 6> {
    let a = d[4] - 4.0 * d[2];
    let b = d[3] - 4.0 * d[1];
    let c = d[4] - d[2];
    let e = 2.0 * (d[3] - d[1]);
    return array<f32, 6>(4.0 * d[0] - 5.0 * d[2] + d[4], a + b, a - b, c + e, c - e, 4.0 * d[1] - 5.0 * d[3] + d[5]);
}

fn at_1d_4(m: array<f32, 6>) -> array<f32, 4> {
    let s1 = m[1] + m[2];
    let d1 = m[1] - m[2];
    let s2 = m[3] + m[4];
    let d2 = m[3] - m[4];
    return array<f32, 4>(m[0] + s1 + s2, d1 + 2.0 * d2, s1 + 4.0 * s2, d1 + 8.0 * d2 + m[5]);
}

fn g_1d_2(f: array<f32, 3>) -> array<f32, 4> {
    return array<f32, 4>(f[0], 0.5 * (f[0] + f[1] + f[2]), 0.5 * (f[0] - f[1] + f[2]), f[2]);
}

fn g_1d_4(f: array<f32, 3>) -> array<f32, 6> {
    let e = f[0] + f[2];
    let q = f[0] * (1.0 / 24.0) + f[2] * (1.0 / 6.0);
    return array<f32, 6>(0.25 * f[0], -(e + f[1]) * (1.0 / 6.0), -(e - f[1]) * (1.0 / 6.0), q + f[1] * (1.0 / 12.0),
                         q - f[1] * (1.0 / 12.0), f[2]);
}
