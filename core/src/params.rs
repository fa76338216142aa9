//! Parameter sets: every trainable tensor of a layer or model, visited in a fixed order.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;

/// A fixed set of `f32` tensors (weights, or their gradients, or optimizer moments: all share
/// one type, so they line up tensor by tensor). Build big ones zeroed in place
/// (`bytemuck::zeroed_box` on a host) and let the model's `init` fill them.
pub trait Params: Zeroable {
    /// Total number of scalars.
    const COUNT: usize;
    /// Number of tensors.
    const TENSORS: usize;
    /// Tensor `i` (in visit order) as a flat slice; empty if `i ≥ TENSORS`.
    fn tensor(&self, i: usize) -> &[f32];
    /// Tensor `i` mutably; empty if `i ≥ TENSORS`.
    fn tensor_mut(&mut self, i: usize) -> &mut [f32];
    /// Visits each tensor as a flat slice, in the order the model describes them.
    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a [f32]));
    /// Visits each tensor mutably, same order.
    fn visit_mut(&mut self, f: &mut impl FnMut(&mut [f32]));
    /// Visits `self` and `other` tensor by tensor.
    fn zip_mut(&mut self, other: &Self, f: &mut impl FnMut(&mut [f32], &[f32]));
    /// Visits `self`, `g`, `m`, `v` tensor by tensor (an Adam update).
    fn zip4_mut(
        &mut self,
        g: &Self,
        m: &mut Self,
        v: &mut Self,
        f: &mut impl FnMut(&mut [f32], &[f32], &mut [f32], &mut [f32]),
    );

    /// Sets every scalar to zero.
    fn fill_zero(&mut self) {
        self.visit_mut(&mut |t| t.fill(0.0));
    }
    /// Copies every tensor of `other` into `self`.
    fn copy_from(&mut self, other: &Self) {
        self.zip_mut(other, &mut |d, s| d.copy_from_slice(s));
    }
    /// `true` if every scalar is finite (no NaN, no ±∞).
    fn all_finite(&self) -> bool {
        let mut ok = true;
        self.visit(&mut |t| ok &= t.iter().all(|v| v.is_finite()));
        ok
    }
}

/// Layers without parameters.
impl Params for () {
    const COUNT: usize = 0;
    const TENSORS: usize = 0;
    fn tensor(&self, _: usize) -> &[f32] {
        &[]
    }
    fn tensor_mut(&mut self, _: usize) -> &mut [f32] {
        &mut []
    }
    fn visit<'a>(&'a self, _: &mut impl FnMut(&'a [f32])) {}
    fn visit_mut(&mut self, _: &mut impl FnMut(&mut [f32])) {}
    fn zip_mut(&mut self, _: &Self, _: &mut impl FnMut(&mut [f32], &[f32])) {}
    fn zip4_mut(
        &mut self,
        _: &Self,
        _: &mut Self,
        _: &mut Self,
        _: &mut impl FnMut(&mut [f32], &[f32], &mut [f32], &mut [f32]),
    ) {
    }
}

/// Two parameter sets in sequence (a [`Chain`](crate::Chain) of layers).
impl<A: Params, B: Params> Params for (A, B) {
    const COUNT: usize = A::COUNT + B::COUNT;
    const TENSORS: usize = A::TENSORS + B::TENSORS;
    fn tensor(&self, i: usize) -> &[f32] {
        if i < A::TENSORS {
            self.0.tensor(i)
        } else {
            self.1.tensor(i - A::TENSORS)
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        if i < A::TENSORS {
            self.0.tensor_mut(i)
        } else {
            self.1.tensor_mut(i - A::TENSORS)
        }
    }
    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a [f32])) {
        self.0.visit(f);
        self.1.visit(f);
    }
    fn visit_mut(&mut self, f: &mut impl FnMut(&mut [f32])) {
        self.0.visit_mut(f);
        self.1.visit_mut(f);
    }
    fn zip_mut(&mut self, o: &Self, f: &mut impl FnMut(&mut [f32], &[f32])) {
        self.0.zip_mut(&o.0, f);
        self.1.zip_mut(&o.1, f);
    }
    fn zip4_mut(
        &mut self,
        g: &Self,
        m: &mut Self,
        v: &mut Self,
        f: &mut impl FnMut(&mut [f32], &[f32], &mut [f32], &mut [f32]),
    ) {
        self.0.zip4_mut(&g.0, &mut m.0, &mut v.0, f);
        self.1.zip4_mut(&g.1, &mut m.1, &mut v.1, f);
    }
}
