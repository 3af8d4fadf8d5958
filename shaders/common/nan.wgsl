// NaN tests and NaN-propagating max/min, as numpy's np.maximum / np.minimum / np.max behave.
//
// Why on the raw bits: WGSL's max()/min() lower to SPIR-V FMax/FMin, whose NaN result is undefined (lavapipe's
// LLVM returns the other operand), and compilers may fold `x != x` to false. An f32 is NaN exactly when its
// exponent bits are all ones and its mantissa is not zero, an integer test no compiler can drop.
// f16 values are tested through f32 (the conversion keeps NaN).

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn is_nan4(x: vec4<f32>) -> vec4<bool> {
    return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// max(a, b), NaN if either is (a's NaN first, as numpy)
fn max_nan(a: f32, b: f32) -> f32 {
    return select(select(max(a, b), b, is_nan(b)), a, is_nan(a));
}

fn min_nan(a: f32, b: f32) -> f32 {
    return select(select(min(a, b), b, is_nan(b)), a, is_nan(a));
}

fn max_nan4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return select(select(max(a, b), b, is_nan4(b)), a, is_nan4(a));
}

fn min_nan4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return select(select(min(a, b), b, is_nan4(b)), a, is_nan4(a));
}
