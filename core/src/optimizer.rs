//! Optimizers: [`Adam`] (Keras' update, Keras' defaults) and plain [`Sgd`].
#![forbid(unsafe_code)]

use bytemuck::Zeroable;

use crate::kernels;
use crate::params::Params;

/// Updates parameters from their gradients. The optimizer value is its hyper-parameters; its
/// per-parameter memory is [`Optimizer::State`], zero at the start of training.
pub trait Optimizer {
    /// Moments, step counter, …; all zero means "no step taken yet".
    type State<P: Params>: Zeroable;
    /// One update of `params` with `grads`.
    fn step<P: Params>(&self, params: &mut P, grads: &P, state: &mut Self::State<P>);
}

/// Adam as Keras 3 computes it: `m += (g − m)(1 − β₁)`, `v += (g² − v)(1 − β₂)`,
/// `α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`, `w −= α·m/(√v + ε)`, in `f32`. Moments below 2⁻¹⁰⁰ in
/// magnitude are stored as zero, so that no subnormal arithmetic slows the update (TensorFlow
/// runs with the CPU's flush-to-zero for the same reason); see
/// [`ADAM_FLUSH`](crate::kernels::ADAM_FLUSH), and why no weight changes for it.
///
/// β₁ and β₂ are `f64`, as Keras holds them (Python floats), because Keras 3 rounds them
/// differently in two places: the moment rates `1 − β` are taken in `f64` and rounded once
/// (`0.1` and `0.001` for the defaults), while the powers βᵗ are taken of β rounded to `f32`
/// (Keras casts β to the variables' dtype). Taking `1 − β` of the `f32` β instead, as TF's
/// fused Adam kernel (Keras 2) does, gives `0.100000024` and `0.00099998713`.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Adam {
    /// Learning rate (Keras default 0.001).
    pub learning_rate: f32,
    /// β₁ (0.9).
    pub beta_1: f64,
    /// β₂ (0.999).
    pub beta_2: f64,
    /// ε (1e-7).
    pub epsilon: f32,
}

impl Default for Adam {
    fn default() -> Self {
        Adam {
            learning_rate: 0.001,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        }
    }
}

impl Adam {
    /// The step size of step `t` (1-based): `lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`, in `f32` of the `f32`
    /// β and the `f32` step, as Keras 3.
    ///
    /// The powers are taken in `f64` and rounded once (correctly rounded `f32` powers): this
    /// gives the α of TF's CPU `pow` kernel (glibc's `powf`) at 39,999 of the first 40,000
    /// steps, one ulp off at the other; `libm::powf` was up to 4 ulps off at 93 of them (where
    /// `1 − β₁ᵗ` cancels).
    pub fn alpha(&self, t: u64) -> f32 {
        let t = f64::from(t as f32);
        let pow = |beta: f64| libm::pow(f64::from(beta as f32), t) as f32;
        self.learning_rate * libm::sqrtf(1.0 - pow(self.beta_2)) / (1.0 - pow(self.beta_1))
    }

    /// The kernel constants of step `t` (1-based): [`Adam::alpha`], the rates `1 − β` (taken
    /// in `f64`, rounded once to `f32`, as Keras 3) and ε.
    pub fn step_constants(&self, t: u64) -> kernels::AdamStep {
        kernels::AdamStep {
            alpha: self.alpha(t),
            rate1: (1.0 - self.beta_1) as f32,
            rate2: (1.0 - self.beta_2) as f32,
            eps: self.epsilon,
        }
    }

    /// Keras' defaults with another learning rate.
    pub fn with_learning_rate(learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            ..Adam::default()
        }
    }
}

/// Adam's memory: first and second moments and the number of steps taken.
#[derive(Clone, Copy, Debug, Zeroable)]
pub struct AdamState<P> {
    /// First moments.
    pub m: P,
    /// Second moments.
    pub v: P,
    /// Steps taken (Keras' `iterations`).
    pub iterations: u64,
}

impl Optimizer for Adam {
    type State<P: Params> = AdamState<P>;

    fn step<P: Params>(&self, params: &mut P, grads: &P, s: &mut AdamState<P>) {
        s.iterations += 1;
        let step = self.step_constants(s.iterations);
        params.zip4_mut(grads, &mut s.m, &mut s.v, &mut |w, g, m, v| {
            kernels::adam(w, g, m, v, step)
        });
    }
}

/// Plain stochastic gradient descent: `w −= lr·g`.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sgd {
    /// Learning rate (Keras default 0.01).
    pub learning_rate: f32,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd {
            learning_rate: 0.01,
        }
    }
}

impl Optimizer for Sgd {
    type State<P: Params> = ();

    fn step<P: Params>(&self, params: &mut P, grads: &P, _: &mut ()) {
        let lr = self.learning_rate;
        params.zip_mut(grads, &mut |w, g| kernels::sgd(w, g, lr));
    }
}
