//! Training gradients with the first `Dense` kernel's gradient left to the caller:
//! [`Classifier::gradients_deferred`] computes every other gradient, and
//! [`Classifier::first_kernel_gradient`] then computes that one (`Xᵀ·dH`, the largest: 784 ×
//! 128 in the tutorial) a range of rows at a time. A data-parallel host computes each core's
//! rows for every shard of the batch and updates them on that core, so that no gradient crosses
//! from one core's cache to another's. The results are the same bits as
//! [`Classifier::gradients`]'s. The other gradients go to a [`DeferredGrads`], which has no
//! room for the first kernel's.
#![forbid(unsafe_code)]
// `Classifier`'s layer chain repeats its bounds in the impl's where clause.
#![allow(clippy::multiple_bound_locations)]

use core::ops::Range;

use bytemuck::Zeroable;

use crate::chain::Chain;
use crate::error::Error;
use crate::kernels;
use crate::layer::Layer;
use crate::layers::{Dense, Flatten};
use crate::model::{Classifier, Workspace, check_batch};
use crate::noise::Noise;
use crate::params::Params;

/// The parameters of a `Flatten → Dense<I, O> → T` chain.
type ChainParams<const I: usize, const O: usize, T> =
    ((), (crate::layers::DenseParams<I, O>, <T as Layer>::Params));

/// The gradients [`Classifier::gradients_deferred`] computes for a `Flatten → Dense<I, O> → T`
/// chain: every one but the first kernel's. Its tensor `i` is the model's tensor `i + 1`.
#[derive(Clone, Copy, Debug, Zeroable)]
#[repr(C, align(64))]
pub struct DeferredGrads<const O: usize, P> {
    /// The first `Dense` layer's bias.
    pub bias: [f32; O],
    /// The layers after it (`T`'s parameters).
    pub rest: P,
}

impl<const O: usize, P: Params> DeferredGrads<O, P> {
    /// Number of tensors: the model's, less the first kernel.
    pub const TENSORS: usize = 1 + P::TENSORS;

    /// Tensor `i`, the model's tensor `i + 1`; empty if `i ≥ TENSORS`.
    pub fn tensor(&self, i: usize) -> &[f32] {
        match i.checked_sub(1) {
            None => &self.bias,
            Some(j) => self.rest.tensor(j),
        }
    }
}

impl<const H: usize, const W: usize, const I: usize, const O: usize, T, const C: usize>
    Classifier<Chain<Flatten<H, W, I>, Chain<Dense<I, O>, T>>, C>
where
    T: Layer<Input = [f32; O], Output = [f32; C]>,
{
    /// [`Classifier::gradients`], except for the first `Dense` layer's kernel gradient, which
    /// `grads` has no room for: compute it with [`Self::first_kernel_gradient`] on the same
    /// workspace, before its next pass.
    #[allow(clippy::too_many_arguments)]
    pub fn gradients_deferred<const B: usize>(
        &self,
        params: &ChainParams<I, O, T>,
        grads: &mut DeferredGrads<O, T::Params>,
        ws: &mut Workspace<Chain<Flatten<H, W, I>, Chain<Dense<I, O>, T>>, C, B>,
        n: usize,
        noise: Noise,
        grad_scale: f32,
    ) -> Result<(f32, u32), Error> {
        let stats = self.training_forward(params, ws, n, noise, grad_scale)?;
        let Workspace {
            logits,
            dlogits,
            buffers,
            ..
        } = ws;
        // What `Chain::backward` does for this chain, less the first kernel's product:
        // `Flatten` has no parameters and no one wants `∂L/∂input`, so it is skipped.
        let Chain(_, Chain(_, rest)) = &self.layers;
        let (_, _, _, (_, hidden, dhidden, rest_buffers)) = buffers;
        let dhidden = &mut dhidden[..n];
        rest.backward(
            &params.1.1,
            &hidden[..n],
            &logits[..n],
            &dlogits[..n],
            rest_buffers,
            Some(&mut *dhidden),
            &mut grads.rest,
        );
        kernels::column_sums(n, O, dhidden.as_flattened(), &mut grads.bias);
        Ok(stats)
    }

    /// Rows `rows` of the first `Dense` kernel's gradient (`Xᵀ·dH` over the `n` samples of the
    /// last [`Self::gradients_deferred`] on `ws`) into `out`, one row of `out` per row of the
    /// kernel: the same bits as those rows of [`Classifier::gradients`]' result.
    ///
    /// # Panics
    /// If `rows` reaches past the kernel's `I` rows or `out` does not hold `rows.len()` rows.
    pub fn first_kernel_gradient<const B: usize>(
        &self,
        ws: &Workspace<Chain<Flatten<H, W, I>, Chain<Dense<I, O>, T>>, C, B>,
        n: usize,
        rows: Range<usize>,
        out: &mut [[f32; O]],
    ) -> Result<(), Error> {
        check_batch::<B>(n)?;
        assert!(
            rows.start <= rows.end && rows.end <= I && out.len() == rows.len(),
            "first_kernel_gradient: rows {rows:?} of {I}, into {} rows",
            out.len()
        );
        let x = ws.input[..n].as_flattened().as_flattened();
        let (_, _, _, (_, _, dhidden, _)) = &ws.buffers;
        kernels::matmul_tn_strided(
            n,
            rows.len(),
            O,
            &x[rows.start..],
            I,
            dhidden[..n].as_flattened(),
            out.as_flattened_mut(),
        );
        Ok(())
    }
}
