//! Fixed-point requantization, bit for bit as TensorFlow Lite (gemmlowp) does it.
//!
//! A real multiplier `M > 0` (e.g. `s_in·s_w / s_out`) is stored as a 32-bit fixed-point
//! mantissa `m ∈ [2³⁰, 2³¹)` and a power of two: `M ≈ m · 2^(shift − 31)`. Applying it to an
//! `i32` accumulator is [`multiply_by_quantized_multiplier`]: a rounding doubling high
//! multiply followed by a rounding right shift, integers only. Deriving `(m, shift)` from `M`
//! ([`quantize_multiplier`]) happens once, at quantization time, and is the only function here
//! that touches floating point.
#![forbid(unsafe_code)]

/// `round(a·b / 2³¹)` with ties rounded up, saturating the one overflowing case
/// (`i32::MIN · i32::MIN`): gemmlowp's `SaturatingRoundingDoublingHighMul`.
#[inline]
pub const fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    // gemmlowp writes `(ab + nudge) / 2³¹` with `nudge = 2³⁰` for `ab ≥ 0`, `1 − 2³⁰` otherwise,
    // and C++'s division truncating toward zero. Both cases are `⌊(ab + 2³⁰) / 2³¹⌋` (for
    // `ab < 0`, truncating `t = ab + 1 − 2³⁰` rounds up: `⌈t / 2³¹⌉ = ⌊(t + 2³¹ − 1) / 2³¹⌋`),
    // an arithmetic shift; the tests check it against the original.
    let ab = a as i64 * b as i64;
    ((ab + (1 << 30)) >> 31) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero: gemmlowp's `RoundingDivideByPOT`.
/// Exponents above 31 are treated as 31 (every bit is shifted out either way).
#[inline]
pub const fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = if exponent > 31 { 31 } else { exponent };
    let mask = (1u32 << exponent).wrapping_sub(1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// `x · m · 2^(shift − 31)`, rounded: TensorFlow Lite's `MultiplyByQuantizedMultiplier`
/// (the default, double-rounding variant).
///
/// A positive `shift` is a left shift applied to `x` first; where TensorFlow Lite would
/// overflow there (undefined in C++), this saturates. Shifts are clamped to `-31..=31`.
#[inline]
pub const fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    if shift <= 0 {
        // The usual case (multipliers below 1): no left shift.
        let right = if shift < -31 { 31 } else { (-shift) as u32 };
        rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), right)
    } else {
        let left = if shift > 31 { 31 } else { shift as u32 };
        let shifted = (x as i64) << left;
        let x = if shifted > i32::MAX as i64 {
            i32::MAX
        } else if shifted < i32::MIN as i64 {
            i32::MIN
        } else {
            shifted as i32
        };
        saturating_rounding_doubling_high_mul(x, multiplier)
    }
}

/// `(m, shift)` with `m · 2^(shift − 31) ≈ multiplier`: TensorFlow Lite's `QuantizeMultiplier`.
///
/// `m` is in `[2³⁰, 2³¹)` (or `0` for a zero or vanishingly small multiplier, where the shift
/// would go below −31). Multipliers of `2³⁰` and more saturate to `(i32::MAX, 30)`. Negative,
/// NaN and infinite inputs give `None`. Runs at quantization time, never at inference.
pub fn quantize_multiplier(multiplier: f64) -> Option<(i32, i32)> {
    if !(multiplier.is_finite() && multiplier >= 0.0) {
        return None;
    }
    if multiplier == 0.0 {
        return Some((0, 0));
    }
    let (q, mut shift) = libm::frexp(multiplier);
    // TfLiteRound: half away from zero.
    let mut q_fixed = libm::round(q * (1u64 << 31) as f64) as i64;
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        return Some((0, 0));
    }
    if shift > 30 {
        return Some((i32::MAX, 30));
    }
    Some((q_fixed as i32, shift))
}

/// The real number `m · 2^(shift − 31)` that `(m, shift)` stands for (for reports and tests).
pub fn multiplier_value(multiplier: i32, shift: i32) -> f64 {
    f64::from(multiplier) * libm::exp2(f64::from(shift) - 31.0)
}
