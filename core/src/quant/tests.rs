//! Quantization math against f64/i128 references, the portable kernel against a plain
//! natural-layout reference, and the DSP kernel's arithmetic emulated instruction by
//! instruction.
// Index loops mirror the math (w[i][o], kernel[g][k]) on purpose.
#![allow(clippy::needless_range_loop)]

use std::boxed::Box;
use std::vec::Vec;

use proptest::prelude::*;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;

use super::kernels::{byte_sum, portable};
use super::requant::*;
use super::tutorial::{self, Model, Scratch};
use super::*;

// ---------------------------------------------------------------- requantization math

/// gemmlowp's SaturatingRoundingDoublingHighMul, in i128 straight from its definition.
fn srdhm_ref(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i128::from(a) * i128::from(b);
    let nudge = if ab >= 0 {
        1i128 << 30
    } else {
        1 - (1i128 << 30)
    };
    // C++ division truncates toward zero.
    let q = (ab + nudge) / (1i128 << 31);
    q as i32
}

/// `x / 2^e` rounded to nearest, ties away from zero, by exact rational arithmetic.
fn round_div_pow2_ref(x: i64, e: u32) -> i64 {
    let d = 1i64 << e;
    let (q, r) = (x.div_euclid(d), x.rem_euclid(d));
    // x = q·d + r with 0 ≤ r < d.
    if 2 * r > d || (2 * r == d && x >= 0) {
        q + 1
    } else {
        q
    }
}

#[test]
fn srdhm_edges() {
    let cases = [
        (i32::MIN, i32::MIN, i32::MAX),
        (i32::MAX, i32::MAX, i32::MAX - 1),
        (1 << 30, 1 << 30, 1 << 29),
        (0, i32::MIN, 0),
        (1, 1 << 30, 1),  // 0.5 rounds away from zero
        (-1, 1 << 30, 0), // -0.5: gemmlowp's nudge rounds this tie up
        (1, (1 << 30) - 1, 0),
    ];
    for (a, b, want) in cases {
        assert_eq!(saturating_rounding_doubling_high_mul(a, b), want, "{a}·{b}");
        assert_eq!(srdhm_ref(a, b), want, "{a}·{b} (reference)");
    }
}

#[test]
fn rounding_divide_by_pot_is_round_half_away_from_zero() {
    for e in 0..=31u32 {
        for x in (-2000..2000).chain([i32::MIN, i32::MIN + 1, i32::MAX, i32::MAX - 1]) {
            let want = round_div_pow2_ref(i64::from(x), e);
            assert_eq!(i64::from(rounding_divide_by_pot(x, e)), want, "{x} / 2^{e}");
        }
    }
    // Exponents above 31 behave as 31.
    assert_eq!(rounding_divide_by_pot(i32::MAX, 40), 1);
    assert_eq!(rounding_divide_by_pot(-5, 40), 0);
}

proptest! {
    #[test]
    fn srdhm_matches_reference(a in any::<i32>(), b in any::<i32>()) {
        prop_assert_eq!(saturating_rounding_doubling_high_mul(a, b), srdhm_ref(a, b));
    }

    #[test]
    fn rdbpot_matches_reference(x in any::<i32>(), e in 0u32..=31) {
        prop_assert_eq!(i64::from(rounding_divide_by_pot(x, e)), round_div_pow2_ref(i64::from(x), e));
    }

    #[test]
    fn quantize_multiplier_is_accurate(mantissa in 0.5f64..1.0, exp in -40i32..=30) {
        let m = mantissa * 2f64.powi(exp);
        let (q, shift) = quantize_multiplier(m).unwrap();
        if exp < -31 {
            prop_assert_eq!((q, shift), (0, 0));
        } else {
            prop_assert!((1 << 30..=i32::MAX).contains(&q), "q = {}", q);
            prop_assert!((-31..=30).contains(&shift));
            let back = multiplier_value(q, shift);
            // Half an ulp of a 31-bit mantissa.
            prop_assert!(((back - m) / m).abs() <= 2f64.powi(-31), "{} vs {}", back, m);
        }
    }

    /// Against the real product rounded in f64: equal, or one off where TFLite's double
    /// rounding (high multiply, then shift) differs from rounding once.
    #[test]
    fn mbqm_matches_f64(x in any::<i32>(), mantissa in 0.5f64..1.0, exp in -20i32..=0) {
        let (q, shift) = quantize_multiplier(mantissa * 2f64.powi(exp)).unwrap();
        let exact = f64::from(x) * multiplier_value(q, shift);
        let got = f64::from(multiply_by_quantized_multiplier(x, q, shift));
        let want = exact.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX));
        prop_assert!((got - want).abs() <= 1.0, "{} vs {}", got, exact);
        // And exactly TFLite's composition, in i128.
        let right = (-shift).max(0) as u32;
        let r = round_div_pow2_ref(i64::from(srdhm_ref(x, q)), right);
        prop_assert_eq!(i64::from(got as i32), r);
    }
}

