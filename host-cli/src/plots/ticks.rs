//! Axis ticks: "nice" tick values and a plotters axis that shows exactly them.

use super::*;

/// A linear f64 axis with exactly the given tick positions (plotters' own f64 axes pick their
/// ticks themselves, and its `with_key_points` wrapper loses the label formatter).
pub(super) struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    pub(super) fn new((lo, hi): (f64, f64), ticks: Vec<f64>) -> Self {
        Ticked { lo, hi, ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, (start, end): (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if !(span.is_finite() && span != 0.0 && v.is_finite()) {
            return (start + end) / 2;
        }
        let t = ((v - self.lo) / span).clamp(-4.0, 5.0);
        start + (f64::from(end - start) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Evenly spaced "nice" ticks (1, 2, 2.5 or 5 × 10^k apart) covering `[lo, hi]`, at most about
/// `max_ticks` of them, and the number of decimals needed to print them.
pub(super) fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> (Vec<f64>, usize) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) || max_ticks == 0 {
        return (vec![lo], 2);
    }
    let raw = span / max_ticks as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last)
        .take(2 * max_ticks + 2)
        .map(|k| k as f64 * step)
        .collect();
    let decimals = (0..=12)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(12) as usize;
    (ticks, decimals)
}
