// GELU helpers shared by nn/gelu.wgsl and nn/gelu_backward.wgsl (x * Phi(x), Phi the standard normal CDF).
//
// WGSL has no erf/erfc: erfc_pos is the Chebyshev fit of Numerical Recipes (erfcc, fractional error < 1.2e-7 for
// z >= 0). Phi(x) = erfc(-x / sqrt 2) / 2 is evaluated through erfc of |x| on both sides, so the left tail is
// accurate (x * (1 + erf(x / sqrt 2)) / 2 cancels to 0 well before the true value underflows).
// The tanh approximation is written as x * sigmoid(2u), u = sqrt(2 / pi) * (x + 0.044715 x^3), which equals
// 0.5 x (1 + tanh u) without the cancellation of 1 + tanh u at large negative u.
// A NaN input gives NaN: is_nan tests the bits, since compilers may assume float compares never see a NaN.

const SQRT1_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
const SQRT_2_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;

fn erfc_pos(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
        t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    return t * exp(-z * z + poly);
}

// Phi(x), the standard normal CDF
fn normal_cdf(x: f32) -> f32 {
    let half_tail = 0.5 * erfc_pos(abs(x) * SQRT1_2);
    return select(1.0 - half_tail, half_tail, x < 0.0);
}

// sigmoid(2u) of the tanh form
fn gelu_tanh_gate(x: f32) -> f32 {
    let u2 = 2.0 * SQRT_2_PI * (x + GELU_C * x * x * x);
    return 1.0 / (1.0 + exp(-u2));
}

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
