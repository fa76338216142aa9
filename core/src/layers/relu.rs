//! `Relu<N>`: `y = max(x, 0)`; backward passes the gradient where `y > 0`.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::kernels;
use crate::layer::{Layer, LayerInfo};
use crate::noise::Noise;

/// Rectified linear unit over `N` features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Relu<const N: usize>;

impl<const N: usize> Relu<N> {
    /// A new layer.
    pub const fn new() -> Self {
        Relu
    }
}

impl<const N: usize> Layer for Relu<N> {
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
        let y = &mut y[..x.len()];
        y.copy_from_slice(x);
        kernels::relu(y.as_flattened_mut());
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
            kernels::relu_backward(y.as_flattened(), dy.as_flattened(), dx.as_flattened_mut());
        }
    }

    fn describe(&self, f: &mut dyn FnMut(&LayerInfo)) {
        f(&LayerInfo {
            kind: "ReLU",
            base_name: "re_lu",
            output_shape: &[N],
            params: 0,
            tensors: &[],
            rate: None,
        });
    }
}
