//! The kernels written once over a vector abstraction ([`Simd`]) and instantiated by each
//! architecture module (`x86_avx2`, `x86_avx512`, `aarch64_neon`) inside a
//! `#[target_feature]` function, so that every `#[inline(always)]` operation here compiles to
//! that architecture's instructions.
//!
//! A `Simd` value is a zero-sized *proof token*: an architecture module hands one out only after
//! checking that the CPU (and OS) support its instructions. That is what makes the vector
//! operations safe to call; only the raw-pointer loads and stores are `unsafe`, and every use is
//! preceded by the length checks that keep it in bounds.
//!
//! # Numerics
//!
//! * Elementwise kernels (`relu`, `relu_backward`, `mul`, `dropout_mask`, `adam_sum`, `sgd`) and
//!   `column_sums`, `softmax`, `softmax_cross_entropy` are **bitwise identical** to
//!   [`super::portable`]: same operations in the same order, no FMA contraction; `expf` is a
//!   lane-wise transcription of `libm::expf`; the row sums of the softmax stay sequential.
//! * The matmuls use FMA. Each output element of `matmul_bias`/`matmul_tn` is still the
//!   sequential sum over the shared index in increasing order, skipping exact zeros of `A` like
//!   the portable kernel, but each step is one fused multiply-add instead of a multiply and an
//!   add: the result differs from portable by at most the rounding of the products (relative
//!   error `≤ k·2⁻²⁴` of the sum of absolute terms, the usual dot-product bound), and it is
//!   **the same on every SIMD path** (AVX2, AVX-512 and NEON agree bit for bit). `matmul_nt`
//!   reduces in vector lanes first, so its order differs (same error bound).
//! * `bytes_to_unit` multiplies by the rounded reciprocal of 255 and corrects with an FMA on the
//!   exact residual: the result is correctly rounded, hence **equal** to portable's table of
//!   `b / 255` for all 256 byte values (tested exhaustively).
//! * Zero skipping is exact: a skipped `A` entry contributes nothing at all, so non-finite
//!   values of `B` facing a zero of `A` and `-0.0` sums behave as in portable.
#![allow(unsafe_code)]

use super::AdamStep;

/// Vector operations of one instruction set; see the module documentation.
///
/// Implementations must be zero-sized tokens that exist only when the instructions they use are
/// available, so that the safe methods below are sound.
pub(crate) trait Simd: Copy {
    /// `f32` lanes per vector.
    const LANES: usize;
    /// A vector of `f32`.
    type F: Copy;
    /// A vector of `u32` (also used for `i32`).
    type U: Copy;
    /// A lane mask.
    type M: Copy;

    /// Bytes of `B` rows per chunk of steps in which a [`Walk::Rows`] product of several row
    /// blocks walks `B`, so that a chunk stays in L1 while every row block takes it
    /// ([`blocked`]); `0`: no chunks, each row block streams all of `B`.
    const DENSE_B_CHUNK: usize = 0;

