// Counter-based random numbers: a pure function of a 32-bit counter, identical on every backend
// (gpuml/nn/functional.py carries the numpy twin). PCG-RXS-M-XS hash (Jarzynski & Olano, "Hash Functions for
// GPU Rendering", JCGT 2020).

fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Uniform in [0, 1) from the top 24 bits (exact in f32).
fn uniform01(h: u32) -> f32 {
    return f32(h >> 8u) * (1.0 / 16777216.0);
}
