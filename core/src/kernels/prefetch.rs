//! [`prefetch`]: a hint that bytes will be read soon, so that their cache lines travel from
//! memory while the core computes something else (a no-op where the target has no hint).
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

/// Bytes per cache line on the targets that get a hint.
const LINE: usize = 64;

/// Asks the CPU to bring `bytes` into its caches. Only a hint: it changes no result, faults on
/// nothing, and costs one instruction per 64-byte line.
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = bytes.as_ptr();
        let mut off = 0;
        while off < bytes.len() {
            // SAFETY: `prefetcht0` never faults and reads nothing architecturally; the address
            // lies inside `bytes` anyway (`off < bytes.len()`).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(off).cast()) };
            off += LINE;
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = (bytes, LINE);
}