    fn splat(self, x: f32) -> Self::F;
    /// Loads `LANES` floats.
    ///
    /// # Safety
    /// `p..p + LANES` must be readable.
    unsafe fn load(self, p: *const f32) -> Self::F;
    /// Stores `LANES` floats.
    ///
    /// # Safety
    /// `p..p + LANES` must be writable.
    unsafe fn store(self, p: *mut f32, v: Self::F);
    /// Loads `len ≤ LANES` floats, the other lanes `0`.
    ///
    /// # Safety
    /// `p..p + len` must be readable (nothing past it is touched).
    unsafe fn load_part(self, p: *const f32, len: usize) -> Self::F;
    /// Stores the first `len ≤ LANES` lanes.
    ///
    /// # Safety
    /// `p..p + len` must be writable (nothing past it is touched).
    unsafe fn store_part(self, p: *mut f32, len: usize, v: Self::F);
    /// Loads `LANES` bytes, each zero-extended to a `u32` lane.
    ///
    /// # Safety
    /// `p..p + LANES` must be readable.
    unsafe fn load_bytes(self, p: *const u8) -> Self::U;

    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    fn div(self, a: Self::F, b: Self::F) -> Self::F;
    fn sqrt(self, a: Self::F) -> Self::F;
    /// `a·b + c`, fused (one rounding).
    fn fma(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// `keep ? a·b + c : c` (exactly `c` when not kept).
    #[inline(always)]
    fn fma_if(self, a: Self::F, b: Self::F, c: Self::F, keep: bool) -> Self::F {
        if keep { self.fma(a, b, c) } else { c }
    }
    /// Lane-wise maximum that ignores a NaN in `x` (returns `acc` then); `acc` is never NaN.
    fn max_ignore_nan(self, x: Self::F, acc: Self::F) -> Self::F;
    /// Sum of the lanes (any order).
    fn hsum(self, v: Self::F) -> f32;

    /// `a > b` (false for NaN).
    fn gt(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a != 0` (true for NaN), as a bit per lane.
    fn nonzero_bits(self, a: Self::F) -> u32;
    /// `m ? a : b`.
    fn select(self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// `a > 0 ? a : +0` (so `+0` for NaN and `-0`).
    #[inline(always)]
    fn relu(self, a: Self::F) -> Self::F {
        let zero = self.splat(0.0);
        self.select(self.gt(a, zero), a, zero)
    }
    fn mand(self, a: Self::M, b: Self::M) -> Self::M;

    fn usplat(self, x: u32) -> Self::U;
    /// `0, 1, …, LANES − 1`.
    fn iota(self) -> Self::U;
    fn uadd(self, a: Self::U, b: Self::U) -> Self::U;
    fn usub(self, a: Self::U, b: Self::U) -> Self::U;
    fn uxor(self, a: Self::U, b: Self::U) -> Self::U;
    fn uand(self, a: Self::U, b: Self::U) -> Self::U;
    /// Low 32 bits of the product.
    fn umul(self, a: Self::U, b: Self::U) -> Self::U;
    fn shr16(self, a: Self::U) -> Self::U;
    fn shr13(self, a: Self::U) -> Self::U;
    fn shl23(self, a: Self::U) -> Self::U;
    /// Unsigned `a < b`.
    fn ult(self, a: Self::U, b: Self::U) -> Self::M;
    /// Unsigned `a > b`.
    fn ugt(self, a: Self::U, b: Self::U) -> Self::M;
    /// Signed `a > b`.
    fn igt(self, a: Self::U, b: Self::U) -> Self::M;
    fn uselect(self, m: Self::M, a: Self::U, b: Self::U) -> Self::U;
    fn to_bits(self, a: Self::F) -> Self::U;
    fn bits_as_f32(self, a: Self::U) -> Self::F;
    /// `f32 as i32`, truncating (only used where the values are in range).
    fn trunc_i32(self, a: Self::F) -> Self::U;
    /// `i32 as f32`.
    fn i32_to_f32(self, a: Self::U) -> Self::F;

    /// [`blocked`] for this instruction set: inlined into the caller by default, or isolated in
    /// a `#[target_feature]` function of its own ([`impl_isolated_blocked`]).
    ///
    /// # Safety
    /// As [`blocked`].
    #[inline(always)]
    unsafe fn blocked<const MR: usize, const NR: usize>(self, p: &Blocked) {
        // SAFETY: forwarded caller's contract.
        unsafe { blocked::<Self, MR, NR>(self, p) }
    }
}

/// `n` checked to fit the product `a·b` (which the slices must cover).
#[inline(always)]
fn size(a: usize, b: usize) -> usize {
    a.checked_mul(b).expect("kernel shape overflows usize")
}

// ---------------------------------------------------------------------------------------------
// Elementwise kernels (bitwise identical to portable).

/// Runs `$body` for `LANES`-wide chunks of `0..$len` with `$i` the offset and `$w` the width
/// (`LANES`, or less for the tail, which uses partial loads and stores). A macro, not a closure:
/// closures are not force-inlined and would fall out of the `#[target_feature]` context.
macro_rules! chunks {
    ($s:ty, $len:expr, |$i:ident, $w:ident| $body:block) => {{
        let len: usize = $len;
        let mut $i = 0usize;
        while $i < len {
            let $w = (len - $i).min(<$s as Simd>::LANES);
            $body
            $i += $w;
        }
    }};
}

/// Loads `w ≤ LANES` floats at `p` (full or partial load).
///
/// # Safety
/// `p..p + w` readable.
#[inline(always)]
unsafe fn ld<S: Simd>(s: S, p: *const f32, w: usize) -> S::F {
    if w == S::LANES {
        // SAFETY: the caller guarantees `p..p + w` readable, w == LANES.
        unsafe { s.load(p) }
    } else {
        // SAFETY: the caller guarantees `p..p + w` readable.
        unsafe { s.load_part(p, w) }
    }
}

/// Stores `w ≤ LANES` lanes at `p`.
///
/// # Safety
/// `p..p + w` writable.
#[inline(always)]
unsafe fn st<S: Simd>(s: S, p: *mut f32, w: usize, v: S::F) {
    if w == S::LANES {
        // SAFETY: the caller guarantees `p..p + w` writable, w == LANES.
        unsafe { s.store(p, v) }
    } else {
        // SAFETY: the caller guarantees `p..p + w` writable.
        unsafe { s.store_part(p, w, v) }
    }
}

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
    super::portable::bytes_to_unit(&src[i..len], &mut dst[i..len]);
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
    let (c1, c2) = (s.splat(1.0 - step.beta1), s.splat(1.0 - step.beta2));
    let (alpha, eps) = (s.splat(step.alpha), s.splat(step.eps));
    let (pw, pm, pv) = (w.as_mut_ptr(), m.as_mut_ptr(), v.as_mut_ptr());
    chunks!(S, len, |i, n| {
        // SAFETY: `i + n ≤ len`, which the caller guarantees of all slices.
        unsafe {
            let gi = g.load(s, i, n);
            let mut mi = ld(s, pm.add(i), n);
            let mut vi = ld(s, pv.add(i), n);
            // Same operations, same order as portable: no contraction into FMA.
            mi = s.add(mi, s.mul(s.sub(gi, mi), c1));
            vi = s.add(vi, s.mul(s.sub(s.mul(gi, gi), vi), c2));
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
    let scale = s.splat(super::portable::dropout_scale(rate));
    let zero = s.splat(0.0);
    let threshold = super::portable::dropout_threshold(rate);
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

// ---------------------------------------------------------------------------------------------
// Softmax (bitwise identical to portable: `expf` transcribed from libm, sequential row sums).

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
        let (arg, max) = super::portable::argmax(z);
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

// ---------------------------------------------------------------------------------------------
// Matrix products.

/// Register tile: `MR` rows of `C` × `NR` vectors of columns, the last of which holds `last`
/// (`1..=LANES`) columns. Accumulates `Σ_q a(r, q)·B[q]` for `q in 0..steps`, where row `r`'s
/// value at step `q` is `*a.add(r·ars + q·aqs)` and `B[q]` starts at `b.add(q·ldb)`; steps whose
/// `a` value is zero are skipped for that row. `acc` holds the initial values.
pub(crate) struct Tile {
    pub steps: usize,
    pub ars: usize,
    pub aqs: usize,
    pub ldb: usize,
    pub last: usize,
    /// The tile's `A` values hold no zero: [`tile_rows`] and [`tile_cols`] skip looking for them.
    pub no_zeros: bool,
    /// The accumulators start from `C` (a later chunk of steps), not from the bias or zero.
    pub resume: bool,
}

/// One step of a tile: `acc[r] += a_r · B` for the rows whose bit is set in `rows` (all rows
/// when `rows` is all ones).
///
/// # Safety
/// `a.add(r·ars)` readable for `r < MR`; `b..b + (NR − 1)·LANES + last` readable.
#[inline(always)]
unsafe fn tile_step<S: Simd, const MR: usize, const NR: usize, const FULL: bool>(
    s: S,
    acc: &mut [[S::F; NR]; MR],
    a: *const f32,
    ars: usize,
    b: *const f32,
    last: usize,
    rows: u32,
) {
    let mut bv = [s.splat(0.0); NR];
    for (v, bv) in bv.iter_mut().enumerate() {
        let w = if v + 1 == NR { last } else { S::LANES };
        // SAFETY: vector `v` of the row of B lies inside the caller's readable range.
        *bv = unsafe { ld(s, b.add(v * S::LANES), w) };
    }
    for (r, acc) in acc.iter_mut().enumerate() {
        // SAFETY: `r < MR`: readable by the caller's contract.
        let x = s.splat(unsafe { *a.add(r * ars) });
        let keep = FULL || rows & (1 << r) != 0;
        for (acc, &bv) in acc.iter_mut().zip(&bv) {
            *acc = if FULL {
                s.fma(x, bv, *acc)
            } else {
                s.fma_if(x, bv, *acc, keep)
            };
        }
    }
}

/// Nonzero bits of the `len ≤ 32` floats at `p`.
///
/// # Safety
/// `p..p + len` readable.
#[inline(always)]
unsafe fn nonzero_bits<S: Simd>(s: S, p: *const f32, len: usize) -> u32 {
    let mut bits = 0;
    let mut i = 0;
    while i < len {
        let w = (len - i).min(S::LANES);
        // SAFETY: `i + w ≤ len`.
        bits |= s.nonzero_bits(unsafe { ld(s, p.add(i), w) }) << i;
        i += w;
    }
    bits
}

/// Runs a tile whose rows are contiguous along the steps (`aqs == 1`): zeros of `A` are found
/// 16 steps at a time with vector compares, and blocks with no zero run unconditionally.
///
/// # Safety
/// For `r < MR`, `q < t.steps`: `a.add(r·ars + q)` readable; `b.add(q·ldb)` readable for
/// `(NR − 1)·LANES + last` floats.
#[inline(always)]
unsafe fn tile_rows<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    t: &Tile,
    acc: &mut [[S::F; NR]; MR],
    a: *const f32,
    b: *const f32,
) {
    const KB: usize = 16;
    let all_rows = u32::MAX >> (32 - MR);
    if t.no_zeros {
        // SAFETY: the caller's contract.
        unsafe { dense::<S, MR, NR, false>(s, t, acc, a, b) };
        return;
    }
    let mut q = 0;
    // SAFETY (whole block): every pointer below is `a.add(r·ars + q')` or `b.add(q'·ldb)` with
    // `r < MR` and `q' < t.steps`, readable by the caller's contract.
    unsafe {
        while q + KB <= t.steps {
            let mut masks = [0u32; MR];
            let (mut all, mut any) = (u32::MAX, 0);
            for (r, mk) in masks.iter_mut().enumerate() {
                *mk = nonzero_bits(s, a.add(r * t.ars + q), KB);
                all &= *mk;
                any |= *mk;
            }
            if all & 0xffff == 0xffff {
                for qq in q..q + KB {
                    tile_step::<S, MR, NR, true>(
                        s,
                        acc,
                        a.add(qq),
                        t.ars,
                        b.add(qq * t.ldb),
                        t.last,
                        all_rows,
                    );
                }
            } else if any != 0 {
                for qq in 0..KB {
                    if any & (1 << qq) == 0 {
                        continue;
                    }
                    let mut rows = 0;
                    for (r, mk) in masks.iter().enumerate() {
                        rows |= ((mk >> qq) & 1) << r;
                    }
                    let (aq, bq) = (a.add(q + qq), b.add((q + qq) * t.ldb));
                    if rows == all_rows {
                        tile_step::<S, MR, NR, true>(s, acc, aq, t.ars, bq, t.last, rows);
                    } else {
                        tile_step::<S, MR, NR, false>(s, acc, aq, t.ars, bq, t.last, rows);
                    }
                }
            }
            q += KB;
        }
        while q < t.steps {
            let mut rows = 0;
            for r in 0..MR {
                rows |= u32::from(*a.add(r * t.ars + q) != 0.0) << r;
            }
            let (aq, bq) = (a.add(q), b.add(q * t.ldb));
            if rows == all_rows {
                tile_step::<S, MR, NR, true>(s, acc, aq, t.ars, bq, t.last, rows);
            } else if rows != 0 {
                tile_step::<S, MR, NR, false>(s, acc, aq, t.ars, bq, t.last, rows);
            }
            q += 1;
        }
    }
}

/// [`dense_steps`] with `FULL_LAST` set when the last vector is full.
///
/// # Safety
/// As [`dense_steps`].
#[inline(always)]
unsafe fn dense<S: Simd, const MR: usize, const NR: usize, const COLS: bool>(
    s: S,
    t: &Tile,
    acc: &mut [[S::F; NR]; MR],
    a: *const f32,
    b: *const f32,
) {
    // SAFETY: the caller's contract.
    unsafe {
        if t.last == S::LANES {
            dense_steps::<S, MR, NR, true, COLS>(s, t, acc, a, b)
        } else {
            dense_steps::<S, MR, NR, false, COLS>(s, t, acc, a, b)
        }
    }
}

/// The dense loop of [`tile_rows`] and [`tile_cols`] (no zero checks; `COLS` selects the walk
/// of [`tile_cols`]). With `FULL_LAST` the last vector's width is the constant `LANES`: plain
/// loads, and no partial-load mask held in a register.
///
/// # Safety
/// As [`tile_rows`] (or [`tile_cols`] with `COLS`).
#[inline(always)]
unsafe fn dense_steps<
    S: Simd,
    const MR: usize,
    const NR: usize,
    const FULL_LAST: bool,
    const COLS: bool,
>(
    s: S,
    t: &Tile,
    acc: &mut [[S::F; NR]; MR],
    a: *const f32,
    b: *const f32,
) {
    let last = if FULL_LAST { S::LANES } else { t.last };
    for q in 0..t.steps {
        // SAFETY: `q < t.steps`, rows `< MR`: readable by the caller's contract.
        unsafe {
            let (aq, ars) = if COLS {
                (a.add(q * t.aqs), 1)
            } else {
                (a.add(q), t.ars)
            };
            tile_step::<S, MR, NR, true>(
                s,
                acc,
                aq,
                ars,
                b.add(q * t.ldb),
                last,
                u32::MAX >> (32 - MR),
            )
        };
    }
}

/// Runs a tile whose rows are contiguous at each step (`ars == 1`, the `Aᵀ` of `matmul_tn`):
/// the `MR` values of a step are compared to zero with one vector compare, unless the tile's
/// `A` holds no zero ([`Tile::no_zeros`]).
///
/// # Safety
/// As [`tile_rows`], with `a.add(r + q·aqs)`.
#[inline(always)]
unsafe fn tile_cols<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    t: &Tile,
    acc: &mut [[S::F; NR]; MR],
    a: *const f32,
    b: *const f32,
) {
    if t.no_zeros {
        // SAFETY: the caller's contract.
        unsafe { dense::<S, MR, NR, true>(s, t, acc, a, b) };
        return;
    }
    let all_rows = u32::MAX >> (32 - MR);
    for q in 0..t.steps {
        // SAFETY: `q < t.steps`, rows `< MR`: readable by the caller's contract.
        unsafe {
            let aq = a.add(q * t.aqs);
            let rows = nonzero_bits(s, aq, MR);
            let bq = b.add(q * t.ldb);
            if rows == all_rows {
                tile_step::<S, MR, NR, true>(s, acc, aq, 1, bq, t.last, rows);
            } else if rows != 0 {
                tile_step::<S, MR, NR, false>(s, acc, aq, 1, bq, t.last, rows);
            }
        }
    }
}

/// Stores a tile's accumulators to `C` (`MR` rows of stride `ldc`), applying ReLU if asked.
///
/// # Safety
/// `c.add(r·ldc)..+ (NR − 1)·LANES + last` writable for `r < MR`.
#[inline(always)]
unsafe fn tile_store<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    acc: &[[S::F; NR]; MR],
    c: *mut f32,
    ldc: usize,
    last: usize,
    relu: bool,
) {
    for (r, acc) in acc.iter().enumerate() {
        for (v, &x) in acc.iter().enumerate() {
            let w = if v + 1 == NR { last } else { S::LANES };
            let x = if relu { s.relu(x) } else { x };
            // SAFETY: inside row `r` of the tile (caller's contract).
            unsafe { st(s, c.add(r * ldc + v * S::LANES), w, x) };
        }
    }
}

/// Initial accumulators: `bias[j0..]` broadcast down the rows, or zero.
///
/// # Safety
/// `bias..bias + (NR − 1)·LANES + last` readable if `bias` is not null.
#[inline(always)]
unsafe fn tile_init<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    bias: *const f32,
    last: usize,
) -> [[S::F; NR]; MR] {
    let mut row = [s.splat(0.0); NR];
    if !bias.is_null() {
        for (v, x) in row.iter_mut().enumerate() {
            let w = if v + 1 == NR { last } else { S::LANES };
            // SAFETY: inside the bias range (caller's contract).
            *x = unsafe { ld(s, bias.add(v * S::LANES), w) };
        }
    }
    [row; MR]
}

/// Accumulators loaded from `C` (`MR` rows of stride `ldc`): a tile resumed after an earlier
/// chunk of steps stored its partial sums there.
///
/// # Safety
/// `c.add(r·ldc)..+ (NR − 1)·LANES + last` readable for `r < MR`.
#[inline(always)]
unsafe fn tile_load<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    c: *const f32,
    ldc: usize,
    last: usize,
) -> [[S::F; NR]; MR] {
    let mut acc = [[s.splat(0.0); NR]; MR];
    for (r, acc) in acc.iter_mut().enumerate() {
        for (v, x) in acc.iter_mut().enumerate() {
            let w = if v + 1 == NR { last } else { S::LANES };
            // SAFETY: inside row `r` of the tile (caller's contract).
            *x = unsafe { ld(s, c.add(r * ldc + v * S::LANES), w) };
        }
    }
    acc
}

