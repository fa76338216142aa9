//! The [`Layer`] trait: one step of a model, forward and backward over a batch.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::noise::Noise;
use crate::params::Params;

/// A layer maps a batch of `Input`s to a batch of `Output`s.
///
/// Per-sample shapes are types (`[f32; 784]`, `[[f32; 28]; 28]`), so chaining two layers whose
/// shapes disagree is a compile error (see [`Chain`](crate::Chain)). The layer value itself is a
/// small configuration (e.g. the dropout rate); its weights live in [`Layer::Params`] and its
/// per-batch scratch space in [`Layer::Buffers`], so a host can build both zeroed on the heap and
/// a microcontroller can place them in `static`s.
pub trait Layer {
    /// One sample in.
    type Input: Copy + Zeroable + 'static;
    /// One sample out.
    type Output: Copy + Zeroable + 'static;
    /// Trainable tensors (`()` if none).
    type Params: Params;
    /// Scratch kept between forward and backward for a batch of up to `B` samples.
    type Buffers<const B: usize>: Zeroable;
    /// Whether this layer or any layer before it inside it has parameters. A chain skips the
    /// input gradient of a layer when nothing upstream of it can use it.
    const TRAINABLE: bool;

    /// Initializes parameters (Keras defaults).
    fn init<R: Rng + ?Sized>(&self, params: &mut Self::Params, rng: &mut R);

    /// `y = f(x)` for `x.len() ≤ B` samples. `noise` is `Some` in training (dropout active) and
    /// `None` at inference.
    fn forward<const B: usize>(
        &self,
        params: &Self::Params,
        x: &[Self::Input],
        y: &mut [Self::Output],
        buf: &mut Self::Buffers<B>,
        noise: Option<Noise>,
    );

    /// Given `x`, `y` and `dy = ∂L/∂y` from the last training forward, *accumulates nothing*:
    /// writes `∂L/∂params` into `grads` and, if `dx` is `Some`, `∂L/∂x` into it.
    #[allow(clippy::too_many_arguments)]
    fn backward<const B: usize>(
        &self,
        params: &Self::Params,
        x: &[Self::Input],
        y: &[Self::Output],
        dy: &[Self::Output],
        buf: &mut Self::Buffers<B>,
        dx: Option<&mut [Self::Input]>,
        grads: &mut Self::Params,
    );

    /// If this layer's output is its input as it is (a reshape such as `Flatten`, or `Dropout`
    /// at inference), that input seen as the output, so that a chain passes it on instead of
    /// copying it. `training` is whether the pass is a training one. The default is `None`:
    /// the layer computes its output in [`Layer::forward`].
    fn view<'x>(&self, x: &'x [Self::Input], training: bool) -> Option<&'x [Self::Output]> {
        let _ = (x, training);
        None
    }
    /// Calls `f` once per primitive layer, in order.
    fn describe(&self, f: &mut dyn FnMut(&LayerInfo));
}

/// What a summary, a model file or a firmware generator needs to know about a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerInfo {
    /// Keras class name, e.g. `"Dense"`.
    pub kind: &'static str,
    /// Keras base name for tensor paths, e.g. `"dense"` (the second one becomes `dense_1`).
    pub base_name: &'static str,
    /// Per-sample output shape (Keras prints it after a `None` batch dimension).
    pub output_shape: &'static [usize],
    /// Number of trainable scalars.
    pub params: usize,
    /// Named tensors in [`Params::visit`] order, with their shapes.
    pub tensors: &'static [TensorInfo],
    /// Dropout rate, for layers that have one.
    pub rate: Option<f32>,
}

/// One named parameter tensor of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorInfo {
    /// `"kernel"` or `"bias"`, as Keras names them.
    pub name: &'static str,
    /// Shape; Keras lays a Dense kernel out as `[in, out]`.
    pub shape: &'static [usize],
}
