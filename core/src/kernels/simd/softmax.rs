//! Softmax and fused softmax cross-entropy, bitwise identical to portable: `expf` transcribed
//! from libm, sequential row sums.

use super::{Simd, ld, st};

/// `libm::expf` (FreeBSD's `e_expf.c`), lane by lane, every branch computed and selected.
#[inline(always)]
pub(crate) fn expf<S: Simd>(s: S, x: S::F) -> S::F {
    const LN2_HI: f32 = 6.931_457_5e-1;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const INV_LN2: f32 = 1.442_695_1;
    const P1: f32 = 1.666_662_5e-1;
    const P2: f32 = -2.766_733_3e-3;
    let bits = s.to_bits(x);
    let hx = s.uand(bits, s.usplat(0x7fff_ffff));
    let negative = s.ugt(bits, s.usplat(0x7fff_ffff));
    // Argument reduction: k = round(x/ln2) for |x| > 1.5 ln2, ±1 for 0.5 ln2 < |x| ≤ 1.5 ln2,
    // 0 below (where hi = x, lo = 0 is what `x − 0·LN2_HI`, `0·LN2_LO` compute exactly).
    let half = s.select(negative, s.splat(-0.5), s.splat(0.5));
    let k_big = s.trunc_i32(s.add(s.mul(s.splat(INV_LN2), x), half));
    let k_one = s.uselect(negative, s.usplat(-1i32 as u32), s.usplat(1));
    let k = s.uselect(
        s.ugt(hx, s.usplat(0x3f85_1592)),
        k_big,
        s.uselect(s.ugt(hx, s.usplat(0x3eb1_7218)), k_one, s.usplat(0)),
    );
    let kf = s.i32_to_f32(k);
    let hi = s.sub(x, s.mul(kf, s.splat(LN2_HI)));
    let lo = s.mul(kf, s.splat(LN2_LO));
    let r = s.sub(hi, lo);
    let rr = s.mul(r, r);
    let c = s.sub(r, s.mul(rr, s.add(s.splat(P1), s.mul(rr, s.splat(P2)))));
    let y = s.add(
        s.splat(1.0),
        s.add(s.sub(s.div(s.mul(r, c), s.sub(s.splat(2.0), c)), lo), hi),
    );
    // scalbnf(y, k) for k in [-150, 128]: pre-scale by 2¹²⁷ or 2⁻¹⁰² out of the normal range.
    let big = s.igt(k, s.usplat(127));
    let small = s.igt(s.usplat(-126i32 as u32), k);
    let pre = s.select(
        big,
        s.splat(f32::from_bits(0x7f00_0000)),
        s.select(small, s.splat(f32::from_bits(0x0c80_0000)), s.splat(1.0)),
    );
    let n = s.uselect(
        big,
        s.usub(k, s.usplat(127)),
        s.uselect(small, s.uadd(k, s.usplat(102)), k),
    );
    let scale = s.bits_as_f32(s.shl23(s.uadd(n, s.usplat(0x7f))));
    let y = s.mul(s.mul(y, pre), scale);
    // Special cases, in libm's order of precedence.
    let tiny = s.ugt(s.usplat(0x3900_0001), hx); // |x| ≤ 2⁻¹⁴: 1 + x
    let y = s.select(tiny, s.add(s.splat(1.0), x), y);
    let under = s.mand(negative, s.ugt(hx, s.usplat(0x42cf_f1b4))); // x ≤ -103.97: 0
    let y = s.select(under, s.splat(0.0), y);
    let over = s.mand(
        s.ugt(s.usplat(0x8000_0000), bits),
        s.ugt(hx, s.usplat(0x42b1_7217)),
    ); // x ≥ 88.72
    let y = s.select(over, s.mul(x, s.splat(f32::from_bits(0x7f00_0000))), y);
    let nan = s.ugt(hx, s.usplat(0x7f80_0000));
    s.select(nan, x, y)
}

/// `x = expf(x)` elementwise (tests).
#[cfg(test)]
#[inline(always)]
pub(crate) fn expf_in_place<S: Simd>(s: S, x: &mut [f32]) {
    let p = x.as_mut_ptr();
    chunks!(S, x.len(), |i, w| {
        // SAFETY: `chunks` yields `i + w ≤ x.len()`.
        unsafe { st(s, p.add(i), w, expf(s, ld(s, p.add(i), w))) };
    });
}

