//! Training gradients with the first `Dense` layer's product left to the caller, one range of
//! its output columns at a time.
//!
//! A data-parallel host gives each core a range of the first layer's output columns (a
//! contiguous panel of the kernel's columns, with its Adam moments): the core computes those
//! columns of the layer's output for the whole batch ([`Classifier::first_layer_columns`]),
//! the tail of the network then runs per shard of samples ([`Classifier::tail_gradients`],
//! every gradient but the first kernel's, into a [`TailGrads`]), and each core computes
//! its columns of the first kernel's gradient ([`Classifier::first_kernel_columns_gradient`])
//! and updates them. Every weight of the first kernel is then read and written by one core
//! only. Each output and gradient element is the same chain of products in the same order as
//! in [`Classifier::gradients`], whatever the columns, so the results are the same bits.
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
use crate::loss::sparse_categorical_crossentropy;
use crate::model::{Classifier, Workspace, check_batch};
use crate::noise::Noise;
use crate::params::Params;

/// The parameters of a `Flatten → Dense<I, O> → T` chain.
type ChainParams<const I: usize, const O: usize, T> =
    ((), (crate::layers::DenseParams<I, O>, <T as Layer>::Params));

/// A `Flatten<H, W, I> → Dense<I, O> → T` chain.
type Net<const H: usize, const W: usize, const I: usize, const O: usize, T> =
    Chain<Flatten<H, W, I>, Chain<Dense<I, O>, T>>;

/// The gradients [`Classifier::tail_gradients`] computes for a `Flatten → Dense<I, O> → T`
/// chain: every one but the first kernel's. Its tensor `i` is the model's tensor `i + 1`.
#[derive(Clone, Copy, Debug, Zeroable)]
#[repr(C, align(64))]
pub struct TailGrads<const O: usize, P> {
    /// The first `Dense` layer's bias.
    pub bias: [f32; O],
    /// The layers after it (`T`'s parameters).
    pub rest: P,
}

impl<const O: usize, P: Params> TailGrads<O, P> {
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

impl<
    const H: usize,
    const W: usize,
    const I: usize,
    const O: usize,
    T,
    const C: usize,
    const B: usize,
> Workspace<Net<H, W, I, O, T>, C, B>
where
    T: Layer<Input = [f32; O], Output = [f32; C]>,
{
    /// The first `Dense` layer's outputs (before the activation that follows it): what
    /// [`Classifier::tail_gradients`] starts from.
    pub fn first_layer_output_mut(&mut self) -> &mut [[f32; O]; B] {
        let (_, _, _, (_, hidden, _, _)) = &mut self.buffers;
        hidden
    }

    /// `∂loss/∂` those outputs, from the last [`Classifier::tail_gradients`].
    pub fn first_layer_output_grad(&self) -> &[[f32; O]; B] {
        let (_, _, _, (_, _, dhidden, _)) = &self.buffers;
        dhidden
    }
}

impl<const H: usize, const W: usize, const I: usize, const O: usize, T, const C: usize>
    Classifier<Net<H, W, I, O, T>, C>
where
    T: Layer<Input = [f32; O], Output = [f32; C]>,
{
    /// The training pass after the first `Dense` layer's product: from its outputs (written
    /// through [`Workspace::first_layer_output_mut`] for the `n` samples of `ws`'s labels),
    /// the forward of `T`, the loss, and every gradient but the first kernel's, which is left
    /// to [`Self::first_kernel_columns_gradient`]. `noise` is the whole model's (the pass
    /// derives `T`'s from it as [`Classifier::gradients`] does). Returns the summed loss and
    /// the number of correct predictions.
    #[allow(clippy::too_many_arguments)]
    pub fn tail_gradients<const B: usize>(
        &self,
        params: &ChainParams<I, O, T>,
        grads: &mut TailGrads<O, T::Params>,
        ws: &mut Workspace<Net<H, W, I, O, T>, C, B>,
        n: usize,
        noise: Noise,
        grad_scale: f32,
    ) -> Result<(f32, u32), Error> {
        check_batch::<B>(n)?;
        let Workspace {
            labels,
            logits,
            dlogits,
            buffers,
            ..
        } = ws;
        let Chain(_, Chain(_, rest)) = &self.layers;
        let (_, _, _, (_, hidden, dhidden, rest_buffers)) = buffers;
        // `Chain::forward` moves the noise on once per level: `T` is two levels down.
        let noise = noise.next_layer().next_layer();
        rest.forward(
            &params.1.1,
            &hidden[..n],
            &mut logits[..n],
            rest_buffers,
            Some(noise),
        );
        let stats =
            sparse_categorical_crossentropy(&logits[..n], &labels[..n], grad_scale, dlogits)?;
        // What `Chain::backward` does for this chain, less the first kernel's product:
        // `Flatten` has no parameters and no one wants `∂L/∂input`, so it is skipped.
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

    /// Columns `cols` of the first `Dense` layer's outputs for the inputs `x`, into `out`
    /// (`x.len()` rows of `cols.len()`), from those columns of its kernel as a contiguous
    /// panel `kernel_cols` (`I` rows of `cols.len()`) and the layer's `bias`: the same bits as
    /// those columns of the training forward's outputs.
    ///
    /// # Panics
    /// If `cols` reaches past `O`, or `kernel_cols` or `out` is shorter than stated.
    pub fn first_layer_columns(
        &self,
        x: &[[[f32; W]; H]],
        kernel_cols: &[f32],
        bias: &[f32; O],
        cols: Range<usize>,
        out: &mut [f32],
    ) {
        let (n, width) = (x.len(), cols.len());
        assert!(
            cols.start <= cols.end && cols.end <= O,
            "first_layer_columns: columns {cols:?} of {O}"
        );
        kernels::matmul_bias(
            n,
            I,
            width,
            x.as_flattened().as_flattened(),
            &kernel_cols[..I * width],
            &bias[cols],
            &mut out[..n * width],
        );
    }

    /// Columns `cols` of the first `Dense` kernel's gradient (`Xᵀ·∂L/∂h` over the inputs
    /// `x`), into `out` (`I` rows of `cols.len()`), with `scratch` room for `x.len()` rows of
    /// `cols.len()` (unused if `cols` is all of them), and `dh` the first layer's output
    /// gradient of the same samples ([`Workspace::first_layer_output_grad`]): the same bits
    /// as those columns of [`Classifier::gradients`]' result.
    ///
    /// # Panics
    /// If `cols` reaches past `O`, `dh` is shorter than `x`, or `out` or `scratch` is
    /// shorter than stated.
    pub fn first_kernel_columns_gradient(
        &self,
        x: &[[[f32; W]; H]],
        dh: &[[f32; O]],
        cols: Range<usize>,
        scratch: &mut [f32],
        out: &mut [f32],
    ) {
        let (n, width) = (x.len(), cols.len());
        assert!(
            cols.start <= cols.end && cols.end <= O,
            "first_kernel_columns_gradient: columns {cols:?} of {O}"
        );
        let dh = &dh[..n];
        let dh_cols: &[f32] = if width == O {
            // All of them: the rows are contiguous already.
            dh.as_flattened()
        } else {
            let copy = &mut scratch[..n * width];
            if width > 0 {
                for (d, row) in copy.chunks_exact_mut(width).zip(dh) {
                    d.copy_from_slice(&row[cols.clone()]);
                }
            }
            copy
        };
        kernels::matmul_tn(
            n,
            I,
            width,
            x.as_flattened().as_flattened(),
            dh_cols,
            &mut out[..I * width],
        );
    }
}
