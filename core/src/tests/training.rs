//! End to end on a synthetic problem: three Gaussian blobs in 8-D, a small MLP with dropout,
//! trained with `Trainer::step` (Adam and SGD); and the errors a step can return.

use std::vec::Vec;

use bytemuck::Zeroable;
use rand_pcg::Pcg32;

use super::util::{flat, rng, uniform};
use crate::error::Error;
use crate::init::shuffle;
use crate::layers::{Dense, Dropout, Relu};
use crate::metrics::Metrics;
use crate::model::Classifier;
use crate::noise::Noise;
use crate::optimizer::{Adam, Optimizer, Sgd};
use crate::params::Params;
use crate::train::Trainer;
use crate::{Sequential, sequential};

type Net = Sequential![Dense<8, 16>, Relu<16>, Dropout<16>, Dense<16, 3>];
const CAP: usize = 16;

fn model() -> Classifier<Net, 3> {
    Classifier::new(sequential![
        Dense::new(),
        Relu::new(),
        Dropout::new(0.1),
        Dense::new()
    ])
}

/// A standard normal (Box–Muller).
fn normal(r: &mut Pcg32) -> f32 {
    let u1 = 1.0 - f64::from(uniform(r, 0.0, 1.0)); // (0, 1]
    let u2 = f64::from(uniform(r, 0.0, 1.0));
    ((-2.0 * libm::log(u1)).sqrt() * libm::cos(core::f64::consts::TAU * u2)) as f32
}

/// `n` points, class `i % 3`, centred at `2·e_class` with σ = 0.5 in each of 8 dimensions
/// (centres 2.8 apart: the Bayes error is about 0.5%).
fn blobs(n: usize, seed: u64) -> Vec<([f32; 8], u8)> {
    let mut r = rng(seed);
    (0..n)
        .map(|i| {
            let class = (i % 3) as u8;
            let mut x = [0.0f32; 8];
            for v in &mut x {
                *v = 0.5 * normal(&mut r);
            }
            x[usize::from(class)] += 2.0;
            (x, class)
        })
        .collect()
}

/// Mean loss and accuracy (inference, dropout off) over `data`, in batches of `CAP`.
fn evaluate<O: Optimizer>(
    m: &Classifier<Net, 3>,
    t: &mut Trainer<Net, O, 3, CAP>,
    data: &[([f32; 8], u8)],
) -> Metrics<3> {
    let mut metrics = Metrics::default();
    for chunk in data.chunks(CAP) {
        for (i, (x, y)) in chunk.iter().enumerate() {
            t.ws.input[i] = *x;
            t.ws.labels[i] = *y;
        }
        m.evaluate(&t.params, &mut t.ws, chunk.len(), &mut metrics)
            .unwrap();
    }
    assert_eq!(metrics.count, data.len() as u64);
    metrics
}

/// Trains for `epochs` (shuffled, 300 samples: 18 full batches and one of 12), returns the
/// training loss before and after, and the held-out accuracy.
fn train<O: Optimizer + Zeroable>(opt: &O, epochs: usize, seed: u64) -> (f64, f64, f64) {
    let m = model();
    let train_set = blobs(300, seed);
    let test_set = blobs(150, seed + 1);
    let mut t: Trainer<Net, O, 3, CAP> = Zeroable::zeroed();
    let mut r = rng(seed + 2);
    t.init(&m, &mut r);
    let before = evaluate(&m, &mut t, &train_set).loss();
    let mut order: Vec<usize> = (0..train_set.len()).collect();
    let mut partial_batches = 0;
    for _ in 0..epochs {
        shuffle(&mut order, &mut r);
        for batch in order.chunks(CAP) {
            for (i, &j) in batch.iter().enumerate() {
                t.ws.input[i] = train_set[j].0;
                t.ws.labels[i] = train_set[j].1;
            }
            let stats = t.step(&m, opt, batch.len(), Noise::for_step(9, 0)).unwrap();
            assert!(stats.loss_sum.is_finite() && stats.correct as usize <= batch.len());
            partial_batches += usize::from(batch.len() < CAP);
        }
    }
    assert_eq!(partial_batches, epochs);
    assert!(t.params.all_finite());
    let after = evaluate(&m, &mut t, &train_set).loss();
    let accuracy = evaluate(&m, &mut t, &test_set).accuracy();
    (before, after, accuracy)
}

