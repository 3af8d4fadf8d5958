// A running reduction value and the index it came from (used by argmax/argmin; ignored by sum).
// COMBINE is a function body over `a, b: Pair` and IDENTITY a Pair expression, both from the table in
// gpuml/impl/webgpu/reduce.py. max/min break ties towards the lower index and let the first NaN win, as numpy.argmax
// does (is_nan from common/nan.wgsl).

#include "common/nan.wgsl"

struct Pair {
    v: f32,
    i: u32,
}

fn identity() -> Pair {
    return {{IDENTITY}};
}

fn combine(a: Pair, b: Pair) -> Pair {
    {{COMBINE}}
}
