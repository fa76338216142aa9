//! Weight initialization (Keras' Dense defaults: Glorot-uniform kernel, zero bias).
#![forbid(unsafe_code)]

use rand_core::Rng;

/// A uniform `f32` in `[0, 1)` with 24 random bits (every value exactly representable).
pub fn uniform01<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Glorot (Xavier) uniform: `U(−l, l)` with `l = √(6 / (fan_in + fan_out))`.
pub fn glorot_uniform<R: Rng + ?Sized>(fan_in: usize, fan_out: usize, w: &mut [f32], rng: &mut R) {
    let limit = libm::sqrtf(6.0 / (fan_in + fan_out) as f32);
    for v in w {
        *v = (2.0 * uniform01(rng) - 1.0) * limit;
    }
}

/// An unbiased integer in `0..n` (Lemire's multiply-and-reject). `n` must be nonzero.
pub fn below<R: Rng + ?Sized>(n: u32, rng: &mut R) -> u32 {
    debug_assert!(n > 0);
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u64::from(rng.next_u32()) * u64::from(n);
        if (m as u32) >= threshold {
            return (m >> 32) as u32;
        }
    }
}

/// Fisher–Yates shuffle (the order of an epoch).
pub fn shuffle<T, R: Rng + ?Sized>(items: &mut [T], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = below(i as u32 + 1, rng) as usize;
        items.swap(i, j);
    }
}