#[test]
fn quantize_multiplier_edges() {
    assert_eq!(quantize_multiplier(0.0), Some((0, 0)));
    assert_eq!(quantize_multiplier(1.0), Some((1 << 30, 1)));
    assert_eq!(quantize_multiplier(0.5), Some((1 << 30, 0)));
    assert_eq!(quantize_multiplier(0.25), Some((1 << 30, -1)));
    // Rounds up to 2^31: renormalized to 2^30 with the next exponent.
    assert_eq!(quantize_multiplier(1.0 - 1e-12), Some((1 << 30, 1)));
    // Below 2^-32 everything would be shifted out.
    assert_eq!(quantize_multiplier(1e-12), Some((0, 0)));
    assert_eq!(quantize_multiplier(1e12), Some((i32::MAX, 30)));
    assert_eq!(quantize_multiplier(-0.5), None);
    assert_eq!(quantize_multiplier(f64::NAN), None);
    assert_eq!(quantize_multiplier(f64::INFINITY), None);
}

#[test]
fn mbqm_shifts_and_saturation() {
    // 0.75 · 2^3 = 6: left shift applied first.
    let (q, s) = quantize_multiplier(6.0).unwrap();
    assert_eq!(s, 3);
    assert_eq!(multiply_by_quantized_multiplier(100, q, s), 600);
    // A left shift that overflows saturates instead of wrapping.
    assert_eq!(
        multiply_by_quantized_multiplier(i32::MAX / 2, q, s),
        1_610_612_735
    );
    assert_eq!(
        multiply_by_quantized_multiplier(i32::MIN, q, s),
        i32::MIN + 536_870_912
    );
    // Out-of-range shifts are clamped, not a panic.
    let _ = multiply_by_quantized_multiplier(123, 1 << 30, 100);
    assert_eq!(multiply_by_quantized_multiplier(123, 1 << 30, -100), 0);
}

// ---------------------------------------------------------------- layers

/// Integer parameters in natural layout, and the reference forward pass.
struct Ref<const IN: usize, const OUT: usize> {
    w: [[i8; OUT]; IN],
    bias: [i32; OUT],
    mult: [i32; OUT],
    shift: [i32; OUT],
    zp_in: i32,
    zp_out: i32,
    relu: bool,
}

impl<const IN: usize, const OUT: usize> Ref<IN, OUT> {
    fn random(rng: &mut Pcg32, extreme: bool) -> Self {
        let mut w = [[0i8; OUT]; IN];
        for row in &mut w {
            for v in row {
                *v = if extreme {
                    [-128, -127, 127][(rng.next_u32() % 3) as usize]
                } else {
                    rng.next_u32() as i8
                };
            }
        }
        let mut bias = [0; OUT];
        let mut mult = [0; OUT];
        let mut shift = [0; OUT];
        for o in 0..OUT {
            bias[o] = (rng.next_u32() % 200_001) as i32 - 100_000;
            let m = 2f64.powi(-((rng.next_u32() % 20) as i32))
                * (0.5 + f64::from(rng.next_u32()) / 2f64.powi(33));
            let (q, s) = quantize_multiplier(m).unwrap();
            mult[o] = q;
            shift[o] = s;
        }
        Ref {
            w,
            bias,
            mult,
            shift,
            zp_in: (rng.next_u32() % 256) as i32 - 128,
            zp_out: (rng.next_u32() % 256) as i32 - 128,
            relu: rng.next_u32().is_multiple_of(2),
        }
    }