/// Which walk of `A` a tile uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// `A` rows contiguous along the steps (`matmul_bias`).
    Rows,
    /// `A` values of one step contiguous across the rows (`matmul_tn`).
    Cols,
}

/// One `MR × (NR − 1)·LANES + last` tile: init (bias or zero), accumulate, store.
///
/// # Safety
/// See [`tile_rows`], [`tile_cols`], [`tile_store`], [`tile_init`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    walk: Walk,
    t: &Tile,
    a: *const f32,
    b: *const f32,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    relu: bool,
) {
    // SAFETY: forwarded caller's contract.
    unsafe {
        let mut acc = if t.resume {
            tile_load::<S, MR, NR>(s, c, ldc, t.last)
        } else {
            tile_init::<S, MR, NR>(s, bias, t.last)
        };
        match walk {
            Walk::Rows => tile_rows::<S, MR, NR>(s, t, &mut acc, a, b),
            Walk::Cols => tile_cols::<S, MR, NR>(s, t, &mut acc, a, b),
        }
        tile_store::<S, MR, NR>(s, &acc, c, ldc, t.last, relu);
    }
}

/// A tile with `mr ≤ MR` rows (runtime), dispatched to a const instantiation.
///
/// # Safety
/// As [`tile`] with `MR = mr`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile_rows_dyn<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    mr: usize,
    walk: Walk,
    t: &Tile,
    a: *const f32,
    b: *const f32,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    relu: bool,
) {
    macro_rules! go {
        ($($r:literal)*) => {
            match mr {
                $($r if $r <= MR => {
                    // SAFETY: `mr` rows, the caller's contract.
                    unsafe { tile::<S, $r, NR>(s, walk, t, a, b, bias, c, ldc, relu) }
                })*
                _ => unreachable!("tile of {} rows", mr),
            }
        };
    }
    go!(16 12 8 6 4 3 2 1)
}

