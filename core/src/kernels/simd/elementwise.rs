//! Elementwise kernels and column sums, bitwise identical to [`crate::kernels::portable`]:
//! same operations in the same order, no FMA contraction.

use super::{Simd, ld, size, st};

#[inline(always)]
pub(crate) fn relu<S: Simd>(s: S, x: &mut [f32]) {
    let p = x.as_mut_ptr();
    chunks!(S, x.len(), |i, w| {
        // SAFETY: `chunks` yields `i + w ≤ x.len()`.
        unsafe {
            st(s, p.add(i), w, s.relu(ld(s, p.add(i), w)));
        }
    });
}

/// `dst[i] = src[i] / 255` correctly rounded: `q = x·(1/255)`, then one FMA correction
/// `q + (x − 255·q)·(1/255)`, which is exact for all 256 byte values (tested exhaustively).
#[inline(always)]
pub(crate) fn bytes_to_unit<S: Simd>(s: S, src: &[u8], dst: &mut [f32]) {
    let len = src.len().min(dst.len());
    let (inv, minus255) = (s.splat(1.0 / 255.0), s.splat(-255.0));
    let (ps, pd) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i + S::LANES <= len {
        // SAFETY: `i + LANES ≤ len`, within both slices.
        unsafe {
            let x = s.i32_to_f32(s.load_bytes(ps.add(i)));
            let q = s.mul(x, inv);
            // The residual `x - 255·q`, exact in one FMA; `q + r/255` is then correctly rounded.
            let r = s.fma(q, minus255, x);
            s.store(pd.add(i), s.fma(r, inv, q));
        }
        i += S::LANES;
    }
    crate::kernels::portable::bytes_to_unit(&src[i..len], &mut dst[i..len]);
}

#[inline(always)]
pub(crate) fn relu_backward<S: Simd>(s: S, y: &[f32], dy: &[f32], dx: &mut [f32]) {
    let len = dx.len().min(y.len()).min(dy.len());
    let zero = s.splat(0.0);
    let (py, pg, pd) = (y.as_ptr(), dy.as_ptr(), dx.as_mut_ptr());
    chunks!(S, len, |i, w| {
        // SAFETY: `i + w ≤ len`, the shortest of the three slices.
        unsafe {
            let (o, g) = (ld(s, py.add(i), w), ld(s, pg.add(i), w));
            st(s, pd.add(i), w, s.select(s.gt(o, zero), g, zero));
        }
    });
}

#[inline(always)]
pub(crate) fn mul<S: Simd>(s: S, a: &[f32], b: &[f32], out: &mut [f32]) {
    let len = out.len().min(a.len()).min(b.len());
    let (pa, pb, po) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    chunks!(S, len, |i, w| {
        // SAFETY: `i + w ≤ len`, the shortest of the three slices.
        unsafe {
            let v = s.mul(ld(s, pa.add(i), w), ld(s, pb.add(i), w));
            st(s, po.add(i), w, v);
        }
    });
}

#[inline(always)]
pub(crate) fn sgd<S: Simd>(s: S, w: &mut [f32], g: &[f32], lr: f32) {
    let len = w.len().min(g.len());
    let lr = s.splat(lr);
    let (pw, pg) = (w.as_mut_ptr(), g.as_ptr());
    chunks!(S, len, |i, n| {
        // SAFETY: `i + n ≤ len`, the shorter slice.
        unsafe {
            let v = s.sub(ld(s, pw.add(i), n), s.mul(lr, ld(s, pg.add(i), n)));
            st(s, pw.add(i), n, v);
        }
    });
}

#[inline(always)]
pub(crate) fn column_sums<S: Simd>(s: S, m: usize, n: usize, a: &[f32], out: &mut [f32]) {
    let out = &mut out[..n];
    let a = &a[..size(m, n)];
    let (pa, po) = (a.as_ptr(), out.as_mut_ptr());
    // Each lane sums its column over the rows in order: the same additions as portable.
    // Columns in blocks of 4 vectors to keep several independent sums in flight.
    let mut j = 0;
    while j + 4 * S::LANES <= n {
        let mut acc = [s.splat(0.0); 4];
        for i in 0..m {
            for (v, acc) in acc.iter_mut().enumerate() {
                // SAFETY: `i < m`, `j + 4·LANES ≤ n`: inside `a[..m·n]`.
                *acc = s.add(*acc, unsafe { s.load(pa.add(i * n + j + v * S::LANES)) });
            }
        }
        for (v, acc) in acc.iter().enumerate() {
            // SAFETY: `j + 4·LANES ≤ n = out.len()`.
            unsafe { s.store(po.add(j + v * S::LANES), *acc) };
        }
        j += 4 * S::LANES;
    }
    chunks!(S, n - j, |jj, w| {
        let mut acc = s.splat(0.0);
        for i in 0..m {
            // SAFETY: `j + jj + w ≤ n`, `i < m`: inside `a[..m·n]`.
            acc = s.add(acc, unsafe { ld(s, pa.add(i * n + j + jj), w) });
        }
        // SAFETY: `j + jj + w ≤ n = out.len()`.
        unsafe { st(s, po.add(j + jj), w, acc) };
    });
}
