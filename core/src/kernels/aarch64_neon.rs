//! aarch64 NEON (Advanced SIMD) kernels: 4 `f32` lanes in 32 `q` registers.
//!
//! NEON is part of the aarch64 baseline (`target_feature = "neon"` is on for every aarch64
//! target flashnet builds for, Linux and bare metal), so this path is chosen at compile time and
//! [`Neon`] can be built freely: its existence needs no runtime check. NEON has no masked loads,
//! so tails go through a small stack buffer.
//!
//! Tiles: `matmul_bias` 8 rows × 3 vectors (24 accumulators), `matmul_tn` 8 × 3, the sparse row
//! kernel 8 vectors (32 columns) at a time, `matmul_nt` 4 × 4 dot products.
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use core::arch::aarch64::*;

use super::Path;
use super::simd::{self, Simd, enter, impl_kernels};

/// The NEON path (always available on aarch64 with NEON, which this module is compiled for).
#[derive(Clone, Copy, Debug, Default)]
pub struct Neon;

/// Wraps an intrinsic call: sound because this module is only compiled with NEON enabled.
macro_rules! neon {
    ($e:expr) => {
        // SAFETY: NEON is enabled for the whole target (the module's `cfg`), so these
        // register-only intrinsics (no memory access) are always executable.
        unsafe { $e }
    };
}

/// A mask's lanes (all ones or all zeros each) as bits, lane `i` at bit `i`.
#[inline(always)]
fn lane_bits(m: uint32x4_t) -> u32 {
    let weights = [1u32, 2, 4, 8];
    // SAFETY: reads the 4 `u32` of a local array (NEON is enabled for the target).
    let weights = unsafe { vld1q_u32(weights.as_ptr()) };
    neon!(vaddvq_u32(vandq_u32(m, weights)))
}

impl Simd for Neon {
    const LANES: usize = 4;
    type F = float32x4_t;
    type U = uint32x4_t;
    type M = uint32x4_t;

