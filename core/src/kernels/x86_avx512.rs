//! x86-64 AVX-512F kernels: 16 `f32` lanes in 32 `zmm` registers, mask registers for tails and
//! for the exact zero skipping of the matmuls.
//!
//! [`Avx512`] is the proof token: [`Avx512::new`] returns one only if the CPU has AVX-512F (and
//! AVX2, FMA, POPCNT) and the OS saves the `zmm`/opmask state (`cpufeatures` checks CPUID and
//! `XGETBV`). On Zen 4 a `zmm` FMA issues at half the rate of a `ymm` one, so the peak is the same
//! as AVX2's; the gains are the 32 registers (bigger tiles, fewer loads per FMA), masked tails and
//! branch-free masked FMAs where a tile meets zeros of `A`.
//!
//! Tiles (chosen by measurement on Zen 4, `benches/examples/roofline.rs`): `matmul_bias` 8 rows ×
//! 3 vectors (24 accumulators, 48 columns; each row block reads `B` once, half as often as
//! 4 × 6 tiles did), `matmul_tn` 12 rows × 2 vectors, the sparse row kernel 8 vectors
//! (128 columns) at a time, `matmul_nt` 4 × 4 dot products. Row blocks of `A` (or column blocks,
//! for `matmul_tn`) with under 50% nonzeros take the sparse kernel (for `matmul_bias`, as
//! estimated from a sample of one cache line in 32).
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use core::arch::x86_64::*;

use super::simd::{self, Simd, enter, impl_kernels};
use super::{Kernels, Path};

cpufeatures::new!(cpu_avx512, "avx512f", "avx2", "fma", "popcnt");

/// The AVX-512F path. Exists only on CPUs that support it.
#[derive(Clone, Copy, Debug)]
pub struct Avx512 {
    _private: (),
}

impl Avx512 {
    /// The AVX-512 kernels, if this CPU (and OS) supports AVX-512F. The check runs once, then it
    /// is one relaxed atomic load.
    #[inline]
    pub fn new() -> Option<Self> {
        cpu_avx512::get().then_some(Avx512 { _private: () })
    }

    /// These kernels as a `'static` trait object.
    pub(crate) fn as_static(self) -> &'static dyn Kernels {
        const TOKEN: Avx512 = Avx512 { _private: () };
        &TOKEN
    }
}

/// Wraps an intrinsic call: sound because a `self: Avx512` proves the features are available.
macro_rules! avx512 {
    ($e:expr) => {
        // SAFETY: these intrinsics need AVX-512F (or AVX2/FMA) only, which the `Avx512` token
        // proves.
        unsafe { $e }
    };
}

/// Lanes `< len` set.
#[inline(always)]
fn part_mask(len: usize) -> __mmask16 {
    ((1u32 << len) - 1) as __mmask16
}

impl Simd for Avx512 {
    const LANES: usize = 16;
    // No `DENSE_B_CHUNK`: on Zen 4, chunks of 96–256 steps made the dense forward slower
    // (109.7–113.1 against 113.6–114.0 GFLOP/s unchunked; docs/kernel-notes.md).
    type F = __m512;
    type U = __m512i;
    type M = __mmask16;

