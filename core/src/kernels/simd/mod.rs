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
//!   values of `B` facing a zero of `A` and `-0.0` sums behave as in portable. `matmul_bias`'s
//!   dense tiles do not look for zeros: they multiply them too, and a block with a result that
//!   this could have changed (a zero or a NaN) is computed again, with the blocks run together
//!   with it, skipping them
//!   (`blocked::Zeros::Speculate`).
//!
//! # Layout
//!
//! This file holds the [`Simd`] trait and the partial loads and stores; each kernel family has
//! a module of its own: `elementwise` (ReLU, pixels to inputs, products, SGD, column sums),
//! `adam`, `dropout`, `softmax` (with the cross-entropy), `matmul` (the three products), which
//! builds on `tile` (the register tile), `blocked` (tiles over whole matrices) and `sparse` (the
//! walks over nonzeros); `impl_kernels` instantiates them all for an architecture's token.
#![allow(unsafe_code)]

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
    /// ([`blocked()`]); `0`: no chunks, each row block streams all of `B`.
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
    /// `a` is a number other than zero (false for `±0` and NaN), as a bit per lane.
    fn nonzero_number_bits(self, a: Self::F) -> u32;
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

    /// [`blocked()`] for this instruction set: inlined into the caller by default, or isolated in
    /// a `#[target_feature]` function of its own ([`impl_isolated_blocked`]).
    ///
    /// # Safety
    /// As [`blocked()`].
    #[inline(always)]
    #[must_use]
    unsafe fn blocked<const MR: usize, const NR: usize>(self, p: &Blocked) -> bool {
        // SAFETY: forwarded caller's contract.
        unsafe { blocked::<Self, MR, NR>(self, p) }
    }
}

/// `n` checked to fit the product `a·b` (which the slices must cover).
#[inline(always)]
fn size(a: usize, b: usize) -> usize {
    a.checked_mul(b).expect("kernel shape overflows usize")
}

/// Elements a `rows × cols` matrix with row stride `stride` spans (checked, as [`size`]).
#[inline(always)]
fn strided_size(rows: usize, cols: usize, stride: usize) -> usize {
    match rows.checked_sub(1) {
        None => 0,
        Some(r) => size(r, stride)
            .checked_add(cols)
            .expect("kernel shape overflows usize"),
    }
}

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

mod adam;
mod blocked;
mod dropout;
mod elementwise;
mod impl_kernels;
mod matmul;
mod softmax;
mod sparse;
mod tile;

pub(crate) use adam::adam_sum;
pub(crate) use blocked::{Blocked, blocked};
#[cfg(target_arch = "x86_64")]
pub(crate) use blocked::{Walk, impl_isolated_blocked};
pub(crate) use dropout::dropout_mask;
pub(crate) use elementwise::{bytes_to_unit, column_sums, mul, relu, relu_backward, sgd};
pub(crate) use impl_kernels::{enter, impl_kernels};
#[cfg(test)]
pub(crate) use matmul::{SAMPLE_ALL_UP_TO, SAMPLE_RUN, SAMPLE_STRIDE, sampled_nonzeros};
pub(crate) use matmul::{matmul_bias, matmul_nt, matmul_tn};
#[cfg(test)]
pub(crate) use softmax::expf_in_place;
pub(crate) use softmax::{softmax, softmax_cross_entropy};
#[cfg(test)]
pub(crate) use sparse::sparse_tn_both;