    fn parts(&self) -> QDenseParts<'_, IN, OUT> {
        QDenseParts {
            weights: &self.w,
            bias: &self.bias,
            multiplier: &self.mult,
            shift: &self.shift,
            input_zero_point: self.zp_in,
            output_zero_point: self.zp_out,
            relu: self.relu,
        }
    }

    fn dots(&self, x: &[u8; IN]) -> [i64; OUT] {
        let mut d = [0i64; OUT];
        for (o, d) in d.iter_mut().enumerate() {
            for i in 0..IN {
                *d += i64::from(self.w[i][o]) * i64::from(x[i]);
            }
        }
        d
    }

    fn forward(&self, x: &[u8; IN]) -> [i8; OUT] {
        let d = self.dots(x);
        let mut y = [0i8; OUT];
        for o in 0..OUT {
            let acc = i32::try_from(d[o] + i64::from(self.bias[o])).unwrap();
            let v = i64::from(multiply_by_quantized_multiplier(
                acc,
                self.mult[o],
                self.shift[o],
            )) + i64::from(self.zp_out);
            let lo = if self.relu {
                i64::from(self.zp_out)
            } else {
                -128
            };
            y[o] = v.clamp(lo, 127) as i8;
        }
        y
    }
}

fn random_x<const IN: usize>(rng: &mut Pcg32, zero_fraction: u32) -> [u8; IN] {
    let mut x = [0u8; IN];
    for v in &mut x {
        if rng.next_u32() % 100 >= zero_fraction {
            *v = rng.next_u32() as u8;
        }
    }
    x
}

fn check_layer<const IN: usize, const OUT: usize, const G: usize, const B: usize>(seed: u64) {
    let mut rng = Pcg32::seed_from_u64(seed);
    for case in 0..20 {
        let r = Ref::<IN, OUT>::random(&mut rng, case % 4 == 3);
        let mut layer: QDense<IN, OUT, G, B> = bytemuck::Zeroable::zeroed();
        layer.load(&r.parts()).unwrap();
        for i in 0..IN {
            for o in 0..OUT {
                assert_eq!(layer.weight(i, o), r.w[i][o], "weight ({i}, {o})");
            }
        }
        for zeros in [0, 50, 80, 100] {
            let x = random_x::<IN>(&mut rng, zeros);
            let want = r.forward(&x);
            let mut list = [[0u32; 2]; G];
            for sparsity in [Sparsity::SkipZeros, Sparsity::EveryInput] {
                let mut y = [0i8; OUT];
                layer.forward(&x, &mut y, &mut list, sparsity);
                assert_eq!(
                    y, want,
                    "seed {seed} case {case} zeros {zeros}% {sparsity:?}"
                );
                // The DSP arithmetic, emulated, gives the same dot products.
                let mut got = [0i64; OUT];
                let words = |g: usize| {
                    u32::from_le_bytes([x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3]])
                };
                dsp_emulated(
                    &layer.kernel,
                    words,
                    &mut list,
                    sparsity == Sparsity::SkipZeros,
                    |k, d| {
                        for j in 0..4 {
                            if 4 * k + j < OUT {
                                got[4 * k + j] = i64::from(d[j]);
                            }
                        }
                    },
                );
                assert_eq!(got, r.dots(&x), "DSP emulation, seed {seed} case {case}");
            }
            // From int8 inputs: q = x + zp_in (where representable).
            let q: [i8; IN] = x.map(|v| (i32::from(v) + r.zp_in).clamp(-128, 127) as i8);
            let xq: [u8; IN] = q.map(|v| (i32::from(v) - r.zp_in).clamp(0, 255) as u8);
            let mut y = [0i8; OUT];
            layer.forward_i8(&q, &mut y, &mut list, Sparsity::SkipZeros);
            assert_eq!(y, r.forward(&xq));
        }
    }
}

