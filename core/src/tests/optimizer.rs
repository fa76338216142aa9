//! Adam and SGD against the update rules written out by hand, in `f64`.

use crate::layers::DenseParams;
use crate::optimizer::{Adam, AdamState, Optimizer, Sgd};
use crate::params::Params;

use super::util::{flat, set_flat};
use bytemuck::Zeroable;

/// Three scalars: kernel `[[a], [b]]`, bias `[c]`.
type Tiny = DenseParams<2, 1>;

fn tiny(v: [f32; 3]) -> Tiny {
    let mut p = Tiny::zeroed();
    set_flat(&mut p, &v);
    p
}

/// Keras 3's Adam, one step, in `f64`.
struct RefAdam {
    w: [f64; 3],
    m: [f64; 3],
    v: [f64; 3],
    t: i32,
}

impl RefAdam {
    const LR: f64 = 0.001;
    const B1: f64 = 0.9;
    const B2: f64 = 0.999;
    const EPS: f64 = 1e-7;

    fn step(&mut self, g: [f64; 3]) {
        self.t += 1;
        // βᵗ of β cast to f32 (`ops.cast(self.beta_1, dtype)`), `1 − β` of the Python floats.
        let (b1, b2) = (f64::from(Self::B1 as f32), f64::from(Self::B2 as f32));
        let alpha = Self::LR * (1.0 - b2.powi(self.t)).sqrt() / (1.0 - b1.powi(self.t));
        let state = self.w.iter_mut().zip(&mut self.m).zip(&mut self.v);
        for (((w, m), v), g) in state.zip(g) {
            *m += (g - *m) * (1.0 - Self::B1);
            *v += (g * g - *v) * (1.0 - Self::B2);
            *w -= alpha * *m / (v.sqrt() + Self::EPS);
        }
    }
}

fn close(actual: f32, want: f64, rel: f64, abs: f64) -> bool {
    (f64::from(actual) - want).abs() <= rel * want.abs() + abs
}

#[test]
fn adam_one_and_two_steps_match_keras_formula() {
    let w0 = [0.5f32, -0.25, 0.0];
    let grads = [[0.5f32, -2.0, 1e-3], [-1.0, -1.5, 3.0]];
    let adam = Adam::default();
    assert_eq!(
        (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon),
        (0.001, 0.9, 0.999, 1e-7)
    );
    let mut p = tiny(w0);
    let mut state: AdamState<Tiny> = Zeroable::zeroed();
    let mut reference = RefAdam {
        w: w0.map(f64::from),
        m: [0.0; 3],
        v: [0.0; 3],
        t: 0,
    };
    let mut before = w0;
    for (step, g) in grads.iter().enumerate() {
        adam.step(&mut p, &tiny(*g), &mut state);
        let prev_ref = reference.w;
        reference.step(g.map(f64::from));
        assert_eq!(state.iterations, step as u64 + 1);
        let (w, m, v) = (flat(&p), flat(&state.m), flat(&state.v));
        for i in 0..3 {
            // The moves, not just the weights (a 0.5 weight's ulp is 6e-8, a move ~1e-3).
            let moved = f64::from(w[i]) - f64::from(before[i]);
            let want = reference.w[i] - prev_ref[i];
            assert!(
                (moved - want).abs() <= 1e-3 * want.abs() + 1e-7,
                "step {step} w[{i}] moved {moved}, Keras moves {want}"
            );
            assert!(
                close(w[i], reference.w[i], 1e-6, 1e-7),
                "step {step} w[{i}]"
            );
            assert!(
                close(m[i], reference.m[i], 1e-5, 1e-9),
                "step {step} m[{i}]"
            );
            assert!(
                close(v[i], reference.v[i], 1e-4, 1e-12),
                "step {step} v[{i}]"
            );
        }
        before.copy_from_slice(&w);
    }
    // The second step is not another ±lr move: bias correction and momentum matter.
    let second = f64::from(flat(&p)[0]) - (0.5 - 0.001);
    assert!(second.abs() > 1e-5);
}