#[test]
// Hundreds of steps: over ten minutes under Miri, which checks for undefined behaviour, not
// convergence. The same step code runs under Miri in `step_and_evaluate_reject_bad_batches`,
// the optimizer tests and `tutorial::one_training_step_on_the_full_trainer`.
#[cfg_attr(miri, ignore = "hundreds of training steps: too slow for Miri")]
fn adam_training_converges_on_blobs() {
    let (before, after, accuracy) = train(&Adam::with_learning_rate(0.01), 10, 40);
    assert!(before > 0.5, "initial loss {before}");
    assert!(after < before / 20.0, "loss {before} -> {after}");
    assert!(accuracy > 0.95, "held-out accuracy {accuracy}");
}

#[test]
// Hundreds of steps: over ten minutes under Miri, which checks for undefined behaviour, not
// convergence. The same step code runs under Miri in `step_and_evaluate_reject_bad_batches`,
// the optimizer tests and `tutorial::one_training_step_on_the_full_trainer`.
#[cfg_attr(miri, ignore = "hundreds of training steps: too slow for Miri")]
fn sgd_training_converges_on_blobs() {
    let (before, after, accuracy) = train(&Sgd { learning_rate: 0.1 }, 20, 50);
    assert!(before > 0.5, "initial loss {before}");
    assert!(after < before / 10.0, "loss {before} -> {after}");
    assert!(accuracy > 0.95, "held-out accuracy {accuracy}");
}

#[test]
fn step_and_evaluate_reject_bad_batches() {
    let m = model();
    let adam = Adam::default();
    let mut t: Trainer<Net, Adam, 3, CAP> = Zeroable::zeroed();
    let mut r = rng(60);
    t.init(&m, &mut r);
    for (i, (x, y)) in blobs(CAP, 61).into_iter().enumerate() {
        t.ws.input[i] = x;
        t.ws.labels[i] = y;
    }
    let before = flat(&t.params);
    let mut metrics = Metrics::default();

    for n in [0, CAP + 1] {
        let want = Error::BatchSize {
            requested: n,
            capacity: CAP,
        };
        assert_eq!(t.step(&m, &adam, n, Noise::for_step(9, 0)), Err(want));
        assert_eq!(m.evaluate(&t.params, &mut t.ws, n, &mut metrics), Err(want));
        assert_eq!(m.logits(&t.params, &mut t.ws, n).unwrap_err(), want);
        assert_eq!(m.predict(&t.params, &mut t.ws, n).unwrap_err(), want);
    }

    t.ws.labels[5] = 3;
    let want = Error::Label {
        index: 5,
        label: 3,
        classes: 3,
    };
    assert_eq!(t.step(&m, &adam, 8, Noise::for_step(9, 0)), Err(want));
    assert_eq!(m.evaluate(&t.params, &mut t.ws, 8, &mut metrics), Err(want));
    // Nothing was updated or counted.
    assert_eq!(flat(&t.params), before);
    assert_eq!(t.state.iterations, 0);
    assert_eq!(metrics, Metrics::default());

    // A bad label beyond the batch is not looked at; the full capacity is allowed.
    assert!(t.step(&m, &adam, 5, Noise::for_step(9, 0)).is_ok());
    t.ws.labels[5] = 1;
    assert!(t.step(&m, &adam, CAP, Noise::for_step(9, 0)).is_ok());
    assert_eq!(t.state.iterations, 2);
    assert_ne!(flat(&t.params), before);
    m.evaluate(&t.params, &mut t.ws, CAP, &mut metrics).unwrap();
    assert_eq!(metrics.count, CAP as u64);
    assert_eq!(metrics.confusion.total(), CAP as u64);
    // Probabilities of a prediction sum to 1.
    for p in m.predict(&t.params, &mut t.ws, 3).unwrap() {
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn init_resets_weights_gradients_and_optimizer_state() {
    let m = model();
    let mut t: Trainer<Net, Adam, 3, CAP> = Zeroable::zeroed();
    let mut r = rng(62);
    t.init(&m, &mut r);
    let first = flat(&t.params);
    // Glorot kernels, zero biases.
    assert!(first.iter().any(|&w| w != 0.0));
    assert!(t.params.0.bias.iter().all(|&b| b == 0.0));
    for (i, (x, y)) in blobs(CAP, 63).into_iter().enumerate() {
        t.ws.input[i] = x;
        t.ws.labels[i] = y;
    }
    t.step(&m, &Adam::default(), CAP, Noise::for_step(9, 0))
        .unwrap();
    assert!(flat(&t.state.m).iter().any(|&v| v != 0.0));
    assert!(flat(&t.grads).iter().any(|&v| v != 0.0));

    t.init(&m, &mut rng(62));
    assert_eq!(flat(&t.params), first);
    assert_eq!(t.state.iterations, 0);
    assert!(
        flat(&t.state.m)
            .iter()
            .chain(&flat(&t.state.v))
            .all(|&v| v == 0.0)
    );
    assert!(flat(&t.grads).iter().all(|&v| v == 0.0));
}