#[test]
fn portable_kernel_matches_reference_on_odd_shapes() {
    check_layer::<4, 1, 1, 1>(1);
    check_layer::<8, 6, 2, 2>(2);
    check_layer::<12, 10, 3, 3>(3);
    check_layer::<16, 4, 4, 1>(4);
    check_layer::<20, 13, 5, 4>(5);
    check_layer::<128, 10, 32, 3>(6);
}

#[test]
fn kernel_word_layout_is_as_documented() {
    // Inputs (0, 2) × outputs (0, 1) in word 0: [w00 + 128, w01, w20 + 128, w21].
    let mut w = [[0i8; 4]; 4];
    for (i, row) in w.iter_mut().enumerate() {
        for (o, v) in row.iter_mut().enumerate() {
            *v = (10 * i + o) as i8 - 20;
        }
    }
    let mut k = [[[0u32; 4]; 1]; 1];
    pack(&w, &mut k);
    let b = |v: i8| v as u8;
    let a = |v: i8| (i32::from(v) + 128) as u8;
    assert_eq!(
        k[0][0][0].to_le_bytes(),
        [a(w[0][0]), b(w[0][1]), a(w[2][0]), b(w[2][1])]
    );
    assert_eq!(
        k[0][0][1].to_le_bytes(),
        [a(w[0][2]), b(w[0][3]), a(w[2][2]), b(w[2][3])]
    );
    assert_eq!(
        k[0][0][2].to_le_bytes(),
        [a(w[1][0]), b(w[1][1]), a(w[3][0]), b(w[3][1])]
    );
    assert_eq!(
        k[0][0][3].to_le_bytes(),
        [a(w[1][2]), b(w[1][3]), a(w[3][2]), b(w[3][3])]
    );
}

#[test]
fn requantize_saturates_and_clamps() {
    let mut rng = Pcg32::seed_from_u64(9);
    let mut r = Ref::<4, 2>::random(&mut rng, false);
    r.mult = [1 << 30; 2];
    r.shift = [1; 2]; // ×1
    r.bias = [0; 2];
    r.zp_out = -5;
    r.relu = true;
    let mut layer: QDense<4, 2, 1, 1> = bytemuck::Zeroable::zeroed();
    layer.load(&r.parts()).unwrap();
    assert_eq!(layer.requantize(0, 1_000_000), 127);
    assert_eq!(layer.requantize(0, -1_000_000), -5); // ReLU clamp at the zero point
    assert_eq!(layer.requantize(0, 7), 2);
    assert_eq!(layer.requantize(0, i32::MAX), 127);
    r.relu = false;
    layer.load(&r.parts()).unwrap();
    assert_eq!(layer.requantize(1, -1_000_000), -128);
    assert_eq!(layer.requantize(1, -100), -105);
}

#[test]
fn load_rejects_bad_parameters() {
    let mut rng = Pcg32::seed_from_u64(10);
    let r = Ref::<8, 3>::random(&mut rng, false);
    let mut layer: QDense<8, 3, 2, 1> = bytemuck::Zeroable::zeroed();
    let mut p = r.parts();
    let mult = [r.mult[0], 5, r.mult[2]];
    p.multiplier = &mult;
    assert_eq!(
        layer.load(&p),
        Err(QuantError::Multiplier {
            channel: 1,
            value: 5
        })
    );
    let mut p = r.parts();
    let shift = [0, 0, 31];
    p.shift = &shift;
    assert_eq!(
        layer.load(&p),
        Err(QuantError::Shift {
            channel: 2,
            value: 31
        })
    );
    let mut p = r.parts();
    p.output_zero_point = 128;
    assert_eq!(layer.load(&p), Err(QuantError::ZeroPoint { value: 128 }));
    let mut p = r.parts();
    let bias = [i32::MAX, 0, 0];
    p.bias = &bias;
    assert!(matches!(
        layer.load(&p),
        Err(QuantError::Bias { channel: 0, .. })
    ));
    // A multiplier of 0 is valid (a dead channel).
    let mut p = r.parts();
    let mult = [0, r.mult[1], r.mult[2]];
    p.multiplier = &mult;
    layer.load(&p).unwrap();
}