/// `out[..w] = expf(z[..w] − max)` for a row, returning the sequential sum (portable's order).
///
/// # Safety
/// `z..z + w` readable, `o..o + w` writable.
#[inline(always)]
unsafe fn exp_row<S: Simd>(s: S, w: usize, z: *const f32, max: f32, o: *mut f32) -> f32 {
    let maxv = s.splat(max);
    chunks!(S, w, |i, n| {
        // SAFETY: `i + n ≤ w`, inside both rows (caller's contract).
        unsafe {
            let e = expf(s, s.sub(ld(s, z.add(i), n), maxv));
            st(s, o.add(i), n, e);
        }
    });
    let mut sum = 0.0;
    for i in 0..w {
        // SAFETY: `i < w`: inside the row just written.
        sum += unsafe { *o.add(i) };
    }
    sum
}

/// `o[..w] *= f`.
///
/// # Safety
/// `o..o + w` readable and writable.
#[inline(always)]
unsafe fn scale_row<S: Simd>(s: S, w: usize, o: *mut f32, f: f32) {
    let f = s.splat(f);
    chunks!(S, w, |i, n| {
        // SAFETY: `i + n ≤ w`, inside the row (caller's contract).
        unsafe { st(s, o.add(i), n, s.mul(ld(s, o.add(i), n), f)) };
    });
}

/// Maximum of a row with NaNs ignored (`fold(−∞, f32::max)`; the sign of a zero maximum may
/// differ, which changes neither `x − max` under `expf` nor `max + log(sum)`).
///
/// # Safety
/// `z..z + w` readable.
#[inline(always)]
unsafe fn row_max<S: Simd>(s: S, w: usize, z: *const f32) -> f32 {
    let mut acc = s.splat(f32::NEG_INFINITY);
    let mut i = 0;
    while i + S::LANES <= w {
        // SAFETY: `i + LANES ≤ w`.
        acc = s.max_ignore_nan(unsafe { s.load(z.add(i)) }, acc);
        i += S::LANES;
    }
    let mut lanes = [f32::NEG_INFINITY; 16];
    debug_assert!(S::LANES <= 16);
    // SAFETY: `lanes` holds 16 ≥ LANES floats.
    unsafe { s.store_part(lanes.as_mut_ptr(), S::LANES, acc) };
    let mut max = lanes[..S::LANES]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    while i < w {
        // SAFETY: `i < w`.
        max = max.max(unsafe { *z.add(i) });
        i += 1;
    }
    max
}

#[inline(always)]
pub(crate) fn softmax<S: Simd>(s: S, n: usize, x: &[f32], out: &mut [f32]) {
    assert!(n != 0, "softmax of rows of width 0");
    let rows = (x.len() / n).min(out.len() / n);
    let (px, po) = (x.as_ptr(), out.as_mut_ptr());
    for r in 0..rows {
        // SAFETY: `r < rows` ⇒ `(r + 1)·n ≤ len` of both slices.
        unsafe {
            let (z, o) = (px.add(r * n), po.add(r * n));
            let max = row_max(s, n, z);
            let sum = exp_row(s, n, z, max, o);
            scale_row(s, n, o, 1.0 / sum);
        }
    }
}

#[inline(always)]
pub(crate) fn softmax_cross_entropy<S: Simd>(
    s: S,
    n: usize,
    logits: &[f32],
    labels: &[u8],
    grad_scale: f32,
    grad: &mut [f32],
) -> (f32, u32) {
    assert!(n != 0, "softmax of rows of width 0");
    let rows = (logits.len() / n).min(grad.len() / n).min(labels.len());
    let mut loss = 0.0;
    let mut correct = 0;
    for r in 0..rows {
        let z = &logits[r * n..(r + 1) * n];
        let y = usize::from(labels[r]);
        let zy = z[y]; // panics on a label ≥ n, as portable does
        let (arg, max) = crate::kernels::portable::argmax(z);
        let o = grad[r * n..(r + 1) * n].as_mut_ptr();
        // SAFETY: `z` and `o` are rows of width `n` (slices just taken).
        let sum = unsafe { exp_row(s, n, z.as_ptr(), max, o) };
        loss += libm::logf(sum) - (zy - max); // as portable rounds it
        // SAFETY: `o` is a row of width `n`.
        unsafe { scale_row(s, n, o, grad_scale / sum) };
        grad[r * n + y] -= grad_scale;
        correct += u32::from(arg == y);
    }
    (loss, correct)
}
