//! [`Classifier`]: layers that end in logits, with a softmax head for probabilities, and the
//! [`Workspace`] that holds every activation of a batch.
#![forbid(unsafe_code)]
// `derive(Zeroable)` repeats our struct bounds in a where clause of its impl.
#![allow(clippy::multiple_bound_locations)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::error::Error;
use crate::kernels;
use crate::layer::{Layer, LayerInfo};
use crate::layers::Softmax;
use crate::loss::sparse_categorical_crossentropy;
use crate::metrics::Metrics;
use crate::noise::Noise;

/// A classifier over `C` classes: `layers` produce logits, [`Softmax`] turns them into
/// probabilities. Training uses the logits with the fused softmax–cross-entropy loss.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Classifier<M, const C: usize> {
    /// The layers, input to logits.
    pub layers: M,
}

/// Every buffer a forward and backward pass over up to `B` samples needs. Fill `input[..n]`
/// (and `labels[..n]` to train or evaluate), then call the model.
///
/// Aligned to a cache line, so that rows of the inputs start on one.
#[derive(Zeroable)]
#[repr(C, align(64))]
pub struct Workspace<M: Layer, const C: usize, const B: usize> {
    /// The batch's inputs.
    pub input: [M::Input; B],
    /// The batch's labels.
    pub labels: [u8; B],
    /// Logits of the last forward pass.
    pub logits: [[f32; C]; B],
    /// Probabilities of the last [`Classifier::predict`].
    pub probs: [[f32; C]; B],
    /// `∂loss/∂logits` of the last training step.
    pub dlogits: [[f32; C]; B],
    /// The layers' own scratch.
    pub buffers: M::Buffers<B>,
}

impl<M: Layer, const C: usize, const B: usize> Workspace<M, C, B> {
    /// The compile-time batch capacity.
    pub const CAPACITY: usize = B;
}

/// Checks `1 ≤ n ≤ B`.
pub(crate) fn check_batch<const B: usize>(n: usize) -> Result<(), Error> {
    if n == 0 || n > B {
        return Err(Error::BatchSize {
            requested: n,
            capacity: B,
        });
    }
    Ok(())
}

impl<M: Layer<Output = [f32; C]>, const C: usize> Classifier<M, C> {
    /// Wraps `layers`, whose last output is `C` logits.
    pub const fn new(layers: M) -> Self {
        Classifier { layers }
    }

    /// Initializes parameters (Glorot-uniform kernels, zero biases).
    pub fn init<R: Rng + ?Sized>(&self, params: &mut M::Params, rng: &mut R) {
        self.layers.init(params, rng);
    }

    /// Describes each layer, the softmax head last.
    pub fn describe(&self, f: &mut dyn FnMut(&LayerInfo)) {
        self.layers.describe(f);
        Softmax::<C>.describe(f);
    }

    /// Inference forward pass over `ws.input[..n]`; returns the logits.
    pub fn logits<'w, const B: usize>(
        &self,
        params: &M::Params,
        ws: &'w mut Workspace<M, C, B>,
        n: usize,
    ) -> Result<&'w [[f32; C]], Error> {
        check_batch::<B>(n)?;
        self.layers.forward::<B>(
            params,
            &ws.input[..n],
            &mut ws.logits[..n],
            &mut ws.buffers,
            None,
        );
        Ok(&ws.logits[..n])
    }

    /// Inference forward pass; fills `ws.logits[..n]` and `ws.probs[..n]`, returns the probabilities.
    pub fn predict<'w, const B: usize>(
        &self,
        params: &M::Params,
        ws: &'w mut Workspace<M, C, B>,
        n: usize,
    ) -> Result<&'w [[f32; C]], Error> {
        self.logits(params, ws, n)?;
        kernels::softmax(
            C,
            ws.logits[..n].as_flattened(),
            ws.probs[..n].as_flattened_mut(),
        );
        Ok(&ws.probs[..n])
    }

    /// Inference over `ws.input[..n]` against `ws.labels[..n]`, added to `metrics` (loss,
    /// accuracy, confusion matrix).
    pub fn evaluate<const B: usize>(
        &self,
        params: &M::Params,
        ws: &mut Workspace<M, C, B>,
        n: usize,
        metrics: &mut Metrics<C>,
    ) -> Result<(), Error> {
        self.logits(params, ws, n)?;
        let (loss, correct) = sparse_categorical_crossentropy(
            &ws.logits[..n],
            &ws.labels[..n],
            1.0,
            &mut ws.dlogits,
        )?;
        metrics.add(loss, correct, n);
        metrics.confusion.record(&ws.logits[..n], &ws.labels[..n]);
        Ok(())
    }

    /// Training forward (dropout from `noise`) and backward over `ws.input[..n]`,
    /// `ws.labels[..n]`: writes `grad_scale · ∂(Σ losses)/∂params` into `grads` and returns
    /// `(loss_sum, correct)`. Pass `grad_scale = 1/n` for the gradient of the batch mean; a
    /// slice of a larger batch passes `1/batch` and `noise.skip(offset)`, so that summing the
    /// slices' gradients gives the whole batch's.
    #[allow(clippy::too_many_arguments)]
    pub fn gradients<const B: usize>(
        &self,
        params: &M::Params,
        grads: &mut M::Params,
        ws: &mut Workspace<M, C, B>,
        n: usize,
        noise: Noise,
        grad_scale: f32,
    ) -> Result<(f32, u32), Error> {
        check_batch::<B>(n)?;
        let Workspace {
            input,
            labels,
            logits,
            dlogits,
            buffers,
            ..
        } = ws;
        self.layers
            .forward(params, &input[..n], &mut logits[..n], buffers, Some(noise));
        let stats =
            sparse_categorical_crossentropy(&logits[..n], &labels[..n], grad_scale, dlogits)?;
        self.layers.backward(
            params,
            &input[..n],
            &logits[..n],
            &dlogits[..n],
            buffers,
            None,
            grads,
        );
        Ok(stats)
    }
}

/// The `k` most probable classes, most probable first (ties: lower class first).
pub fn top_k<const C: usize, const K: usize>(probs: &[f32; C]) -> heapless::Vec<(u8, f32), K> {
    let mut out: heapless::Vec<(u8, f32), K> = heapless::Vec::new();
    for (c, &p) in probs.iter().enumerate() {
        let pos = out.iter().position(|&(_, q)| p > q).unwrap_or(out.len());
        if pos < K {
            if out.is_full() {
                out.pop();
            }
            // Cannot fail: there is room after the pop, and pos ≤ len.
            let _ = out.insert(pos, (c as u8, p));
        }
    }
    out
}