    #[inline(always)]
    fn splat(self, x: f32) -> float32x4_t {
        neon!(vdupq_n_f32(x))
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> float32x4_t {
        // SAFETY: the caller guarantees 4 readable floats at `p`.
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn load_bytes(self, p: *const u8) -> uint32x4_t {
        // SAFETY: the caller guarantees 4 readable bytes at `p` (read unaligned).
        let bytes = unsafe { core::ptr::read_unaligned(p.cast::<[u8; 4]>()) };
        let lanes = bytes.map(u32::from);
        // SAFETY: reads the 4 `u32` of a local array (NEON is enabled for the target).
        unsafe { vld1q_u32(lanes.as_ptr()) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: float32x4_t) {
        // SAFETY: the caller guarantees 4 writable floats at `p`.
        unsafe { vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn load_part(self, p: *const f32, len: usize) -> float32x4_t {
        let mut buf = [0.0f32; 4];
        let len = len.min(4);
        // SAFETY: the caller guarantees `len` readable floats at `p`; `buf` holds 4 ≥ len.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), len);
            vld1q_f32(buf.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn store_part(self, p: *mut f32, len: usize, v: float32x4_t) {
        let mut buf = [0.0f32; 4];
        let len = len.min(4);
        // SAFETY: `buf` holds 4 floats; the caller guarantees `len` writable floats at `p`.
        unsafe {
            vst1q_f32(buf.as_mut_ptr(), v);
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, len);
        }
    }
    #[inline(always)]
    fn add(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        neon!(vaddq_f32(a, b))
    }
    #[inline(always)]
    fn sub(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        neon!(vsubq_f32(a, b))
    }
    #[inline(always)]
    fn mul(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        neon!(vmulq_f32(a, b))
    }
    #[inline(always)]
    fn div(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        neon!(vdivq_f32(a, b))
    }
    #[inline(always)]
    fn sqrt(self, a: float32x4_t) -> float32x4_t {
        neon!(vsqrtq_f32(a))
    }
    #[inline(always)]
    fn fma(self, a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        // `vfmaq_f32(c, a, b)` = c + a·b, fused.
        neon!(vfmaq_f32(c, a, b))
    }
    #[inline(always)]
    fn max_ignore_nan(self, x: float32x4_t, acc: float32x4_t) -> float32x4_t {
        // `fmaxnm` returns the number when one operand is a (quiet) NaN.
        neon!(vmaxnmq_f32(x, acc))
    }
    #[inline(always)]
    fn hsum(self, v: float32x4_t) -> f32 {
        neon!(vaddvq_f32(v))
    }
    #[inline(always)]
    fn gt(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        neon!(vcgtq_f32(a, b))
    }
    #[inline(always)]
    fn nonzero_bits(self, a: float32x4_t) -> u32 {
        // `a == 0` is false for NaN, so NaN counts as nonzero, as `x != 0.0` does.
        lane_bits(neon!(vmvnq_u32(vceqzq_f32(a))))
    }
    #[inline(always)]
    fn nonzero_number_bits(self, a: float32x4_t) -> u32 {
        // `|a| > |0|` is false for `±0` and NaN.
        lane_bits(neon!(vcagtq_f32(a, vdupq_n_f32(0.0))))
    }
    #[inline(always)]
    fn select(self, m: uint32x4_t, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        neon!(vbslq_f32(m, a, b))
    }
    #[inline(always)]
    fn mand(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vandq_u32(a, b))
    }
    #[inline(always)]
    fn usplat(self, x: u32) -> uint32x4_t {
        neon!(vdupq_n_u32(x))
    }
    #[inline(always)]
    fn iota(self) -> uint32x4_t {
        let lanes = [0u32, 1, 2, 3];
        // SAFETY: reads the 4 `u32` of a local array (NEON is enabled for the target).
        unsafe { vld1q_u32(lanes.as_ptr()) }
    }
    #[inline(always)]
    fn uadd(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vaddq_u32(a, b))
    }
    #[inline(always)]
    fn usub(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vsubq_u32(a, b))
    }
    #[inline(always)]
    fn uxor(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(veorq_u32(a, b))
    }
    #[inline(always)]
    fn uand(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vandq_u32(a, b))
    }
    #[inline(always)]
    fn umul(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vmulq_u32(a, b))
    }
    #[inline(always)]
    fn shr16(self, a: uint32x4_t) -> uint32x4_t {
        neon!(vshrq_n_u32::<16>(a))
    }
    #[inline(always)]
    fn shr13(self, a: uint32x4_t) -> uint32x4_t {
        neon!(vshrq_n_u32::<13>(a))
    }
    #[inline(always)]
    fn shl23(self, a: uint32x4_t) -> uint32x4_t {
        neon!(vshlq_n_u32::<23>(a))
    }
    #[inline(always)]
    fn ult(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vcltq_u32(a, b))
    }
    #[inline(always)]
    fn ugt(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vcgtq_u32(a, b))
    }
    #[inline(always)]
    fn igt(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vcgtq_s32(
            vreinterpretq_s32_u32(a),
            vreinterpretq_s32_u32(b)
        ))
    }
    #[inline(always)]
    fn uselect(self, m: uint32x4_t, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        neon!(vbslq_u32(m, a, b))
    }
    #[inline(always)]
    fn to_bits(self, a: float32x4_t) -> uint32x4_t {
        neon!(vreinterpretq_u32_f32(a))
    }
    #[inline(always)]
    fn bits_as_f32(self, a: uint32x4_t) -> float32x4_t {
        neon!(vreinterpretq_f32_u32(a))
    }
    #[inline(always)]
    fn trunc_i32(self, a: float32x4_t) -> uint32x4_t {
        // `fcvtzs` rounds toward zero, like `as i32` (saturating out of range, never used).
        neon!(vreinterpretq_u32_s32(vcvtq_s32_f32(a)))
    }
    #[inline(always)]
    fn i32_to_f32(self, a: uint32x4_t) -> float32x4_t {
        neon!(vcvtq_f32_s32(vreinterpretq_s32_u32(a)))
    }
}

impl_kernels!(
    Neon, Path::Neon, "neon",
    nn: (8, 3, 8, 0.5),
    tn: (8, 3),
    nt: (4, 4),
);
