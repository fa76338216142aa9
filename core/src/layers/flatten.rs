//! `Flatten<H, W, HW>`: an `H×W` image to a vector of `HW = H·W` features (row-major).
//!
//! Stable Rust cannot compute `H·W` in a type, so the product is a third parameter, checked at
//! compile time: `Flatten<28, 28, 784>` builds, `Flatten<28, 28, 780>` does not.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::layer::{Layer, LayerInfo};
use crate::noise::Noise;

/// Flattens `[[f32; W]; H]` into `[f32; HW]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flatten<const H: usize, const W: usize, const HW: usize>;

impl<const H: usize, const W: usize, const HW: usize> Flatten<H, W, HW> {
    const SHAPE_OK: () = assert!(H * W == HW, "Flatten<H, W, HW> needs HW == H * W");
    /// A new layer.
    pub const fn new() -> Self {
        let () = Self::SHAPE_OK;
        Flatten
    }
}

impl<const H: usize, const W: usize, const HW: usize> Layer for Flatten<H, W, HW> {
    type Input = [[f32; W]; H];
    type Output = [f32; HW];
    type Params = ();
    type Buffers<const B: usize> = ();
    const TRAINABLE: bool = false;

    fn init<R: Rng + ?Sized>(&self, _: &mut (), _: &mut R) {}

    fn forward<const B: usize>(
        &self,
        _: &(),
        x: &[[[f32; W]; H]],
        y: &mut [[f32; HW]],
        _: &mut (),
        _: Option<Noise>,
    ) {
        let () = Self::SHAPE_OK;
        for (yi, xi) in y.iter_mut().zip(x) {
            yi.copy_from_slice(xi.as_flattened());
        }
    }

    fn view<'x>(&self, x: &'x [[[f32; W]; H]], _: bool) -> Option<&'x [[f32; HW]]> {
        let () = Self::SHAPE_OK;
        Some(bytemuck::cast_slice(x))
    }

    fn backward<const B: usize>(
        &self,
        _: &(),
        _: &[[[f32; W]; H]],
        _: &[[f32; HW]],
        dy: &[[f32; HW]],
        _: &mut (),
        dx: Option<&mut [[[f32; W]; H]]>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            for (d, g) in dx.iter_mut().zip(dy) {
                d.as_flattened_mut().copy_from_slice(g);
            }
        }
    }

    fn describe(&self, f: &mut dyn FnMut(&LayerInfo)) {
        f(&LayerInfo {
            kind: "Flatten",
            base_name: "flatten",
            output_shape: &[HW],
            params: 0,
            tensors: &[],
            rate: None,
        });
    }
}