#[test]
fn adam_first_step_literal() {
    // By hand: m = 0.1·g, v = 0.001·g², α = lr·√(1 − β₂)/(1 − β₁) of the f32 β (Keras 3),
    // √0.00099998713/0.100000024 = √0.001·(1 − 6.67e-6), so Δw = −α·m/(√v + ε)
    // = −0.001·(1 − 6.67e-6)·|g|√0.001/(|g|√0.001 + ε) = −0.001·(1 − 1.2995e-5) for g = 0.5.
    let mut p = tiny([0.0, 0.0, 0.0]);
    let mut state: AdamState<Tiny> = Zeroable::zeroed();
    Adam::default().step(&mut p, &tiny([0.5, -0.5, 0.0]), &mut state);
    let w = flat(&p);
    let want = -0.000_999_987_047_f64;
    assert!((f64::from(w[0]) - want).abs() < 3e-10, "{}", w[0]);
    assert!((f64::from(w[1]) + want).abs() < 3e-10, "{}", w[1]);
    // ε is there: the move is measurably short of a full −lr.
    assert!((f64::from(w[0]) + 0.001).abs() > 5e-9);
    // No gradient, no move (and no NaN from 0/0).
    assert_eq!(w[2], 0.0);
}

#[test]
fn adam_rounds_its_constants_as_keras_3() {
    // Keras 3: `1 - self.beta_1` of Python floats, then cast: exactly the f32 nearest 0.1 and
    // 0.001 (the f32 β would give 0.100000024 and 0.00099998713). The powers βᵗ of α are of
    // β cast to f32: `ops.power(ops.cast(beta, float32), t)`.
    let adam = Adam::default();
    let step = adam.step_constants(1);
    assert_eq!(step.rate1.to_bits(), 0.1f32.to_bits());
    assert_eq!(step.rate2.to_bits(), 0.001f32.to_bits());
    assert_eq!(step.eps.to_bits(), 1e-7f32.to_bits());
    // α(t) in f32 as Keras 3 computes it, pinned to NumPy's float32 (glibc's `powf`, as TF's
    // CPU `pow` kernel): `f32(1e-3) * sqrt(1 - f32(0.999)**t) / (1 - f32(0.9)**t)`. With
    // `libm::powf`, t = 3 was 3 ulps off. Of the first 40,000 steps only t = 3606 differs now,
    // by one ulp (NumPy: 0x3a81_486f).
    for (t, bits) in [
        (1u64, 0x39a5_cb17u32),
        (2, 0x3976_beb9),
        (3, 0x3953_d29d),
        (10, 0x3920_a11a),
        (100, 0x39a1_c6c2),
        (1875, 0x3a71_3a34),
        (3606, 0x3a81_4870),
        (9375, 0x3a83_1104),
        (18750, 0x3a83_126f),
    ] {
        assert_eq!(adam.alpha(t).to_bits(), bits, "t = {t}: {}", adam.alpha(t));
    }
    // One step from zero moments: m = g·0.1 and v = g²·0.001, in f32, bit for bit.
    let mut p = tiny([0.0; 3]);
    let mut state: AdamState<Tiny> = Zeroable::zeroed();
    let g = [0.3f32, -1.7, 2.9];
    adam.step(&mut p, &tiny(g), &mut state);
    let (m, v) = (flat(&state.m), flat(&state.v));
    for i in 0..3 {
        assert_eq!(m[i].to_bits(), (g[i] * 0.1f32).to_bits(), "m[{i}]");
        assert_eq!(v[i].to_bits(), (g[i] * g[i] * 0.001f32).to_bits(), "v[{i}]");
    }
}

#[test]
fn adam_updates_every_tensor_of_a_nested_param_set() {
    type Nested = (DenseParams<2, 1>, ((), DenseParams<1, 2>));
    let mut p = Nested::zeroed();
    let mut g = Nested::zeroed();
    g.visit_mut(&mut |t| t.fill(1.0));
    let mut state: AdamState<Nested> = Zeroable::zeroed();
    Adam::with_learning_rate(0.01).step(&mut p, &g, &mut state);
    let w = flat(&p);
    assert_eq!(w.len(), 3 + 4);
    for v in w {
        assert!((f64::from(v) + 0.01).abs() < 1e-7, "{v}");
    }
}

