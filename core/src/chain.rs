//! [`Chain`]: two layers in sequence, and the [`Sequential!`](crate::Sequential) /
//! [`sequential!`](crate::sequential) macros that nest chains the way Keras lists layers.
#![forbid(unsafe_code)]
// `derive(Zeroable)` repeats our struct bounds in a where clause of its impl.
#![allow(clippy::multiple_bound_locations)]

use bytemuck::Zeroable;
use rand_core::Rng;

use crate::aligned::Aligned;
use crate::layer::{Layer, LayerInfo};
use crate::noise::Noise;

/// `A` then `B`. The bound `B: Layer<Input = A::Output>` makes a shape mismatch between two
/// consecutive layers a compile error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Chain<A: Layer, B: Layer<Input = A::Output>>(pub A, pub B);

impl<A: Layer, B: Layer<Input = A::Output>> Layer for Chain<A, B> {
    type Input = A::Input;
    type Output = B::Output;
    type Params = (A::Params, B::Params);
    /// `A`'s scratch, the activations between `A` and `B`, their gradient, `B`'s scratch.
    type Buffers<const N: usize> = (
        A::Buffers<N>,
        Aligned<[A::Output; N]>,
        Aligned<[A::Output; N]>,
        B::Buffers<N>,
    );
    const TRAINABLE: bool = A::TRAINABLE || B::TRAINABLE;

    fn init<R: Rng + ?Sized>(&self, p: &mut Self::Params, rng: &mut R) {
        self.0.init(&mut p.0, rng);
        self.1.init(&mut p.1, rng);
    }

    fn forward<const N: usize>(
        &self,
        p: &Self::Params,
        x: &[A::Input],
        y: &mut [B::Output],
        buf: &mut Self::Buffers<N>,
        noise: Option<Noise>,
    ) {
        let (ba, mid, _, bb) = buf;
        let next = noise.map(Noise::next_layer);
        if let Some(view) = self.0.view(x, noise.is_some()) {
            self.1.forward(&p.1, view, y, bb, next);
        } else {
            let mid = &mut mid[..x.len()];
            self.0.forward(&p.0, x, mid, ba, noise);
            self.1.forward(&p.1, mid, y, bb, next);
        }
    }

    fn view<'x>(&self, x: &'x [A::Input], training: bool) -> Option<&'x [B::Output]> {
        self.1.view(self.0.view(x, training)?, training)
    }

    fn backward<const N: usize>(
        &self,
        p: &Self::Params,
        x: &[A::Input],
        y: &[B::Output],
        dy: &[B::Output],
        buf: &mut Self::Buffers<N>,
        dx: Option<&mut [A::Input]>,
        g: &mut Self::Params,
    ) {
        let n = x.len();
        let (ba, mid, dmid, bb) = buf;
        // What the training forward passed from A to B: A's view of `x`, or what A wrote.
        let mid = match self.0.view(x, true) {
            Some(view) => view,
            None => &mid[..n],
        };
        // The gradient between A and B is only worth computing if someone consumes it.
        let need_mid = A::TRAINABLE || dx.is_some();
        let dmid = &mut dmid[..n];
        self.1.backward(
            &p.1,
            mid,
            y,
            dy,
            bb,
            need_mid.then_some(&mut *dmid),
            &mut g.1,
        );
        if need_mid {
            self.0.backward(&p.0, x, &mid[..n], dmid, ba, dx, &mut g.0);
        }
    }

    fn describe(&self, f: &mut dyn FnMut(&LayerInfo)) {
        self.0.describe(f);
        self.1.describe(f);
    }
}

/// The type of a sequence of layers: `Sequential![Flatten<28, 28, 784>, Dense<784, 128>, …]`.
#[macro_export]
macro_rules! Sequential {
    ($l:ty $(,)?) => { $l };
    ($l:ty, $($rest:ty),+ $(,)?) => { $crate::Chain<$l, $crate::Sequential![$($rest),+]> };
}

/// A value of a sequence of layers: `sequential![Flatten::new(), Dense::new(), …]`.
#[macro_export]
macro_rules! sequential {
    ($l:expr $(,)?) => { $l };
    ($l:expr, $($rest:expr),+ $(,)?) => { $crate::Chain($l, $crate::sequential![$($rest),+]) };
}