/// The next tile's height for `left` rows: the largest height `≤ min(left, MR)` among those
/// [`tile_rows_dyn`] instantiates, except that a short last tile is avoided: the last `MR + r`
/// rows with `r < MR / 2` go as two tiles of about half each (32 rows in 6-row tiles: 6, 6, 6,
/// 6, 4, 4 rather than a 2-row tail whose 4 accumulators cannot hide the FMA latency).
#[inline(always)]
pub(crate) fn tile_height<const MR: usize>(left: usize) -> usize {
    let cap = if left > MR && left - MR < MR / 2 {
        left.div_ceil(2)
    } else {
        left.min(MR)
    };
    [16, 12, 8, 6, 4, 3, 2, 1]
        .into_iter()
        .find(|&h| h <= cap)
        .unwrap_or(1)
}

/// The column block starting at `j` of `cols`: `(nv, width, last)`, i.e. up to `max_v` vectors,
/// `width` columns, the last vector holding `last` (`1..=LANES`) of them.
#[inline(always)]
fn col_block<S: Simd>(cols: usize, j: usize, max_v: usize) -> (usize, usize, usize) {
    let left = cols - j;
    let nv = left.div_ceil(S::LANES).min(max_v);
    let width = (nv * S::LANES).min(left);
    (nv, width, width - (nv - 1) * S::LANES)
}

/// The operands of a blocked product `C[rows×cols] (+)= Σ_q a(r,q)·B[q][..]` ([`blocked`]).
#[derive(Clone, Copy)]
pub(crate) struct Blocked {
    /// How `A` is walked: the tile kind.
    pub walk: Walk,
    pub rows: usize,
    pub cols: usize,
    pub steps: usize,
    /// `a(r, q)` is at `a + r·a_row_stride + q·a_step_stride`.
    pub a: *const f32,
    pub a_row_stride: usize,
    pub a_step_stride: usize,
    /// Row `q` of `B` starts at `b + q·ldb`.
    pub b: *const f32,
    pub ldb: usize,
    /// `bias[..cols]` initializes every row of `C`; null: `C` starts at zero.
    pub bias: *const f32,
    /// Row `r` of `C` starts at `c + r·ldc`.
    pub c: *mut f32,
    pub ldc: usize,
    /// ReLU applied to `C` on store.
    pub relu: bool,
    /// `A` (as walked) holds no zero: the tiles skip looking for them.
    pub no_zeros: bool,
}

/// Generic blocked product `C[rows×cols] (+)= Σ_q a(r,q)·B[q][..]`: row blocks of `MR`, column
/// blocks of `NR` vectors (full), then narrower column blocks for the rest. A [`Walk::Rows`]
/// product of more than one row block walks the steps of each column block in chunks
/// ([`dense_chunk`]) whose rows of `B` stay in L1 while every row block takes them, the partial
/// sums passing through `C` (exact: the order of the terms is unchanged), if the path sets
/// [`Simd::DENSE_B_CHUNK`]; otherwise each row block reads the whole column block of `B`.
///
/// # Safety
/// All of `A` (as walked), `B[q·ldb .. q·ldb + cols]` for `q < steps`, `bias[..cols]` (if not
/// null) readable; `C[r·ldc .. r·ldc + cols]` writable for `r < rows`.
#[inline(always)]
pub(crate) unsafe fn blocked<S: Simd, const MR: usize, const NR: usize>(s: S, p: &Blocked) {
    let Blocked {
        walk,
        rows,
        cols,
        steps,
        a,
        a_row_stride,
        a_step_stride,
        b,
        ldb,
        bias,
        c,
        ldc,
        relu,
        no_zeros,
    } = *p;
    let mut j = 0;
    while j < cols {
        let (nv, width, last) = col_block::<S>(cols, j, NR);
        let kc = if walk == Walk::Rows && rows > MR {
            dense_chunk::<S>(4 * nv * S::LANES, steps)
        } else {
            steps
        };
        let bj = if bias.is_null() {
            bias
        } else {
            // SAFETY: `j < cols`: inside `bias[..cols]`.
            unsafe { bias.add(j) }
        };
        let mut q0 = 0;
        while q0 < steps {
            let q1 = (q0 + kc).min(steps);
            let t = Tile {
                steps: q1 - q0,
                ars: a_row_stride,
                aqs: a_step_stride,
                ldb,
                last,
                no_zeros,
                resume: q0 > 0,
            };
            let relu = relu && q1 == steps;
            let mut i = 0;
            while i < rows {
                let mr = tile_height::<MR>(rows - i);
                // SAFETY: rows `i..i + mr`, columns `j..j + width`, steps `q0..q1` of the
                // caller's ranges.
                unsafe {
                    let ai = a.add(i * a_row_stride + q0 * a_step_stride);
                    let (bj0, ci) = (b.add(q0 * ldb + j), c.add(i * ldc + j));
                    macro_rules! nr {
                        ($($v:literal)*) => {
                            match nv {
                                $($v if $v <= NR => tile_rows_dyn::<S, MR, $v>(s, mr, walk, &t, ai, bj0, bj, ci, ldc, relu),)*
                                _ => unreachable!(),
                            }
                        };
                    }
                    nr!(1 2 3 4 5 6 7 8);
                }
                i += mr;
            }
            q0 = q1;
        }
        j += width;
    }
}

/// Steps per chunk of a [`Walk::Rows`] product whose `B` rows hold `row_bytes` bytes: as many
/// as fit in [`Simd::DENSE_B_CHUNK`], in multiples of 16 (the zero-check block of
/// [`tile_rows`]); all of them if that leaves fewer than 64, which would not pay for reloading
/// the accumulators, or if the path takes no chunks.
#[inline(always)]
fn dense_chunk<S: Simd>(row_bytes: usize, steps: usize) -> usize {
    let kc = S::DENSE_B_CHUNK / row_bytes / 16 * 16;
    if kc < 64 { steps } else { kc }
}