#[test]
fn sgd_one_step() {
    let mut p = tiny([1.0, -2.0, 0.5]);
    Sgd::default().step(&mut p, &tiny([0.5, 0.25, -4.0]), &mut ());
    assert_eq!(Sgd::default().learning_rate, 0.01);
    let w = flat(&p);
    let want = [0.995, -2.0025, 0.54];
    for (a, b) in w.iter().zip(want) {
        assert!(close(*a, b, 0.0, 1e-7), "{w:?} vs {want:?}");
    }
    let mut p = tiny([1.0, -2.0, 0.5]);
    Sgd { learning_rate: 0.1 }.step(&mut p, &tiny([0.5, 0.25, -4.0]), &mut ());
    assert_eq!(flat(&p), [0.95, -2.025, 0.9]);
}

/// A weight whose gradient stays zero: its first moment decays by β₁ per step and is stored as
/// exactly zero once below [`ADAM_FLUSH`](crate::kernels::ADAM_FLUSH), never as a subnormal;
/// the weight itself is the one an unflushed update gives (the flushed steps are below its
/// ulp), and a moment at or above the threshold is kept.
#[test]
fn adam_flushes_tiny_moments_to_zero() {
    use crate::kernels::{self, ADAM_FLUSH, AdamStep};
    let step = AdamStep {
        alpha: 1e-3,
        rate1: 0.1,
        rate2: 0.001,
        eps: 1e-7,
    };
    // Moments just above, at and below what one decay step takes under the threshold.
    let (mut w, g) = ([0.25f32, -0.5, 0.125, 1.0], [0.0f32; 4]);
    let mut m = [ADAM_FLUSH * 1.2, -ADAM_FLUSH, ADAM_FLUSH * 1.05, f32::NAN];
    let mut v = [1e-8f32, ADAM_FLUSH * 0.5, 1e-30, 0.5];
    let w0 = w;
    kernels::adam(&mut w, &g, &mut m, &mut v, step);
    let kept = f64::from(ADAM_FLUSH) * 1.08;
    assert!(
        close(m[0], kept, 1e-6, 0.0),
        "0.9·1.2·2⁻¹⁰⁰ is kept: {:e}",
        m[0]
    );
    assert_eq!(m[1].to_bits(), 0, "-2⁻¹⁰⁰·0.9 becomes +0");
    assert_eq!(m[2].to_bits(), 0, "1.05·2⁻¹⁰⁰·0.9 becomes +0");
    assert!(m[3].is_nan(), "NaN is not flushed");
    assert_eq!(v[1].to_bits(), 0, "v below the threshold becomes +0");
    assert!(
        close(v[2], 0.999e-30, 1e-6, 0.0),
        "v above the threshold is kept"
    );
    assert_eq!(&w[..3], &w0[..3], "steps this small change no weight");

    // Many zero-gradient steps from a normal moment: m reaches exactly zero, never a
    // subnormal, and the weight ends where the unflushed update (in f64) leaves it.
    let (mut w, mut m, mut v) = ([0.03f32], [1e-3f32], [1e-6f32]);
    let (mut rw, mut rm, mut rv) = (0.03f64, 1e-3f64, 1e-6f64);
    for _ in 0..2000 {
        kernels::adam(&mut w, &[0.0], &mut m, &mut v, step);
        assert!(m[0] == 0.0 || m[0].abs() >= ADAM_FLUSH, "m = {:e}", m[0]);
        rm *= 0.9;
        rv *= 0.999;
        rw -= 1e-3 * rm / (rv.sqrt() + 1e-7);
    }
    assert_eq!(m[0].to_bits(), 0);
    assert!(close(w[0], rw, 1e-6, 0.0), "{} vs {rw}", w[0]);
}
