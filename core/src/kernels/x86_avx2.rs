//! x86-64 AVX2 + FMA kernels: 8 `f32` lanes in 16 `ymm` registers.
//!
//! [`Avx2`] is the proof token: [`Avx2::new`] returns one only if the CPU has AVX2, FMA and
//! POPCNT (every AVX2 CPU has it; `matmul_bias` counts its sample's nonzeros with it) and the OS
//! saves the `ymm` state (`cpufeatures` checks CPUID and `XGETBV`). Its [`Kernels`] methods run
//! the generic kernels of `simd.rs` compiled for `avx2,fma,popcnt`.
//!
//! Tiles: `matmul_bias` 6 rows × 2 vectors (12 accumulators), `matmul_tn` 6 × 2, the sparse row
//! kernel 8 vectors (64 columns) at a time, `matmul_nt` 3 × 3 dot products (4 × 3 spilled
//! accumulators: 52.7 against 79.0–81.8 GFLOP/s on the 32×128×784 input gradient). Row blocks
//! of `A` (column blocks for `matmul_tn`) with under 90% nonzeros take the sparse kernel.
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use core::arch::x86_64::*;

use super::simd::{self, Simd, enter, impl_kernels};
use super::{Kernels, Path};

cpufeatures::new!(cpu_avx2, "avx2", "fma", "popcnt");

/// The AVX2 + FMA path. Exists only on CPUs that support it.
#[derive(Clone, Copy, Debug)]
pub struct Avx2 {
    _private: (),
}

impl Avx2 {
    /// The AVX2 kernels, if this CPU (and OS) supports AVX2 and FMA. The check runs once, then
    /// it is one relaxed atomic load.
    #[inline]
    pub fn new() -> Option<Self> {
        cpu_avx2::get().then_some(Avx2 { _private: () })
    }

    /// These kernels as a `'static` trait object.
    pub(crate) fn as_static(self) -> &'static dyn Kernels {
        const TOKEN: Avx2 = Avx2 { _private: () };
        &TOKEN
    }
}

/// Wraps an intrinsic call: sound because a `self: Avx2` proves the features are available.
macro_rules! avx {
    ($e:expr) => {
        // SAFETY: these intrinsics need AVX/AVX2/FMA only, which the `Avx2` token proves.
        unsafe { $e }
    };
}

impl Simd for Avx2 {
    const LANES: usize = 8;
    /// 16 KiB: 256 steps of a 16-column block. Zen 3, 32×784×128 dense forward, best of 400
    /// interleaved calls (`--example roofline`): 83.1–91.1 µs without chunks, 75.2–80.6 with
    /// 16 KiB, 77.8–80.0 with 8 KiB, 76.3–80.9 with 24 KiB.
    const DENSE_B_CHUNK: usize = 16 * 1024;
    type F = __m256;
    type U = __m256i;
    type M = __m256;