/// Overrides [`Simd::blocked`] with a `#[target_feature]`, never-inlined function, so that the
/// register allocator sees the tile loops alone; `|walk| cond` isolates only the walks for
/// which `cond` holds and inlines the others.
///
/// AVX2 isolates both walks: inlined into a whole matmul, its tiles shared the 16 `ymm`
/// registers with constants hoisted from the surrounding code and spilled a third of their
/// accumulators to the stack (forward product 38–39% of peak inlined, 81–86% isolated; weight
/// gradient 43–45% against 73–74%; README → Performance). AVX-512 isolates the forward walk
/// ([`Walk::Rows`]) only: with 32 registers its inlined tiles did not spill until counting
/// nonzeros in 32-bit lanes in `matmul_bias` made the 4 × 6 tile spill (`perf annotate`);
/// isolated, it does not, at the speed it had before. Isolating its weight-gradient walk halved
/// that product in an A/B run (the short 32-step tiles lose the constants the inlined code
/// folds in).
///
/// `$features` must be implied by the existence of a `$token` (its constructor checks them):
/// the same string the token's `impl_kernels!` uses.
#[cfg(target_arch = "x86_64")]
macro_rules! impl_isolated_blocked {
    ($token:ty, $features:literal) => {
        $crate::kernels::simd::impl_isolated_blocked!($token, $features, |_walk| true);
    };
    ($token:ty, $features:literal, |$w:ident| $isolate:expr) => {
        #[inline(always)]
        unsafe fn blocked<const MR: usize, const NR: usize>(self, p: &super::simd::Blocked) {
            #[target_feature(enable = $features)]
            #[inline(never)]
            unsafe fn run<const MR: usize, const NR: usize>(s: $token, p: &super::simd::Blocked) {
                // SAFETY: forwarded caller's contract.
                unsafe { super::simd::blocked::<$token, MR, NR>(s, p) }
            }
            let $w = p.walk;
            if $isolate {
                // SAFETY: a token exists only when the CPU supports `$features`; the rest is
                // the caller's contract.
                unsafe { run::<MR, NR>(self, p) }
            } else {
                // SAFETY: the caller's contract.
                unsafe { super::simd::blocked::<$token, MR, NR>(self, p) }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use impl_isolated_blocked;

/// Nonzero bits of the `len ≤ 64` floats at `p`.
///
/// # Safety
/// `p..p + len` readable.
#[inline(always)]
unsafe fn nonzero_bits64<S: Simd>(s: S, p: *const f32, len: usize) -> u64 {
    let mut bits = 0u64;
    if len == 64 {
        // Full words (all but a row's last): a constant trip count, unrolled, with constant
        // shifts; the general loop below shifts by a variable and tests each vector's width.
        for v in 0..64 / S::LANES {
            // SAFETY: `v·LANES + LANES ≤ 64 = len`.
            let m = s.nonzero_bits(unsafe { s.load(p.add(v * S::LANES)) });
            bits |= u64::from(m) << (v * S::LANES);
        }
        return bits;
    }
    let mut i = 0;
    while i < len {
        let w = (len - i).min(S::LANES);
        // SAFETY: `i + w ≤ len`.
        bits |= u64::from(s.nonzero_bits(unsafe { ld(s, p.add(i), w) })) << i;
        i += w;
    }
    bits
}

/// Bytes of `B` rows (a chunk of steps, all columns) that [`sparse_rows`] keeps in L1 while it
/// walks a group of rows, and bytes of `C` rows in that group: together inside a 32 KiB L1 data
/// cache.
const SPARSE_B_BYTES: usize = 32 << 10;
const SPARSE_C_BYTES: usize = 8 << 10;
/// Most steps in a chunk of [`sparse_rows`]: its nonzero bits are kept in this many 64-bit words.
const SPARSE_WORDS: usize = 4;

/// Row-by-row sparse product for rows of `A` (contiguous along the steps, row stride `lda`)
/// with few nonzeros: `C[i] = init + Σ_q a(i, q)·B[q]` over the nonzero `a(i, q)` only, in
/// increasing `q` (`init` is `bias`, or zero if it is null). The nonzeros of a row are found
/// 64 steps at a time with vector compares, once for all column blocks, and walked bit by bit;
/// `NC` vectors of columns stay in registers.
///
/// The steps go in chunks of at most `64 · SPARSE_WORDS`, and with 4 rows or more the rows go
/// in groups whose rows of `C` fit in [`SPARSE_C_BYTES`] and the chunks hold as many steps as
/// fit in [`SPARSE_B_BYTES`]: each chunk is applied to every row of the group before the next,
/// so `B` is read from L2 once per group instead of once per nonzero, and the running sums pass
/// through `C` (in L1), which rounds nothing. A chunk spans whole rows of `B`, not one column
/// block: the rows of `B` are often 2ᵏ bytes apart, and a column block of them would fall into
/// a fraction of the cache's sets.
///
/// # Safety
/// `A[i·lda .. i·lda + steps]` for `i < rows`, `B[q·ldb .. q·ldb + cols]` for `q < steps`,
/// `bias[..cols]` (if not null) readable; `C[i·ldc .. i·ldc + cols]` writable.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn sparse_rows<S: Simd, const NC: usize>(
    s: S,
    rows: usize,
    steps: usize,
    cols: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    relu: bool,
) {
    if cols == 0 {
        return;
    }
    let row_bytes = 4 * cols.next_multiple_of(S::LANES);
    let (kc, group) = if rows < 4 {
        (64 * SPARSE_WORDS, rows)
    } else {
        (
            (SPARSE_B_BYTES / row_bytes / S::LANES).clamp(1, 64 * SPARSE_WORDS / S::LANES)
                * S::LANES,
            (SPARSE_C_BYTES / row_bytes).max(4),
        )
    };
    let mut g0 = 0;
    while g0 < rows {
        let g1 = (g0 + group).min(rows);
        let mut q0 = 0;
        while q0 < steps {
            let q1 = (q0 + kc).min(steps);
            for i in g0..g1 {
                // SAFETY: row `i < rows`, steps `q0..q1 ≤ steps`, columns `j..j + width ≤ cols`:
                // inside the caller's ranges.
                unsafe {
                    let ai = a.add(i * lda);
                    let mut words = [0u64; SPARSE_WORDS];
                    let mut nw = 0;
                    let mut w0 = q0;
                    while w0 < q1 {
                        let len = (q1 - w0).min(64);
                        words[nw] = nonzero_bits64(s, ai.add(w0), len);
                        nw += 1;
                        w0 += len;
                    }
                    let words = &words[..nw];
                    let mut j = 0;
                    while j < cols {
                        let (nv, width, last) = col_block::<S>(cols, j, NC);
                        let ci = c.add(i * ldc + j);
                        let init = if q0 > 0 {
                            ci.cast_const()
                        } else if bias.is_null() {
                            bias
                        } else {
                            bias.add(j)
                        };
                        macro_rules! go {
                        ($($v:literal)*) => {
                            match nv {
                                $($v if $v <= NC => {
                                    let mut acc = tile_init::<S, 1, $v>(s, init, last);
                                    let bj = b.add(j);
                                    // Two loops, so that full-width rows (the usual case)
                                    // use plain loads with no width test per nonzero.
                                    if last == S::LANES {
                                        for (t, &word) in words.iter().enumerate() {
                                            let (mut bits, base) = (word, q0 + 64 * t);
                                            while bits != 0 {
                                                let q = base + bits.trailing_zeros() as usize;
                                                bits &= bits - 1;
                                                tile_step::<S, 1, $v, true>(s, &mut acc, ai.add(q), 0, bj.add(q * ldb), S::LANES, 1);
                                            }
                                        }
                                    } else {
                                        for (t, &word) in words.iter().enumerate() {
                                            let (mut bits, base) = (word, q0 + 64 * t);
                                            while bits != 0 {
                                                let q = base + bits.trailing_zeros() as usize;
                                                bits &= bits - 1;
                                                tile_step::<S, 1, $v, true>(s, &mut acc, ai.add(q), 0, bj.add(q * ldb), last, 1);
                                            }
                                        }
                                    }
                                    tile_store::<S, 1, $v>(s, &acc, ci, 0, last, relu && q1 == steps);
                                })*
                                _ => unreachable!(),
                            }
                        };
                    }
                        go!(1 2 3 4 5 6 7 8 9 10 11 12);
                        j += width;
                    }
                }
            }
            q0 = q1;
        }
        g0 = g1;
    }
}

/// Nonzeros of `x`, counted in `u32` lanes (a compare and a subtract per vector; counting in
/// `usize` made the compiler widen every compare to 64-bit lanes).
#[inline(always)]
fn count_nonzeros(x: &[f32]) -> usize {
    x.chunks(1 << 30)
        .map(|c| c.iter().map(|&v| u32::from(v != 0.0)).sum::<u32>() as usize)
        .sum()
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn matmul_bias<S: Simd, const MR: usize, const NR: usize, const NC: usize>(
    s: S,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
    relu: bool,
    sparse_below: f32,
) {
    let (a, b, bias) = (&a[..size(m, k)], &b[..size(k, n)], &bias[..n]);
    let c = &mut c[..size(m, n)];
    if n == 0 {
        return;
    }
    let (pa, pb, pbias, pc) = (a.as_ptr(), b.as_ptr(), bias.as_ptr(), c.as_mut_ptr());
    // Blocks of MR rows go dense or sparse by their share of nonzeros, and consecutive blocks
    // of the same kind run together: the sparse kernel reuses B across all of their rows, the
    // dense one walks B in chunks that stay in L1 across its row tiles (`DENSE_B_CHUNK`).
    // Dense blocks run together only if all or none of them are free of zeros (those skip the
    // zero checks).
    // Nonzeros of a block: a vectorizable pass, ~1% of a dense tile's work.
    let nnz = |i: usize, mr: usize| count_nonzeros(&a[i * k..(i + mr) * k]);
    let kind = |i: usize, mr: usize| {
        let count = nnz(i, mr);
        let sparse = (count as f32) < sparse_below * (mr * k) as f32;
        (sparse, !sparse && count == mr * k)
    };
    let mut i = 0;
    while i < m {
        let mr = tile_height::<MR>(m - i);
        let (sparse, no_zeros) = kind(i, mr);
        let mut end = i + mr;
        // Dense blocks run one at a time on paths that take no chunks: their row block's A
        // stays in L1 across the column blocks.
        while end < m && (sparse || S::DENSE_B_CHUNK > 0) {
            let h = tile_height::<MR>(m - end);
            if kind(end, h) != (sparse, no_zeros) {
                break;
            }
            end += h;
        }
        // SAFETY: rows `i..end` of A and C, all of B and bias: the slices checked above.
        unsafe {
            if sparse {
                sparse_rows::<S, NC>(
                    s,
                    end - i,
                    k,
                    n,
                    pa.add(i * k),
                    k,
                    pb,
                    n,
                    pbias,
                    pc.add(i * n),
                    n,
                    relu,
                );
            } else {
                s.blocked::<MR, NR>(&Blocked {
                    walk: Walk::Rows,
                    rows: end - i,
                    cols: n,
                    steps: k,
                    a: pa.add(i * k),
                    a_row_stride: k,
                    a_step_stride: 1,
                    b: pb,
                    ldb: n,
                    bias: pbias,
                    c: pc.add(i * n),
                    ldc: n,
                    relu,
                    no_zeros,
                });
            }
        }
        i = end;
    }
}

/// Bytes of `C` a chunk of [`sparse_outer`] keeps hot (the rows of `B` stay hot too).
const OUTER_CHUNK_BYTES: usize = 32 << 10;

/// `C[p] = Σ_i a(i, p)·B[i]` for `p < rows ≤ 64` as a sum of outer products over the nonzero
/// `a(i, p)`: each row `B[i]` is loaded into registers once (`NC` vectors at a time) and added,
/// scaled, into the rows `p` of `C` where row `i` of `A` is nonzero. `A`'s row `i` holds
/// `a(i, 0..rows)` contiguously at `a.add(i·lda)`. Every `C[p][j]` is the same sequential sum
/// in increasing `i`, starting from zero, as the other walks compute.
///
/// # Safety
/// `a.add(i·lda)..+ rows` and `B[i·ldb .. i·ldb + cols]` readable for `i < steps`;
/// `C[p·ldc .. p·ldc + cols]` writable for `p < rows`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn sparse_outer<S: Simd, const NC: usize>(
    s: S,
    rows: usize,
    steps: usize,
    cols: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    debug_assert!(rows <= 64);
    let zero = s.splat(0.0);
    for p in 0..rows {
        chunks!(S, cols, |j, w| {
            // SAFETY: row `p < rows` of C, columns `j..j + w ≤ cols`.
            unsafe { st(s, c.add(p * ldc + j), w, zero) };
        });
    }
    for i in 0..steps {
        // SAFETY: row `i < steps` of A and B, rows `p < rows` of C, columns `< cols`: the
        // caller's ranges.
        unsafe {
            let ai = a.add(i * lda);
            let bits = nonzero_bits64(s, ai, rows);
            if bits == 0 {
                continue;
            }
            let mut j = 0;
            while j < cols {
                let (nv, width, last) = col_block::<S>(cols, j, NC);
                macro_rules! go {
                    ($($v:literal)*) => {
                        match nv {
                            $($v if $v <= NC => {
                                let mut bv = [zero; $v];
                                for (v, bv) in bv.iter_mut().enumerate() {
                                    let w = if v + 1 == $v { last } else { S::LANES };
                                    *bv = ld(s, b.add(i * ldb + j + v * S::LANES), w);
                                }
                                let mut left = bits;
                                while left != 0 {
                                    let p = left.trailing_zeros() as usize;
                                    left &= left - 1;
                                    let x = s.splat(*ai.add(p));
                                    let cp = c.add(p * ldc + j);
                                    for (v, &bv) in bv.iter().enumerate() {
                                        let w = if v + 1 == $v { last } else { S::LANES };
                                        let o = cp.add(v * S::LANES);
                                        st(s, o, w, s.fma(x, bv, ld(s, o, w)));
                                    }
                                }
                            })*
                            _ => unreachable!(),
                        }
                    };
                }
                go!(1 2 3 4 5 6 7 8 9 10 11 12);
                j += width;
            }
        }
    }
}

/// The same product as [`sparse_outer`] (`C[p] = Σ_i a(i, p)·B[i]`, `p < rows ≤ 64`) for at
/// most 32 steps, summed in registers: the nonzero steps of each row `p` of `C` are gathered
/// first (a bit per step), then each block of `NC` vectors of row `p` is accumulated over those
/// steps, in step order, and stored once. `sparse_outer` loads, adds to and stores a row of `C`
/// for every nonzero, and the next step's load of the same row waits for that store; here the
/// rows of `B` (at most 32) stay in L1 and `C` is written once. Same FMAs in the same order from
/// the same `+0`: bitwise `sparse_outer`'s result.
///
/// # Safety
/// As [`sparse_outer`], with `steps ≤ 32`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn sparse_gather<S: Simd, const NC: usize>(
    s: S,
    rows: usize,
    steps: usize,
    cols: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    debug_assert!(rows <= 64 && steps <= 32);
    // SAFETY: `rows ≤ 64` values of row `i < steps` of A: the caller's range.
    let masks = unsafe { sample_masks(s, rows, steps, a, lda) };
    let zero = s.splat(0.0);
    for (p, &mask) in masks[..rows].iter().enumerate() {
        let mut j = 0;
        while j < cols {
            let (nv, width, last) = col_block::<S>(cols, j, NC);
            // SAFETY: `a(i, p)` with `i < steps`, `p < rows`; row `i` of B and row `p` of C,
            // columns `j..j + width ≤ cols`: the caller's ranges.
            unsafe {
                let cp = c.add(p * ldc + j);
                macro_rules! go {
                    ($($v:literal)*) => {
                        match nv {
                            $($v if $v <= NC => {
                                let mut acc = [zero; $v];
                                let mut left = mask;
                                while left != 0 {
                                    let i = left.trailing_zeros() as usize;
                                    left &= left - 1;
                                    let x = s.splat(*a.add(i * lda + p));
                                    let bi = b.add(i * ldb + j);
                                    for (v, acc) in acc.iter_mut().enumerate() {
                                        let w = if v + 1 == $v { last } else { S::LANES };
                                        *acc = s.fma(x, ld(s, bi.add(v * S::LANES), w), *acc);
                                    }
                                }
                                for (v, &acc) in acc.iter().enumerate() {
                                    let w = if v + 1 == $v { last } else { S::LANES };
                                    st(s, cp.add(v * S::LANES), w, acc);
                                }
                            })*
                            _ => unreachable!(),
                        }
                    };
                }
                go!(1 2 3 4 5 6 7 8 9 10 11 12);
            }
            j += width;
        }
    }
}

/// `masks[p]`: bit `i` set where `a(i, p) ≠ 0` (NaN included), for `p < rows ≤ 64` and
/// `i < steps ≤ 32`; zero for `p ≥ rows`. Vector-wise and branch-free: each step ORs its bit
/// into the lanes of its nonzeros (a bit per step, so an XOR).
///
/// # Safety
/// `a.add(i·lda)..+ rows` readable for `i < steps`.
#[inline(always)]
unsafe fn sample_masks<S: Simd>(
    s: S,
    rows: usize,
    steps: usize,
    a: *const f32,
    lda: usize,
) -> [u32; 64] {
    const MAX_VECTORS: usize = 64 / 4; // the narrowest vectors have 4 lanes
    let nv = rows.div_ceil(S::LANES);
    let (zero, abs) = (s.usplat(0), s.usplat(0x7fff_ffff));
    let mut acc = [zero; MAX_VECTORS];
    for i in 0..steps {
        let bit = s.usplat(1 << i);
        for (v, acc) in acc[..nv].iter_mut().enumerate() {
            let w = (rows - v * S::LANES).min(S::LANES);
            // SAFETY: `v·LANES + w ≤ rows` of row `i` (caller's contract).
            let x = s.to_bits(unsafe { ld(s, a.add(i * lda + v * S::LANES), w) });
            let nonzero = s.ugt(s.uand(x, abs), zero);
            *acc = s.uxor(*acc, s.uselect(nonzero, bit, zero));
        }
    }
    let mut masks = [0u32; 64];
    for (v, &acc) in acc[..nv].iter().enumerate() {
        // SAFETY: `(v + 1)·LANES ≤ 64` entries of `masks`; a plain store of the lanes' bits.
        unsafe {
            s.store(
                masks.as_mut_ptr().add(v * S::LANES).cast(),
                s.bits_as_f32(acc),
            )
        };
    }
    masks
}

/// Test hook: `(sparse_gather, sparse_outer)` results for `C[p] = Σ_i a(i, p)·B[i]` with `A`
/// `steps × rows` and `B` `steps × cols`, row-major.
#[cfg(test)]
pub(crate) fn sparse_tn_both<S: Simd>(
    s: S,
    rows: usize,
    steps: usize,
    cols: usize,
    a: &[f32],
    b: &[f32],
) -> (std::vec::Vec<f32>, std::vec::Vec<f32>) {
    assert!(rows <= 64 && steps <= 32 && a.len() >= steps * rows && b.len() >= steps * cols);
    let mut gather = std::vec![f32::NAN; rows * cols];
    let mut outer = std::vec![f32::NAN; rows * cols];
    // SAFETY: the lengths are asserted above; `gather` and `outer` are separate buffers.
    unsafe {
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        sparse_gather::<S, 8>(
            s,
            rows,
            steps,
            cols,
            pa,
            rows,
            pb,
            cols,
            gather.as_mut_ptr(),
            cols,
        );
        sparse_outer::<S, 8>(
            s,
            rows,
            steps,
            cols,
            pa,
            rows,
            pb,
            cols,
            outer.as_mut_ptr(),
            cols,
        );
    }
    (gather, outer)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn matmul_tn<S: Simd, const MR: usize, const NR: usize, const NC: usize>(
    s: S,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    sparse_below: f32,
) {
    let (a, b) = (&a[..size(m, k)], &b[..size(m, n)]);
    let c = &mut c[..size(k, n)];
    if n == 0 {
        return;
    }
    let (pa, pb, pc) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    // C[p][..] = Σ_i A[i][p]·B[i][..]: the rows of C are the columns p of A (stride 1 in A),
    // the steps are the rows i of A (stride k). Chunks of columns of A whose rows of C fit in
    // `OUTER_CHUNK_BYTES` go sparse when mostly zeros (summed in registers for up to 32 steps,
    // as outer products into C beyond), else as dense tiles.
    let chunk = (OUTER_CHUNK_BYTES / (4 * n)).clamp(1, 64);
    let mut p = 0;
    while p < k {
        let pcn = (k - p).min(chunk);
        let nnz: usize = (0..m)
            .map(|i| {
                a[i * k + p..i * k + p + pcn]
                    .iter()
                    .filter(|&&x| x != 0.0)
                    .count()
            })
            .sum();
        // SAFETY: columns `p..p + pcn` of A, rows `p..p + pcn` of C, all of B: inside the
        // slices checked above.
        unsafe {
            if (nnz as f32) < sparse_below * (pcn * m) as f32 {
                if m <= 32 {
                    sparse_gather::<S, NC>(s, pcn, m, n, pa.add(p), k, pb, n, pc.add(p * n), n);
                } else {
                    sparse_outer::<S, NC>(s, pcn, m, n, pa.add(p), k, pb, n, pc.add(p * n), n);
                }
            } else {
                s.blocked::<MR, NR>(&Blocked {
                    walk: Walk::Cols,
                    rows: pcn,
                    cols: n,
                    steps: m,
                    a: pa.add(p),
                    a_row_stride: 1,
                    a_step_stride: k,
                    b: pb,
                    ldb: n,
                    bias: core::ptr::null(),
                    c: pc.add(p * n),
                    ldc: n,
                    relu: false,
                    no_zeros: nnz == pcn * m,
                });
            }
        }
        p += pcn;
    }
}

/// `C[m×k] = A[m×n]·B[k×n]ᵀ`: tiles of `MR` rows of `A` × `NR` rows of `B`, dot products in
/// vector lanes, reduced at the end.
#[inline(always)]
pub(crate) fn matmul_nt<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    let (a, b) = (&a[..size(m, n)], &b[..size(k, n)]);
    let c = &mut c[..size(m, k)];
    let (pa, pb, pc) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let mut i = 0;
    while i < m {
        let mr = (m - i).min(MR);
        let mut p = 0;
        while p < k {
            let nr = (k - p).min(NR);
            // SAFETY: rows `i..i + mr` of A and C, rows `p..p + nr` of B: inside the slices.
            unsafe {
                macro_rules! go {
                    ($($r:literal)*; $($q:literal)*) => {
                        go!(@r [$($r)*] [$($q)*])
                    };
                    (@r [$($r:literal)*] $qs:tt) => {
                        match mr {
                            $($r if $r <= MR => go!(@q $r $qs),)*
                            _ => unreachable!(),
                        }
                    };
                    (@q $r:literal [$($q:literal)*]) => {
                        match nr {
                            $($q if $q <= NR => dot_tile::<S, $r, $q>(s, n, pa.add(i * n), pb.add(p * n), pc.add(i * k + p), k),)*
                            _ => unreachable!(),
                        }
                    };
                }
                go!(1 2 3 4 5 6; 1 2 3 4 5 6);
            }
            p += nr;
        }
        i += mr;
    }
}

/// `C[r][q] = ⟨A[r], B[q]⟩` for an `MR × NR` block of dot products of length `n`.
///
/// # Safety
/// `a..a + MR·n`, `b..b + NR·n` readable; `c.add(r·ldc + q)` writable for `r < MR`, `q < NR`.
#[inline(always)]
unsafe fn dot_tile<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    n: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[s.splat(0.0); NR]; MR];
    chunks!(S, n, |j, w| {
        // SAFETY: `j + w ≤ n`: inside each row.
        unsafe {
            let mut bv = [s.splat(0.0); NR];
            for (q, bv) in bv.iter_mut().enumerate() {
                *bv = ld(s, b.add(q * n + j), w);
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = ld(s, a.add(r * n + j), w);
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = s.fma(av, bv, *acc);
                }
            }
        }
    });
    for (r, acc) in acc.iter().enumerate() {
        for (q, &x) in acc.iter().enumerate() {
            // SAFETY: `r < MR`, `q < NR` (caller's contract).
            unsafe { *c.add(r * ldc + q) = s.hsum(x) };
        }
    }
}

