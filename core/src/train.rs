//! [`Trainer`]: parameters, gradients, optimizer state and workspace in one struct, and the
//! training step over a compile-time batch capacity. Nothing here allocates.
#![forbid(unsafe_code)]
// `derive(Zeroable)` repeats our struct bounds in a where clause of its impl.
#![allow(clippy::multiple_bound_locations)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::error::Error;
use crate::layer::Layer;
use crate::model::{Classifier, Workspace};
use crate::noise::Noise;
use crate::optimizer::Optimizer;
use crate::params::Params;

/// Everything training mutates. About 4× the parameter memory plus the activations of one
/// batch: build it zeroed in place (`bytemuck::zeroed_box()` on a host, a `static` on a
/// microcontroller), then [`Trainer::init`].
#[derive(Zeroable)]
pub struct Trainer<M: Layer, O: Optimizer, const C: usize, const B: usize> {
    /// The weights.
    pub params: M::Params,
    /// Gradients of the last step.
    pub grads: M::Params,
    /// The optimizer's memory.
    pub state: O::State<M::Params>,
    /// Activations and scratch of one batch.
    pub ws: Workspace<M, C, B>,
}

/// What one training step measured (with dropout active, as Keras reports training metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StepStats {
    /// Sum of the per-sample losses.
    pub loss_sum: f32,
    /// Samples whose arg-max matched the label.
    pub correct: u32,
}

impl<M: Layer<Output = [f32; C]>, O: Optimizer, const C: usize, const B: usize>
    Trainer<M, O, C, B>
{
    /// Fresh weights from `rng`, zero optimizer state.
    pub fn init<R: Rng + ?Sized>(&mut self, model: &Classifier<M, C>, rng: &mut R) {
        model.init(&mut self.params, rng);
        self.grads.fill_zero();
        // In place: `self.state = Zeroable::zeroed()` builds the whole state (2× the weights for
        // Adam) as a temporary on the stack first, which overflows small stacks.
        bytemuck::write_zeroes(&mut self.state);
    }

    /// One step on `ws.input[..n]`, `ws.labels[..n]`: forward (dropout from `noise`), loss,
    /// backward, update.
    pub fn step(
        &mut self,
        model: &Classifier<M, C>,
        optimizer: &O,
        n: usize,
        noise: Noise,
    ) -> Result<StepStats, Error> {
        let (loss_sum, correct) = model.gradients(
            &self.params,
            &mut self.grads,
            &mut self.ws,
            n,
            noise,
            1.0 / n as f32,
        )?;
        optimizer.step(&mut self.params, &self.grads, &mut self.state);
        Ok(StepStats { loss_sum, correct })
    }
}