    #[inline(always)]
    fn splat(self, x: f32) -> __m256 {
        avx!(_mm256_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable floats at `p` (unaligned load).
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_bytes(self, p: *const u8) -> __m256i {
        // SAFETY: the caller guarantees 8 readable bytes at `p` (`vmovq` reads exactly 8).
        unsafe { _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast())) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m256) {
        // SAFETY: the caller guarantees 8 writable floats at `p` (unaligned store).
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_part(self, p: *const f32, len: usize) -> __m256 {
        let mask = part_mask(self, len);
        // SAFETY: `vmaskmovps` reads only the lanes `< len`, which the caller guarantees
        // readable; masked-out lanes never fault and read as zero.
        unsafe { _mm256_maskload_ps(p, mask) }
    }
    #[inline(always)]
    unsafe fn store_part(self, p: *mut f32, len: usize, v: __m256) {
        let mask = part_mask(self, len);
        // SAFETY: `vmaskmovps` writes only the lanes `< len`, which the caller guarantees
        // writable.
        unsafe { _mm256_maskstore_ps(p, mask, v) }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        avx!(_mm256_add_ps(a, b))
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        avx!(_mm256_sub_ps(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        avx!(_mm256_mul_ps(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        avx!(_mm256_div_ps(a, b))
    }
    #[inline(always)]
    fn sqrt(self, a: __m256) -> __m256 {
        avx!(_mm256_sqrt_ps(a))
    }
    #[inline(always)]
    fn fma(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        avx!(_mm256_fmadd_ps(a, b, c))
    }
    #[inline(always)]
    fn max_ignore_nan(self, x: __m256, acc: __m256) -> __m256 {
        // `maxps` returns its second operand when either is NaN.
        avx!(_mm256_max_ps(x, acc))
    }
    #[inline(always)]
    fn hsum(self, v: __m256) -> f32 {
        avx!({
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_movehdup_ps(s));
            _mm_cvtss_f32(s)
        })
    }
    #[inline(always)]
    fn gt(self, a: __m256, b: __m256) -> __m256 {
        avx!(_mm256_cmp_ps::<_CMP_GT_OQ>(a, b))
    }
    #[inline(always)]
    fn nonzero_number_bits(self, a: __m256) -> u32 {
        // Ordered not-equal: false for NaN.
        avx!(_mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_OQ>(a, _mm256_setzero_ps())) as u32)
    }
    #[inline(always)]
    fn nonzero_bits(self, a: __m256) -> u32 {
        avx!(_mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(a, _mm256_setzero_ps())) as u32)
    }
    #[inline(always)]
    fn select(self, m: __m256, a: __m256, b: __m256) -> __m256 {
        avx!(_mm256_blendv_ps(b, a, m))
    }
    #[inline(always)]
    fn relu(self, a: __m256) -> __m256 {
        // `maxps` returns its second operand (+0) when either is NaN or both are zeros. Unlike
        // the default `select`, LLVM cannot turn an in-place `relu` into a masked store of
        // zeros (`vmaskmovps`, microcoded and slow on AMD).
        avx!(_mm256_max_ps(a, _mm256_setzero_ps()))
    }
    #[inline(always)]
    fn mand(self, a: __m256, b: __m256) -> __m256 {
        avx!(_mm256_and_ps(a, b))
    }
    #[inline(always)]
    fn usplat(self, x: u32) -> __m256i {
        avx!(_mm256_set1_epi32(x as i32))
    }
    #[inline(always)]
    fn iota(self) -> __m256i {
        avx!(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    }
    #[inline(always)]
    fn uadd(self, a: __m256i, b: __m256i) -> __m256i {
        avx!(_mm256_add_epi32(a, b))
    }
    #[inline(always)]
    fn usub(self, a: __m256i, b: __m256i) -> __m256i {
        avx!(_mm256_sub_epi32(a, b))
    }
    #[inline(always)]
    fn uxor(self, a: __m256i, b: __m256i) -> __m256i {
        avx!(_mm256_xor_si256(a, b))
    }
    #[inline(always)]
    fn uand(self, a: __m256i, b: __m256i) -> __m256i {
        avx!(_mm256_and_si256(a, b))
    }
    #[inline(always)]
    fn umul(self, a: __m256i, b: __m256i) -> __m256i {
        avx!(_mm256_mullo_epi32(a, b))
    }
    #[inline(always)]
    fn shr16(self, a: __m256i) -> __m256i {
        avx!(_mm256_srli_epi32::<16>(a))
    }
    #[inline(always)]
    fn shr13(self, a: __m256i) -> __m256i {
        avx!(_mm256_srli_epi32::<13>(a))
    }
    #[inline(always)]
    fn shl23(self, a: __m256i) -> __m256i {
        avx!(_mm256_slli_epi32::<23>(a))
    }
    #[inline(always)]
    fn ult(self, a: __m256i, b: __m256i) -> __m256 {
        // AVX2 has only signed compares: flip the sign bits to compare unsigned.
        let bias = self.usplat(0x8000_0000);
        self.igt(self.uxor(b, bias), self.uxor(a, bias))
    }
    #[inline(always)]
    fn ugt(self, a: __m256i, b: __m256i) -> __m256 {
        self.ult(b, a)
    }
    #[inline(always)]
    fn igt(self, a: __m256i, b: __m256i) -> __m256 {
        avx!(_mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b)))
    }
    #[inline(always)]
    fn uselect(self, m: __m256, a: __m256i, b: __m256i) -> __m256i {
        avx!(_mm256_castps_si256(_mm256_blendv_ps(
            _mm256_castsi256_ps(b),
            _mm256_castsi256_ps(a),
            m
        )))
    }
    #[inline(always)]
    fn to_bits(self, a: __m256) -> __m256i {
        avx!(_mm256_castps_si256(a))
    }
    #[inline(always)]
    fn bits_as_f32(self, a: __m256i) -> __m256 {
        avx!(_mm256_castsi256_ps(a))
    }
    #[inline(always)]
    fn trunc_i32(self, a: __m256) -> __m256i {
        avx!(_mm256_cvttps_epi32(a))
    }
    #[inline(always)]
    fn i32_to_f32(self, a: __m256i) -> __m256 {
        avx!(_mm256_cvtepi32_ps(a))
    }

    simd::impl_isolated_blocked!(Avx2, "avx2,fma,popcnt");
}

/// Lanes `< len` all ones (the mask of `vmaskmovps`).
#[inline(always)]
fn part_mask(_: Avx2, len: usize) -> __m256i {
    avx!(_mm256_cmpgt_epi32(
        _mm256_set1_epi32(len as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
    ))
}

// Blocks under 90% nonzeros take the sparse kernels. Dense tiles that must skip zeros branch
// per row and step (ReLU-like data, 55% nonzeros at random: 3× slower than with no zero), while
// the sparse kernels' cost grows with the nonzeros only. Zen 3, roofline best of 400, 32×784×128
// with 45% zeros: forward 222–227 → 100 µs, weight gradient 228–229 → 82 µs (threshold 0.5 →
// 0.9); at 10% zeros both ways cost the same (168–170 and 119–122 µs); at 3% zeros a threshold
// of 0.97 sent part of the weight gradient's blocks to the sparse kernel: 113 µs against 100.
// The forward's dense tiles no longer skip zeros (they speculate, `blocked::Zeros`), yet its
// sparse walk still wins at 45% zeros: 57.7–58.1 µs against 70.4–71.1 at a threshold of 0.5
// (Zen 4, docs/kernel-notes.md).
impl_kernels!(
    Avx2, Path::Avx2, "avx2,fma,popcnt",
    nn: (6, 2, 8, 0.9),
    tn: (6, 2),
    nt: (3, 3),
);
