//! `Softmax<N>`: probabilities from logits, `y = exp(x − max x) / Σ exp(x − max x)`.
//!
//! Training never backpropagates through this layer: the loss fuses softmax with
//! cross-entropy ([`crate::loss`]). Its backward (`dx = y ⊙ (dy − ⟨dy, y⟩)`) is here for
//! completeness and for models that put it elsewhere.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::kernels;
use crate::layer::{Layer, LayerInfo};
use crate::noise::Noise;

/// Softmax over `N` classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Softmax<const N: usize>;

impl<const N: usize> Softmax<N> {
    /// A new layer.
    pub const fn new() -> Self {
        Softmax
    }
}

impl<const N: usize> Layer for Softmax<N> {
    type Input = [f32; N];
    type Output = [f32; N];
    type Params = ();
    type Buffers<const B: usize> = ();
    const TRAINABLE: bool = false;

    fn init<R: Rng + ?Sized>(&self, _: &mut (), _: &mut R) {}

    fn forward<const B: usize>(
        &self,
        _: &(),
        x: &[[f32; N]],
        y: &mut [[f32; N]],
        _: &mut (),
        _: Option<Noise>,
    ) {
        kernels::softmax(N, x.as_flattened(), y[..x.len()].as_flattened_mut());
    }

    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &[[f32; N]],
        y: &[[f32; N]],
        dy: &[[f32; N]],
        _: &mut (),
        dx: Option<&mut [[f32; N]]>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            for ((d, yi), gi) in dx.iter_mut().zip(y).zip(dy) {
                let dot: f32 = yi.iter().zip(gi).map(|(a, b)| a * b).sum();
                for ((d, &y), &g) in d.iter_mut().zip(yi).zip(gi) {
                    *d = y * (g - dot);
                }
            }
        }
    }

    fn describe(&self, f: &mut dyn FnMut(&LayerInfo)) {
        f(&LayerInfo {
            kind: "Softmax",
            base_name: "softmax",
            output_shape: &[N],
            params: 0,
            tensors: &[],
            rate: None,
        });
    }
}
