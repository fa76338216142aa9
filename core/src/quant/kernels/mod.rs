//! Integer dense kernels over the packed weight layout of [`QDense`](super::QDense).
//!
//! Both implementations compute, for every block of 4 output channels, the exact `i32` dot
//! products `Σᵢ w[i][o]·x[i]` of int8 weights with offset inputs `x = q − zero_point ∈ 0..=255`,
//! and skip groups of 4 inputs that are all zero (exactly: they add nothing). They differ only
//! in speed:
//!
//! - [`portable`]: plain Rust, any target (Cortex-M0+, RISC-V, the host); the reference.
//! - `dsp` (feature `dsp` on `target_arch = "arm"`): Cortex-M4/M7/M33/M55 DSP instructions
//!   (`SMLAD`, `SXTB16`, `UXTB16`) in inline assembly, 16 multiply-accumulates in 19
//!   instructions.
//!
//! Both take the same arguments and give bit-identical results.

pub mod portable;

#[cfg(all(feature = "dsp", target_arch = "arm"))]
pub(crate) mod dsp;

/// The kernel compiled into this build: `"dsp"` or `"portable"`.
pub const KERNEL: &str = if cfg!(all(feature = "dsp", target_arch = "arm")) {
    "dsp"
} else {
    "portable"
};

#[cfg(all(feature = "dsp", target_arch = "arm"))]
pub(crate) use dsp::dense;
#[cfg(not(all(feature = "dsp", target_arch = "arm")))]
pub(crate) use portable::dense;

/// Sum of the four bytes of a word.
#[cfg(any(test, all(feature = "dsp", target_arch = "arm")))]
#[inline(always)]
pub(crate) fn byte_sum(p: u32) -> u32 {
    let t = (p & 0x00ff_00ff) + ((p >> 8) & 0x00ff_00ff);
    (t & 0xffff) + (t >> 16)
}
