//! Shared helpers: seeded RNGs, random fills, flat views of parameter sets and the
//! finite-difference comparison used by the gradient checks.

use std::vec::Vec;

use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;

use crate::init::uniform01;
use crate::params::Params;

/// A deterministic RNG.
pub fn rng(seed: u64) -> Pcg32 {
    Pcg32::seed_from_u64(seed)
}

/// Uniform in `[lo, hi)`.
pub fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * uniform01(rng)
}

/// Fills `xs` uniformly from `[lo, hi)`.
pub fn fill_uniform<R: Rng + ?Sized>(rng: &mut R, xs: &mut [f32], lo: f32, hi: f32) {
    for x in xs {
        *x = uniform(rng, lo, hi);
    }
}

/// `n` values uniform in `[lo, hi)`.
pub fn random_vec<R: Rng + ?Sized>(rng: &mut R, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut v = std::vec![0.0; n];
    fill_uniform(rng, &mut v, lo, hi);
    v
}

/// Every scalar of a parameter set, in visit order.
pub fn flat<P: Params>(p: &P) -> Vec<f32> {
    let mut out = Vec::with_capacity(P::COUNT);
    p.visit(&mut |t| out.extend_from_slice(t));
    out
}

/// Overwrites every scalar of a parameter set from `v` (visit order).
pub fn set_flat<P: Params>(p: &mut P, v: &[f32]) {
    assert_eq!(v.len(), P::COUNT);
    let mut at = 0;
    p.visit_mut(&mut |t| {
        t.copy_from_slice(&v[at..at + t.len()]);
        at += t.len();
    });
}

/// Central difference of `loss` around `x[i]` for every `i`, in `f64`. The step actually taken
/// is measured from the rounded `f32` values, not assumed to be `2·eps`.
pub fn numeric_gradient(x: &[f32], eps: f32, mut loss: impl FnMut(&[f32]) -> f64) -> Vec<f64> {
    let mut xs = x.to_vec();
    (0..x.len())
        .map(|i| {
            let (plus, minus) = (x[i] + eps, x[i] - eps);
            xs[i] = plus;
            let lp = loss(&xs);
            xs[i] = minus;
            let lm = loss(&xs);
            xs[i] = x[i];
            (lp - lm) / (f64::from(plus) - f64::from(minus))
        })
        .collect()
}

/// The first index where `analytic` and `numeric` disagree beyond
/// `1e-2·|numeric[i]| + 2e-3·max|numeric| + 1e-6`.
pub fn grad_mismatch(analytic: &[f32], numeric: &[f64]) -> Option<usize> {
    assert_eq!(analytic.len(), numeric.len());
    let scale = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    analytic.iter().zip(numeric).position(|(&a, &n)| {
        let tol = 1e-2 * n.abs() + 2e-3 * scale + 1e-6;
        // Written so that a NaN counts as a mismatch.
        let ok = (f64::from(a) - n).abs() <= tol;
        !ok
    })
}

/// Asserts that the analytic gradient matches the numeric one, and that the comparison is
/// sharp enough to catch a 5% scale error and a single flipped sign.
pub fn assert_gradient(name: &str, analytic: &[f32], numeric: &[f64]) {
    if let Some(i) = grad_mismatch(analytic, numeric) {
        panic!(
            "{name}: gradient mismatch at {i}: analytic {} vs numeric {}\nanalytic {analytic:?}\nnumeric  {numeric:?}",
            analytic[i], numeric[i]
        );
    }
    let scale = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        scale > 1e-3,
        "{name}: gradient is ~0 everywhere ({scale}), the check would prove nothing"
    );
    let scaled: Vec<f32> = analytic.iter().map(|g| g * 1.05).collect();
    assert!(
        grad_mismatch(&scaled, numeric).is_some(),
        "{name}: tolerance too loose to see a 5% scale error"
    );
    let big = (0..numeric.len())
        .max_by(|&a, &b| numeric[a].abs().total_cmp(&numeric[b].abs()))
        .unwrap();
    let mut flipped = analytic.to_vec();
    flipped[big] = -flipped[big];
    assert!(
        grad_mismatch(&flipped, numeric).is_some(),
        "{name}: tolerance too loose to see a flipped sign"
    );
}

/// An "RNG" that returns the given words in order (panics when they run out), to pin down
/// exactly how a function uses its random words.
pub struct Scripted<'a> {
    words: &'a [u32],
    /// Words handed out so far.
    pub used: usize,
}

impl<'a> Scripted<'a> {
    pub fn new(words: &'a [u32]) -> Self {
        Scripted { words, used: 0 }
    }
}

impl rand_core::TryRng for Scripted<'_> {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let w = self.words[self.used];
        self.used += 1;
        Ok(w)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let lo = self.try_next_u32()?;
        let hi = self.try_next_u32()?;
        Ok(u64::from(hi) << 32 | u64::from(lo))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(4) {
            let word = self.try_next_u32()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}
