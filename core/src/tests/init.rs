//! Weight initialization, the unbiased integer draw, the shuffle, and `top_k`.

use std::vec::Vec;

use super::util::{Scripted, rng};
use crate::init::{below, glorot_uniform, shuffle, uniform01};
use crate::model::top_k;

#[test]
fn glorot_uniform_stays_in_its_limit_and_fills_it() {
    let (fan_in, fan_out) = (100, 50);
    let limit = (6.0f64 / 150.0).sqrt() as f32; // 0.2
    let mut w = std::vec![f32::NAN; fan_in * fan_out];
    glorot_uniform(fan_in, fan_out, &mut w, &mut rng(31));
    assert!(w.iter().all(|v| v.abs() <= limit), "outside ±{limit}");
    let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / w.len() as f64;
    // σ of the mean is 0.2/√3/√5000 ≈ 0.0016.
    assert!(mean.abs() < 0.01, "mean {mean}");
    let (lo, hi) = w
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(lo < -0.95 * limit && hi > 0.95 * limit, "range {lo}..{hi}");
    // Variance of U(−l, l) is l²/3.
    let var = w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / w.len() as f64;
    let want = f64::from(limit).powi(2) / 3.0;
    assert!((var / want - 1.0).abs() < 0.05, "variance {var} vs {want}");
}

#[test]
fn uniform01_is_in_unit_interval() {
    let mut r = rng(32);
    let xs: Vec<f32> = (0..10_000).map(|_| uniform01(&mut r)).collect();
    assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
    let mean = xs.iter().sum::<f32>() / xs.len() as f32;
    assert!((mean - 0.5).abs() < 0.02, "{mean}");
}

#[test]
fn below_is_in_range_and_roughly_uniform() {
    let mut r = rng(33);
    let mut counts = [0u32; 7];
    // Miri (looking for undefined behaviour, not bias) draws a tenth as many.
    let (draws, slack) = if cfg!(miri) {
        (7_000, 150)
    } else {
        (70_000, 500)
    };
    for _ in 0..draws {
        let v = below(7, &mut r);
        assert!(v < 7);
        counts[v as usize] += 1;
    }
    // Each count is Binomial(70000, 1/7): mean 10000, σ ≈ 93 (7000: 1000, σ ≈ 29).
    let mean = draws / 7;
    for c in counts {
        assert!((mean - slack..=mean + slack).contains(&c), "{counts:?}");
    }
    assert!((0..100).all(|_| below(1, &mut r) == 0));
    // A range where rejection matters (2³¹ + 1, half the words rejected): in range, and the
    // upper half of the range is hit half the time.
    let n = (1u32 << 31) + 1;
    let draws: Vec<u32> = (0..1000).map(|_| below(n, &mut r)).collect();
    assert!(draws.iter().all(|&v| v < n));
    let upper = draws.iter().filter(|&&v| v >= 1 << 30).count();
    assert!((430..=570).contains(&upper), "{upper}");
}

#[test]
fn below_rejects_the_biased_words() {
    // n = 3: 2³² mod 3 = 1, so the word 0 (low half of 0·3 is 0 < 1) is rejected and the
    // next word decides: ⌊(2³² − 1)·3 / 2³²⌋ = 2.
    let mut r = Scripted::new(&[0, u32::MAX]);
    assert_eq!(below(3, &mut r), 2);
    assert_eq!(r.used, 2);
    // n = 7: 2³² mod 7 = 4; 2³¹·7 has low half 2³¹ ≥ 4, accepted: ⌊3.5⌋ = 3.
    let mut r = Scripted::new(&[1 << 31]);
    assert_eq!(below(7, &mut r), 3);
    assert_eq!(r.used, 1);
    // Words 0 and 1 give low halves 0 and 7, so only the first is rejected.
    let mut r = Scripted::new(&[0, 1]);
    assert_eq!(below(7, &mut r), 0);
    assert_eq!(r.used, 2);
    // uniform01 keeps the top 24 bits: never 1.0.
    let mut r = Scripted::new(&[u32::MAX, 0, 1 << 31]);
    assert_eq!(uniform01(&mut r), 1.0 - 1.0 / 16_777_216.0);
    assert_eq!(uniform01(&mut r), 0.0);
    assert_eq!(uniform01(&mut r), 0.5);
}

#[test]
fn shuffle_is_a_seeded_permutation() {
    let shuffled = |seed| {
        let mut v: Vec<u32> = (0..100).collect();
        shuffle(&mut v, &mut rng(seed));
        v
    };
    let a = shuffled(34);
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_ne!(a, sorted, "not shuffled at all");
    assert_eq!(a, shuffled(34));
    assert_ne!(a, shuffled(35));
    // Every position is reachable: over many shuffles of 3, all 6 orders appear.
    let mut r = rng(36);
    let mut seen = Vec::new();
    for _ in 0..200 {
        let mut v = [0, 1, 2];
        shuffle(&mut v, &mut r);
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    assert_eq!(seen.len(), 6);
    // Degenerate lengths are fine.
    shuffle::<u8, _>(&mut [], &mut r);
    let mut one = [9];
    shuffle(&mut one, &mut r);
    assert_eq!(one, [9]);
}

#[test]
fn top_k_orders_by_probability() {
    let probs = [0.1, 0.4, 0.2, 0.3];
    let top = top_k::<4, 2>(&probs);
    assert_eq!(top.as_slice(), &[(1, 0.4), (3, 0.3)]);
    let top = top_k::<4, 1>(&probs);
    assert_eq!(top.as_slice(), &[(1, 0.4)]);
    // K larger than C: all classes, sorted.
    let top = top_k::<4, 6>(&probs);
    assert_eq!(top.as_slice(), &[(1, 0.4), (3, 0.3), (2, 0.2), (0, 0.1)]);
    // Ties: lower class first.
    let top = top_k::<4, 3>(&[0.25; 4]);
    assert_eq!(top.as_slice(), &[(0, 0.25), (1, 0.25), (2, 0.25)]);
    // Increasing input (every element displaces the tail).
    let probs: [f32; 10] = core::array::from_fn(|i| i as f32 / 45.0);
    let classes: Vec<u8> = top_k::<10, 3>(&probs).iter().map(|&(c, _)| c).collect();
    assert_eq!(classes, [9, 8, 7]);
}
