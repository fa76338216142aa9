//! The Adam update, with the shards' gradient parts summed in order in the same pass.

use super::{Simd, ld, st};
use crate::kernels::{ADAM_FLUSH, AdamStep};

/// Where [`adam_with`] reads the gradient: one buffer, or parts summed in order. A trait with
/// force-inlined methods, not a closure (see `chunks!`).
trait GradParts<S: Simd> {
    /// The gradient's `n ≤ LANES` lanes at `i`.
    ///
    /// # Safety
    /// Every part readable at `i..i + n`.
    unsafe fn load(&self, s: S, i: usize, n: usize) -> S::F;
}

/// One gradient buffer.
struct One(*const f32);
/// Two parts: `g0 + g1`.
struct Two(*const f32, *const f32);
/// `((g0 + rest[0]) + rest[1]) + …`.
struct Many<'a>(*const f32, &'a [&'a [f32]]);

impl<S: Simd> GradParts<S> for One {
    #[inline(always)]
    unsafe fn load(&self, s: S, i: usize, n: usize) -> S::F {
        // SAFETY: the caller's contract.
        unsafe { ld(s, self.0.add(i), n) }
    }
}

impl<S: Simd> GradParts<S> for Two {
    #[inline(always)]
    unsafe fn load(&self, s: S, i: usize, n: usize) -> S::F {
        // SAFETY: the caller's contract.
        unsafe { s.add(ld(s, self.0.add(i), n), ld(s, self.1.add(i), n)) }
    }
}

impl<S: Simd> GradParts<S> for Many<'_> {
    #[inline(always)]
    unsafe fn load(&self, s: S, i: usize, n: usize) -> S::F {
        // SAFETY: the caller's contract.
        let mut g = unsafe { ld(s, self.0.add(i), n) };
        for part in self.1 {
            // SAFETY: the caller's contract.
            g = s.add(g, unsafe { ld(s, part.as_ptr().add(i), n) });
        }
        g
    }
}

/// Zero where `lo < x < hi` (`±ADAM_FLUSH`), `x` elsewhere, as portable's `flush` (NaN
/// compares false and stays).
#[inline(always)]
fn flush<S: Simd>(s: S, x: S::F, hi: S::F, lo: S::F, zero: S::F) -> S::F {
    s.select(s.mand(s.gt(hi, x), s.gt(x, lo)), zero, x)
}

/// Adam over `len` scalars, the gradient read from `g`.
///
/// # Safety
/// `w`, `m`, `v` and every part of `g` hold at least `len` scalars.
#[inline(always)]
unsafe fn adam_with<S: Simd>(
    s: S,
    len: usize,
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    step: AdamStep,
    g: impl GradParts<S>,
) {
    let (c1, c2) = (s.splat(step.rate1), s.splat(step.rate2));
    let (alpha, eps) = (s.splat(step.alpha), s.splat(step.eps));
    let (hi, lo, zero) = (s.splat(ADAM_FLUSH), s.splat(-ADAM_FLUSH), s.splat(0.0));
    let (pw, pm, pv) = (w.as_mut_ptr(), m.as_mut_ptr(), v.as_mut_ptr());
    chunks!(S, len, |i, n| {
        // SAFETY: `i + n ≤ len`, which the caller guarantees of all slices.
        unsafe {
            let gi = g.load(s, i, n);
            let mut mi = ld(s, pm.add(i), n);
            let mut vi = ld(s, pv.add(i), n);
            // Same operations, same order as portable: no contraction into FMA.
            mi = flush(s, s.add(mi, s.mul(s.sub(gi, mi), c1)), hi, lo, zero);
            vi = flush(
                s,
                s.add(vi, s.mul(s.sub(s.mul(gi, gi), vi), c2)),
                hi,
                lo,
                zero,
            );
            let step = s.div(s.mul(mi, alpha), s.add(s.sqrt(vi), eps));
            st(s, pw.add(i), n, s.sub(ld(s, pw.add(i), n), step));
            st(s, pm.add(i), n, mi);
            st(s, pv.add(i), n, vi);
        }
    });
}

/// Adam with the gradient summed from `grads` in order, lane-wise as portable does; one and
/// two parts (a single step, two shards) have loops of their own.
#[inline(always)]
pub(crate) fn adam_sum<S: Simd>(
    s: S,
    w: &mut [f32],
    grads: &[&[f32]],
    m: &mut [f32],
    v: &mut [f32],
    step: AdamStep,
) {
    let (first, rest) = grads
        .split_first()
        .expect("adam_sum needs at least one gradient");
    let len = rest.iter().fold(
        w.len().min(m.len()).min(v.len()).min(first.len()),
        |l, g| l.min(g.len()),
    );
    let p0 = first.as_ptr();
    // SAFETY (each arm): `len` is the shortest of `w`, `m`, `v` and every part.
    match rest {
        [] => unsafe { adam_with(s, len, w, m, v, step, One(p0)) },
        [g1] => unsafe { adam_with(s, len, w, m, v, step, Two(p0, g1.as_ptr())) },
        _ => unsafe { adam_with(s, len, w, m, v, step, Many(p0, rest)) },
    }
}