/// Calls `$body` with `s: $token` inside a `#[target_feature(enable = $features)]` function.
macro_rules! enter {
    ($token:ty, $path:expr, $features:literal, $self:ident,
     |$s:ident $(, $arg:ident: $ty:ty)*| -> $ret:ty $body:block) => {{
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        fn run($s: $token, $($arg: $ty),*) -> $ret $body
        #[cfg(test)]
        $crate::kernels::executed::note($path);
        // SAFETY: a `$token` value exists only when the CPU and OS support `$features`
        // (checked by its constructor), which is all `run` requires.
        unsafe { run(*$self, $($arg),*) }
    }};
}
pub(crate) use enter;

/// Implements [`super::Kernels`] for an architecture's token type: each method enters a
/// `#[target_feature]` function (so the generic code above compiles to that instruction set)
/// through the token, whose existence proves the features are there.
macro_rules! impl_kernels {
    (
        $token:ty, $path:expr, $features:literal,
        nn: ($mr:literal, $nr:literal, $nc:literal, $sparse_below:expr),
        tn: ($tmr:literal, $tnr:literal),
        nt: ($dmr:literal, $dnr:literal) $(,)?
    ) => {
        #[cfg(test)]
        impl $token {
            /// `x = expf(x)` lane-wise (tests compare it with `libm::expf`).
            pub(crate) fn expf_in_place(&self, x: &mut [f32]) {
                enter!($token, $path, $features, self, |s, x: &mut [f32]| -> () {
                    simd::expf_in_place(s, x)
                })
            }
        }

        impl $token {
            /// `matmul_bias`, with ReLU applied on the store if `relu`.
            #[allow(clippy::too_many_arguments)]
            fn matmul_bias_act(
                &self,
                m: usize,
                k: usize,
                n: usize,
                a: &[f32],
                b: &[f32],
                bias: &[f32],
                c: &mut [f32],
                relu: bool,
            ) {
                enter!($token, $path, $features, self, |s,
                                                        m: usize,
                                                        k: usize,
                                                        n: usize,
                                                        a: &[f32],
                                                        b: &[f32],
                                                        bias: &[f32],
                                                        c: &mut [f32],
                                                        relu: bool|
                 -> () {
                    simd::matmul_bias::<$token, $mr, $nr, $nc>(
                        s,
                        m,
                        k,
                        n,
                        a,
                        b,
                        bias,
                        c,
                        relu,
                        $sparse_below,
                    )
                })
            }
        }

        impl $crate::kernels::Kernels for $token {
            fn path(&self) -> $crate::kernels::Path {
                $path
            }
            fn matmul_bias(
                &self,
                m: usize,
                k: usize,
                n: usize,
                a: &[f32],
                b: &[f32],
                bias: &[f32],
                c: &mut [f32],
            ) {
                self.matmul_bias_act(m, k, n, a, b, bias, c, false)
            }
            fn matmul_bias_relu(
                &self,
                m: usize,
                k: usize,
                n: usize,
                a: &[f32],
                b: &[f32],
                bias: &[f32],
                c: &mut [f32],
            ) {
                self.matmul_bias_act(m, k, n, a, b, bias, c, true)
            }
            fn matmul_tn(&self, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        m: usize,
                                                        k: usize,
                                                        n: usize,
                                                        a: &[f32],
                                                        b: &[f32],
                                                        c: &mut [f32]|
                 -> () {
                    simd::matmul_tn::<$token, $tmr, $tnr, $nc>(s, m, k, n, a, b, c, $sparse_below)
                })
            }
            fn matmul_nt(&self, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        m: usize,
                                                        k: usize,
                                                        n: usize,
                                                        a: &[f32],
                                                        b: &[f32],
                                                        c: &mut [f32]|
                 -> () {
                    simd::matmul_nt::<$token, $dmr, $dnr>(s, m, k, n, a, b, c)
                })
            }
            fn column_sums(&self, m: usize, n: usize, a: &[f32], out: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        m: usize,
                                                        n: usize,
                                                        a: &[f32],
                                                        out: &mut [f32]|
                 -> () {
                    simd::column_sums(s, m, n, a, out)
                })
            }
            fn relu(&self, x: &mut [f32]) {
                enter!($token, $path, $features, self, |s, x: &mut [f32]| -> () {
                    simd::relu(s, x)
                })
            }
            fn bytes_to_unit(&self, src: &[u8], dst: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        src: &[u8],
                                                        dst: &mut [f32]|
                 -> () {
                    simd::bytes_to_unit(s, src, dst)
                })
            }
            fn relu_backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        y: &[f32],
                                                        dy: &[f32],
                                                        dx: &mut [f32]|
                 -> () {
                    simd::relu_backward(s, y, dy, dx)
                })
            }
            fn mul(&self, a: &[f32], b: &[f32], out: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        a: &[f32],
                                                        b: &[f32],
                                                        out: &mut [f32]|
                 -> () {
                    simd::mul(s, a, b, out)
                })
            }
            fn dropout_mask(&self, mask: &mut [f32], rate: f32, key: u64, first: u32) {
                enter!($token, $path, $features, self, |s,
                                                        mask: &mut [f32],
                                                        rate: f32,
                                                        key: u64,
                                                        first: u32|
                 -> () {
                    simd::dropout_mask(s, mask, rate, key, first)
                })
            }
            fn softmax(&self, n: usize, x: &[f32], out: &mut [f32]) {
                enter!($token, $path, $features, self, |s,
                                                        n: usize,
                                                        x: &[f32],
                                                        out: &mut [f32]|
                 -> () {
                    simd::softmax(s, n, x, out)
                })
            }
            fn softmax_cross_entropy(
                &self,
                n: usize,
                logits: &[f32],
                labels: &[u8],
                grad_scale: f32,
                grad: &mut [f32],
            ) -> (f32, u32) {
                enter!($token, $path, $features, self, |s,
                                                        n: usize,
                                                        logits: &[f32],
                                                        labels: &[u8],
                                                        grad_scale: f32,
                                                        grad: &mut [f32]|
                 -> (f32, u32) {
                    simd::softmax_cross_entropy(s, n, logits, labels, grad_scale, grad)
                })
            }
            fn adam_sum(
                &self,
                w: &mut [f32],
                grads: &[&[f32]],
                m: &mut [f32],
                v: &mut [f32],
                step: $crate::kernels::AdamStep,
            ) {
                enter!(
                    $token,
                    $path,
                    $features,
                    self,
                    |s,
                     w: &mut [f32],
                     grads: &[&[f32]],
                     m: &mut [f32],
                     v: &mut [f32],
                     step: $crate::kernels::AdamStep|
                     -> () { simd::adam_sum(s, w, grads, m, v, step) }
                )
            }
            fn sgd(&self, w: &mut [f32], g: &[f32], lr: f32) {
                enter!($token, $path, $features, self, |s,
                                                        w: &mut [f32],
                                                        g: &[f32],
                                                        lr: f32|
                 -> () {
                    simd::sgd(s, w, g, lr)
                })
            }
        }
    };
}
pub(crate) use impl_kernels;