// ---------------------------------------------------------------- the DSP kernel, emulated

fn smlad(acc: u32, a: u32, b: u32) -> u32 {
    let h = |v: u32, s: u32| i64::from((v >> s) as u16 as i16);
    let p = h(a, 0) * h(b, 0) + h(a, 16) * h(b, 16);
    acc.wrapping_add(p as u32)
}
fn sxtb16(v: u32) -> u32 {
    (v as u8 as i8 as i16 as u16 as u32) | ((((v >> 16) as u8 as i8 as i16) as u16 as u32) << 16)
}
fn uxtb16(v: u32) -> u32 {
    v & 0x00ff_00ff
}

/// `kernels::dsp::dense`, instruction for instruction (group indices instead of addresses).
fn dsp_emulated<const G: usize, const B: usize>(
    kernel: &[[[u32; 4]; B]; G],
    x: impl Fn(usize) -> u32,
    list: &mut [[u32; 2]; G],
    skip_zeros: bool,
    mut emit: impl FnMut(usize, [i32; 4]),
) {
    let mut n = 0;
    let mut sum = 0u32;
    for g in 0..G {
        let p = x(g);
        if p != 0 || !skip_zeros {
            list[n] = [g as u32, p];
            n += 1;
            sum = sum.wrapping_add(byte_sum(p));
        }
    }
    for k in 0..B {
        let (mut rab, mut bb, mut rcd, mut bd) = (0u32, 0u32, 0u32, 0u32);
        for &[g, p] in &list[..n] {
            let [w0, w1, w2, w3] = kernel[g as usize][k];
            let x0 = uxtb16(p);
            rab = smlad(rab, w0, x0);
            bb = smlad(bb, sxtb16(w0.rotate_right(8)), x0);
            rcd = smlad(rcd, w1, x0);
            bd = smlad(bd, sxtb16(w1.rotate_right(8)), x0);
            let x1 = uxtb16(p.rotate_right(8));
            rab = smlad(rab, w2, x1);
            bb = smlad(bb, sxtb16(w2.rotate_right(8)), x1);
            rcd = smlad(rcd, w3, x1);
            bd = smlad(bd, sxtb16(w3.rotate_right(8)), x1);
        }
        let s = sum.wrapping_mul(128);
        let a = rab.wrapping_sub(bb.wrapping_mul(256)).wrapping_sub(s);
        let c = rcd.wrapping_sub(bd.wrapping_mul(256)).wrapping_sub(s);
        emit(k, [a as i32, bb as i32, c as i32, bd as i32]);
    }
}

#[test]
fn dsp_arithmetic_survives_wraparound() {
    // All weights at the extremes and all inputs 255: the raw SMLAD sum wraps many times
    // over, the recovered dot products are still exact.
    let w = [[-128i8, 127, 127, -127]; 784];
    let mut kernel = [[[0u32; 4]; 1]; 196];
    pack(&w, &mut kernel);
    let mut list = [[0u32; 2]; 196];
    let mut got = [0i32; 4];
    dsp_emulated(&kernel, |_| u32::MAX, &mut list, true, |_, d| got = d);
    assert_eq!(
        got,
        [
            -128 * 255 * 784,
            127 * 255 * 784,
            127 * 255 * 784,
            -127 * 255 * 784
        ]
    );
    let mut again = [0i32; 4];
    portable::dense(&kernel, |_| u32::MAX, &mut list, true, |_, d| again = d);
    assert_eq!(again, got);
}

