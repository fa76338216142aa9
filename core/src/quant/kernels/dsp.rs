//! The Cortex-M DSP kernel (ARMv7E-M and ARMv8-M with the DSP extension: M4, M7, M33, M55),
//! in inline assembly because `core::arch::arm`'s DSP intrinsics are unstable.
//!
//! # How 16 multiply-accumulates take 19 instructions
//!
//! Each packed weight word holds two inputs `(i, j)` × two outputs `(a, b)`:
//! `[w_a(i) + 128, w_b(i), w_a(j) + 128, w_b(j)]` (bytes, low first), and the input word holds
//! `x_i` and `x_j` in its 16-bit halves (`UXTB16` of 4 input bytes yields inputs 0 and 2, its
//! `ROR #8` form inputs 1 and 3). Then per weight word:
//!
//! - `SMLAD R, w, X, R` treats the two halves of `w` as signed 16-bit numbers
//!   `256·w_b + w_a + 128` and accumulates `R += Σ x·(256·w_b + w_a + 128)` (modulo 2³²);
//! - `SXTB16 w, w, ROR #8` sign-extends the odd bytes, `(w_b(i), w_b(j))`, and
//!   `SMLAD B, w, X, B` accumulates `B = Σ x·w_b` exactly.
//!
//! So `A = Σ x·w_a = R − 256·B − 128·Σx` (exact in wrapping `i32` arithmetic, since the true
//! `A` fits), and one load, one sign extension and two `SMLAD`s give 4 multiply-accumulates
//! without ever sign-extending the `w_a` bytes. A group of 4 inputs × 4 outputs is then: load
//! the list entry (`LDM`: weight address and input word), load 4 weight words (`LDM` with
//! write-back, which also steps the address to the next block), store the address back, 2
//! `UXTB16`, 4 `SXTB16`, 8 `SMLAD`, and the loop's `SUBS`/`BNE`: 19 instructions.
#![allow(unsafe_code)]

use core::arch::asm;

use super::byte_sum;

/// Same contract as [`super::portable::dense`], same results, bit for bit.
pub fn dense<const GROUPS: usize, const BLOCKS: usize>(
    kernel: &[[[u32; 4]; BLOCKS]; GROUPS],
    x: impl Fn(usize) -> u32,
    list: &mut [[u32; 2]; GROUPS],
    skip_zeros: bool,
    mut emit: impl FnMut(usize, [i32; 4]),
) {
    // Entry = (address of kernel[g][0], input word of group g).
    let base = kernel.as_ptr() as usize as u32;
    let stride = (BLOCKS * 16) as u32;
    let mut n = 0;
    let mut sum = 0u32;
    for g in 0..GROUPS {
        let p = x(g);
        if p != 0 || !skip_zeros {
            list[n] = [base.wrapping_add(stride.wrapping_mul(g as u32)), p];
            n += 1;
            sum = sum.wrapping_add(byte_sum(p));
        }
    }
    for k in 0..BLOCKS {
        let [rab, bb, rcd, bd] = if n == 0 {
            [0; 4]
        } else {
            // SAFETY: `list[..n]` holds, for each listed group g, the address of
            // `kernel[g][k]`: set to `kernel[g][0]` above and advanced by one `[u32; 4]` (16
            // bytes) by each of the `k` previous calls, with `k < BLOCKS`, so all 4 words read
            // are inside `kernel`, which is borrowed for the whole call and word-aligned
            // (`u32`), as `LDM` requires. The list itself is `n ≥ 1` aligned entries, read
            // and written in place through the exclusive borrow. The assembly touches no other
            // memory and no stack, and every register it changes is an output or clobber.
            unsafe { block(list.as_mut_ptr(), n) }
        };
        let sum128 = sum.wrapping_mul(128);
        let a = rab.wrapping_sub(bb.wrapping_mul(256)).wrapping_sub(sum128);
        let c = rcd.wrapping_sub(bd.wrapping_mul(256)).wrapping_sub(sum128);
        emit(k, [a as i32, bb as i32, c as i32, bd as i32]);
    }
}

/// One block of 4 output channels over `n ≥ 1` list entries: returns `(R_ab, B_b, R_cd, B_d)`
/// and advances every entry's weight address by 16 bytes.
///
/// # Safety
///
/// `list` points to `n ≥ 1` writable `[u32; 2]` entries whose first word is the address of 4
/// readable, word-aligned `u32`s.
#[inline(always)]
unsafe fn block(list: *mut [u32; 2], n: usize) -> [u32; 4] {
    let (mut rab, mut bb, mut rcd, mut bd) = (0u32, 0u32, 0u32, 0u32);
    // SAFETY: guaranteed by the caller (see above); registers r0–r5 are declared clobbered,
    // the list pointer (r12) and loop counter (lr) are in/out operands, the accumulators
    // r8–r11 outputs.
    unsafe {
        asm!(
            "2:",
            "ldm r12!, {{r4, r5}}",
            "ldm r4!, {{r0, r1, r2, r3}}",
            "str r4, [r12, #-8]",
            "uxtb16 r4, r5",
            "smlad r8, r0, r4, r8",
            "sxtb16 r0, r0, ror #8",
            "smlad r9, r0, r4, r9",
            "smlad r10, r1, r4, r10",
            "sxtb16 r1, r1, ror #8",
            "smlad r11, r1, r4, r11",
            "uxtb16 r5, r5, ror #8",
            "smlad r8, r2, r5, r8",
            "sxtb16 r2, r2, ror #8",
            "smlad r9, r2, r5, r9",
            "smlad r10, r3, r5, r10",
            "sxtb16 r3, r3, ror #8",
            "smlad r11, r3, r5, r11",
            "subs lr, lr, #1",
            "bne 2b",
            inout("r12") list => _,
            inout("lr") n => _,
            inout("r8") rab,
            inout("r9") bb,
            inout("r10") rcd,
            inout("r11") bd,
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            options(nostack),
        );
    }
    [rab, bb, rcd, bd]
}
