//! `Dense<IN, OUT>`: `y = x·W + b`, with `W` stored `[IN][OUT]` as Keras stores its kernel.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::init::glorot_uniform;
use crate::kernels;
use crate::layer::{Layer, LayerInfo, TensorInfo};
use crate::noise::Noise;
use crate::params::Params;

/// A fully connected layer with `IN` inputs and `OUT` outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dense<const IN: usize, const OUT: usize>;

/// The weights of a [`Dense`] layer, aligned to a cache line so that the kernels' vector loads
/// of whole rows never straddle two lines.
#[derive(Clone, Copy, Debug, Zeroable)]
#[repr(C, align(64))]
pub struct DenseParams<const IN: usize, const OUT: usize> {
    /// `kernel[i][o]`: weight from input `i` to output `o` (Keras `dense/kernel`, `[IN, OUT]`).
    pub kernel: [[f32; OUT]; IN],
    /// Keras `dense/bias`, `[OUT]`.
    pub bias: [f32; OUT],
}

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// A new layer (weights are held apart, in [`DenseParams`]).
    pub const fn new() -> Self {
        Dense
    }
    const TENSORS: &'static [TensorInfo] = &[
        TensorInfo {
            name: "kernel",
            shape: &[IN, OUT],
        },
        TensorInfo {
            name: "bias",
            shape: &[OUT],
        },
    ];
}

impl<const IN: usize, const OUT: usize> Params for DenseParams<IN, OUT> {
    const COUNT: usize = IN * OUT + OUT;
    const TENSORS: usize = 2;
    fn tensor(&self, i: usize) -> &[f32] {
        match i {
            0 => self.kernel.as_flattened(),
            1 => &self.bias,
            _ => &[],
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        match i {
            0 => self.kernel.as_flattened_mut(),
            1 => &mut self.bias,
            _ => &mut [],
        }
    }
    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a [f32])) {
        f(self.kernel.as_flattened());
        f(&self.bias);
    }
    fn visit_mut(&mut self, f: &mut impl FnMut(&mut [f32])) {
        f(self.kernel.as_flattened_mut());
        f(&mut self.bias);
    }
    fn zip_mut(&mut self, o: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        f(self.kernel.as_flattened_mut(), o.kernel.as_flattened());
        f(&mut self.bias, &o.bias);
    }
    fn zip4_mut(
        &mut self,
        g: &Self,
        m: &mut Self,
        v: &mut Self,
        f: &mut impl FnMut(&mut [f32], &[f32], &mut [f32], &mut [f32]),
    ) {
        f(
            self.kernel.as_flattened_mut(),
            g.kernel.as_flattened(),
            m.kernel.as_flattened_mut(),
            v.kernel.as_flattened_mut(),
        );
        f(&mut self.bias, &g.bias, &mut m.bias, &mut v.bias);
    }
}

impl<const IN: usize, const OUT: usize> Layer for Dense<IN, OUT> {
    type Input = [f32; IN];
    type Output = [f32; OUT];
    type Params = DenseParams<IN, OUT>;
    type Buffers<const B: usize> = ();
    const TRAINABLE: bool = true;

    fn init<R: Rng + ?Sized>(&self, p: &mut Self::Params, rng: &mut R) {
        glorot_uniform(IN, OUT, p.kernel.as_flattened_mut(), rng);
        p.bias.fill(0.0);
    }

    fn forward<const B: usize>(
        &self,
        p: &Self::Params,
        x: &[[f32; IN]],
        y: &mut [[f32; OUT]],
        _: &mut (),
        _: Option<Noise>,
    ) {
        let n = x.len();
        kernels::matmul_bias(
            n,
            IN,
            OUT,
            x.as_flattened(),
            p.kernel.as_flattened(),
            &p.bias,
            y.as_flattened_mut(),
        );
    }

    fn backward<const B: usize>(
        &self,
        p: &Self::Params,
        x: &[[f32; IN]],
        _: &[[f32; OUT]],
        dy: &[[f32; OUT]],
        _: &mut (),
        dx: Option<&mut [[f32; IN]]>,
        g: &mut Self::Params,
    ) {
        let n = x.len();
        kernels::matmul_tn(
            n,
            IN,
            OUT,
            x.as_flattened(),
            dy.as_flattened(),
            g.kernel.as_flattened_mut(),
        );
        kernels::column_sums(n, OUT, dy.as_flattened(), &mut g.bias);
        if let Some(dx) = dx {
            kernels::matmul_nt(
                n,
                IN,
                OUT,
                dy.as_flattened(),
                p.kernel.as_flattened(),
                dx.as_flattened_mut(),
            );
        }
    }

    fn describe(&self, f: &mut dyn FnMut(&LayerInfo)) {
        f(&LayerInfo {
            kind: "Dense",
            base_name: "dense",
            output_shape: &[OUT],
            params: <DenseParams<IN, OUT> as Params>::COUNT,
            tensors: Self::TENSORS,
            rate: None,
        });
    }
}