// ---------------------------------------------------------------- the tutorial model

fn random_model(rng: &mut Pcg32) -> (Box<Model>, Ref<784, 128>, Ref<128, 10>) {
    let mut l1 = Ref::<784, 128>::random(rng, false);
    l1.zp_in = tutorial::INPUT_ZERO_POINT;
    l1.relu = true;
    // Small multipliers keep the hidden layer away from saturation.
    for o in 0..128 {
        let (q, s) = quantize_multiplier(1e-4 * (1.0 + o as f64 / 128.0)).unwrap();
        l1.mult[o] = q;
        l1.shift[o] = s;
    }
    let mut l2 = Ref::<128, 10>::random(rng, false);
    l2.zp_in = l1.zp_out;
    l2.relu = false;
    let mut m: Box<Model> = bytemuck::zeroed_box();
    m.hidden.load(&l1.parts()).unwrap();
    m.output.load(&l2.parts()).unwrap();
    m.check().unwrap();
    (m, l1, l2)
}

#[test]
fn tutorial_model_matches_reference() {
    let mut rng = Pcg32::seed_from_u64(11);
    let (m, l1, l2) = random_model(&mut rng);
    let mut scratch: Box<Scratch> = bytemuck::zeroed_box();
    let mut spread = Vec::new();
    for zeros in [0, 50, 80, 95, 100] {
        let pixels = random_x::<784>(&mut rng, zeros);
        let h = l1.forward(&pixels);
        let hx = h.map(|v| (i32::from(v) - l2.zp_in) as u8);
        let want = l2.forward(&hx);
        assert_eq!(m.predict(&pixels, &mut scratch), want, "{zeros}% zeros");
        assert_eq!(
            m.predict_with(&pixels, &mut scratch, Sparsity::EveryInput),
            want
        );
        spread.push(h.iter().filter(|&&v| i32::from(v) != l1.zp_out).count());
    }
    // The test would be weak if the hidden layer were all clamped.
    assert!(spread.iter().any(|&c| c > 10), "{spread:?}");
}

#[test]
fn tutorial_model_check() {
    let mut rng = Pcg32::seed_from_u64(12);
    let (mut m, _, _) = random_model(&mut rng);
    m.output.input_zero_point += 1;
    assert!(matches!(m.check(), Err(QuantError::Chain { .. })));
    m.output.input_zero_point -= 1;
    m.hidden.output_min = -128;
    if m.hidden.output_zero_point != -128 {
        assert_eq!(m.check(), Err(QuantError::MissingRelu));
    }
    m.hidden.output_min = m.hidden.output_zero_point;
    m.hidden.input_zero_point = 0;
    assert_eq!(m.check(), Err(QuantError::InputZeroPoint { value: 0 }));
}

#[test]
fn pixels_quantize_to_p_minus_128_and_argmax_takes_the_first() {
    for p in 0..=255u8 {
        assert_eq!(i32::from(tutorial::quantize_pixel(p)), i32::from(p) - 128);
    }
    assert_eq!(tutorial::argmax(&[1, 5, 5, 0, 0, 0, 0, 0, 0, -3]), 1);
    assert_eq!(tutorial::argmax(&[-128; 10]), 0);
    assert_eq!(tutorial::argmax(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 9);
}

#[test]
fn errors_display_in_one_line() {
    let all = [
        QuantError::ZeroPoint { value: 300 },
        QuantError::Multiplier {
            channel: 1,
            value: 2,
        },
        QuantError::Shift {
            channel: 1,
            value: 40,
        },
        QuantError::Bias {
            channel: 1,
            value: 2,
            max: 1,
        },
        QuantError::InputZeroPoint { value: 0 },
        QuantError::MissingRelu,
        QuantError::Chain {
            produced: 1,
            expected: 2,
        },
    ];
    for e in all {
        let s = std::format!("{e}");
        assert!(!s.is_empty() && !s.contains('\n'), "{s}");
    }
}
