//! `Dropout<N>`: in training, zeroes each feature with probability `rate` and scales the rest by
//! `1/(1 − rate)` (inverted dropout, as Keras); the identity at inference.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::kernels;
use crate::layer::{Layer, LayerInfo};
use crate::noise::Noise;

/// Dropout over `N` features.
#[derive(Clone, Copy, Debug, PartialEq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dropout<const N: usize> {
    rate: f32,
}

impl<const N: usize> Dropout<N> {
    /// Dropout with the given rate, clamped to `[0, 1)` (NaN becomes 0).
    pub fn new(rate: f32) -> Self {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 0.999_999)
        };
        Dropout { rate }
    }
    /// The fraction of features dropped in training.
    pub fn rate(&self) -> f32 {
        self.rate
    }
}

impl<const N: usize> Layer for Dropout<N> {
    type Input = [f32; N];
    type Output = [f32; N];
    type Params = ();
    /// The mask of the last training forward: `0` or `1/(1 − rate)` per feature.
    type Buffers<const B: usize> = [[f32; N]; B];
    const TRAINABLE: bool = false;

    fn init<R: Rng + ?Sized>(&self, _: &mut (), _: &mut R) {}

    fn forward<const B: usize>(
        &self,
        _: &(),
        x: &[[f32; N]],
        y: &mut [[f32; N]],
        mask: &mut [[f32; N]; B],
        noise: Option<Noise>,
    ) {
        let n = x.len();
        let (x, y) = (x.as_flattened(), y[..n].as_flattened_mut());
        match noise {
            Some(noise) if self.rate > 0.0 => {
                let mask = mask[..n].as_flattened_mut();
                // Counters run over (sample, feature) of the whole batch.
                let first = noise.first_sample.wrapping_mul(N as u32);
                kernels::dropout_mask(mask, self.rate, noise.key, first);
                kernels::mul(x, mask, y);
            }
            Some(_) => {
                mask[..n].as_flattened_mut().fill(1.0);
                y.copy_from_slice(x);
            }
            None => y.copy_from_slice(x),
        }
    }

    /// At inference dropout is the identity: the chain passes `x` on.
    fn view<'x>(&self, x: &'x [[f32; N]], training: bool) -> Option<&'x [[f32; N]]> {
        (!training).then_some(x)
    }

    fn backward<const B: usize>(
        &self,
        _: &(),
        x: &[[f32; N]],
        _: &[[f32; N]],
        dy: &[[f32; N]],
        mask: &mut [[f32; N]; B],
        dx: Option<&mut [[f32; N]]>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            let n = x.len();
            kernels::mul(
                dy.as_flattened(),
                mask[..n].as_flattened(),
                dx.as_flattened_mut(),
            );
        }
    }

    fn describe(&self, f: &mut dyn FnMut(&LayerInfo)) {
        f(&LayerInfo {
            kind: "Dropout",
            base_name: "dropout",
            output_shape: &[N],
            params: 0,
            tensors: &[],
            rate: Some(self.rate),
        });
    }
}
