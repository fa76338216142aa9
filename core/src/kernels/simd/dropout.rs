//! Dropout masks from a counter-based hash, lane by lane as portable draws them.

use super::{Simd, st};

/// `fmix32` lane-wise ([`crate::noise::fmix32`]).
#[inline(always)]
fn fmix32<S: Simd>(s: S, mut x: S::U) -> S::U {
    x = s.uxor(x, s.shr16(x));
    x = s.umul(x, s.usplat(0x85eb_ca6b));
    x = s.uxor(x, s.shr13(x));
    x = s.umul(x, s.usplat(0xc2b2_ae35));
    s.uxor(x, s.shr16(x))
}

#[inline(always)]
pub(crate) fn dropout_mask<S: Simd>(s: S, mask: &mut [f32], rate: f32, key: u64, first: u32) {
    let scale = s.splat(crate::kernels::portable::dropout_scale(rate));
    let zero = s.splat(0.0);
    let threshold = crate::kernels::portable::dropout_threshold(rate);
    let (klo, khi) = (s.usplat(key as u32), s.usplat((key >> 32) as u32));
    let thr = s.usplat(threshold.min(u64::from(u32::MAX)) as u32);
    let iota = s.iota();
    let p = mask.as_mut_ptr();
    // Lane j of chunk i counts `first + i + j` (wrapping, like portable's u32 counter).
    chunks!(S, mask.len(), |i, w| {
        let ctr = s.uadd(s.usplat(first.wrapping_add(i as u32)), iota);
        let r = fmix32(s, s.uxor(fmix32(s, s.uxor(ctr, klo)), khi));
        let v = if threshold > u64::from(u32::MAX) {
            zero // rate ≥ 1: every word is below 2³²
        } else {
            s.select(s.ult(r, thr), zero, scale)
        };
        // SAFETY: `chunks` yields `i + w ≤ mask.len()`.
        unsafe { st(s, p.add(i), w, v) };
    });
}