    #[inline(always)]
    fn splat(self, x: f32) -> __m512 {
        avx512!(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees 16 readable floats at `p` (unaligned load).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_bytes(self, p: *const u8) -> __m512i {
        // SAFETY: the caller guarantees 16 readable bytes at `p` (unaligned 16-byte load).
        unsafe { _mm512_cvtepu8_epi32(_mm_loadu_si128(p.cast())) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m512) {
        // SAFETY: the caller guarantees 16 writable floats at `p` (unaligned store).
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_part(self, p: *const f32, len: usize) -> __m512 {
        // SAFETY: a masked load reads only the lanes `< len`, which the caller guarantees
        // readable; masked-out lanes never fault and are zeroed.
        unsafe { _mm512_maskz_loadu_ps(part_mask(len), p) }
    }
    #[inline(always)]
    unsafe fn store_part(self, p: *mut f32, len: usize, v: __m512) {
        // SAFETY: a masked store writes only the lanes `< len`, which the caller guarantees
        // writable.
        unsafe { _mm512_mask_storeu_ps(p, part_mask(len), v) }
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_add_ps(a, b))
    }
    #[inline(always)]
    fn sub(self, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_sub_ps(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_mul_ps(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_div_ps(a, b))
    }
    #[inline(always)]
    fn sqrt(self, a: __m512) -> __m512 {
        avx512!(_mm512_sqrt_ps(a))
    }
    #[inline(always)]
    fn fma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        avx512!(_mm512_fmadd_ps(a, b, c))
    }
    #[inline(always)]
    fn fma_if(self, a: __m512, b: __m512, c: __m512, keep: bool) -> __m512 {
        // Branch-free: a masked FMA leaves `c` exactly as it is where the mask is clear.
        let k = (u16::from(keep)).wrapping_neg();
        avx512!(_mm512_mask3_fmadd_ps(a, b, c, k))
    }
    #[inline(always)]
    fn max_ignore_nan(self, x: __m512, acc: __m512) -> __m512 {
        // `vmaxps` returns its second operand when either is NaN.
        avx512!(_mm512_max_ps(x, acc))
    }
    #[inline(always)]
    fn hsum(self, v: __m512) -> f32 {
        avx512!(_mm512_reduce_add_ps(v))
    }
    #[inline(always)]
    fn gt(self, a: __m512, b: __m512) -> __mmask16 {
        avx512!(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b))
    }
    #[inline(always)]
    fn nonzero_number_bits(self, a: __m512) -> u32 {
        // Ordered not-equal: false for NaN.
        u32::from(avx512!(_mm512_cmp_ps_mask::<_CMP_NEQ_OQ>(
            a,
            _mm512_setzero_ps()
        )))
    }
    #[inline(always)]
    fn nonzero_bits(self, a: __m512) -> u32 {
        u32::from(avx512!(_mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(
            a,
            _mm512_setzero_ps()
        )))
    }
    #[inline(always)]
    fn select(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_mask_blend_ps(m, b, a))
    }
    #[inline(always)]
    fn relu(self, a: __m512) -> __m512 {
        // `vmaxps` returns its second operand (+0) when either is NaN or both are zeros: the
        // same function as the default `select`, in one instruction, as on AVX2.
        avx512!(_mm512_max_ps(a, _mm512_setzero_ps()))
    }
    #[inline(always)]
    fn mand(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a & b
    }
    #[inline(always)]
    fn usplat(self, x: u32) -> __m512i {
        avx512!(_mm512_set1_epi32(x as i32))
    }
    #[inline(always)]
    fn iota(self) -> __m512i {
        avx512!(_mm512_setr_epi32(
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        ))
    }
    #[inline(always)]
    fn uadd(self, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_add_epi32(a, b))
    }
    #[inline(always)]
    fn usub(self, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_sub_epi32(a, b))
    }
    #[inline(always)]
    fn uxor(self, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_xor_si512(a, b))
    }
    #[inline(always)]
    fn uand(self, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_and_si512(a, b))
    }
    #[inline(always)]
    fn umul(self, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_mullo_epi32(a, b))
    }
    #[inline(always)]
    fn shr16(self, a: __m512i) -> __m512i {
        avx512!(_mm512_srli_epi32::<16>(a))
    }
    #[inline(always)]
    fn shr13(self, a: __m512i) -> __m512i {
        avx512!(_mm512_srli_epi32::<13>(a))
    }
    #[inline(always)]
    fn shl23(self, a: __m512i) -> __m512i {
        avx512!(_mm512_slli_epi32::<23>(a))
    }
    #[inline(always)]
    fn ult(self, a: __m512i, b: __m512i) -> __mmask16 {
        avx512!(_mm512_cmplt_epu32_mask(a, b))
    }
    #[inline(always)]
    fn ugt(self, a: __m512i, b: __m512i) -> __mmask16 {
        avx512!(_mm512_cmpgt_epu32_mask(a, b))
    }
    #[inline(always)]
    fn igt(self, a: __m512i, b: __m512i) -> __mmask16 {
        avx512!(_mm512_cmpgt_epi32_mask(a, b))
    }
    #[inline(always)]
    fn uselect(self, m: __mmask16, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_mask_blend_epi32(m, b, a))
    }
    #[inline(always)]
    fn to_bits(self, a: __m512) -> __m512i {
        avx512!(_mm512_castps_si512(a))
    }
    #[inline(always)]
    fn bits_as_f32(self, a: __m512i) -> __m512 {
        avx512!(_mm512_castsi512_ps(a))
    }
    #[inline(always)]
    fn trunc_i32(self, a: __m512) -> __m512i {
        avx512!(_mm512_cvttps_epi32(a))
    }
    #[inline(always)]
    fn i32_to_f32(self, a: __m512i) -> __m512 {
        avx512!(_mm512_cvtepi32_ps(a))
    }
    simd::impl_isolated_blocked!(Avx512, "avx512f,avx2,fma,popcnt", |walk| walk
        == simd::Walk::Rows);
}

impl_kernels!(
    Avx512, Path::Avx512, "avx512f,avx2,fma,popcnt",
    nn: (8, 3, 8, 0.5),
    tn: (12, 2),
    nt: (4, 4),
);
