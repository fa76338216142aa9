//! The portable integer kernel: plain Rust for any target (Cortex-M0+, RISC-V, the host).
//!
//! It uses the DSP kernel's arithmetic (see `dsp.rs`) with scalar multiplies: the low and high
//! halves of a packed weight word, read as signed 16-bit numbers, are `256·w_b + w_a + 128`
//! for one input each; the odd bytes, sign-extended, are `w_b`. Accumulating `R = Σ x·half`
//! and `B = Σ x·w_b` (wrapping) gives `A = Σ x·w_a = R − 256·B − 128·Σx` exactly: 4
//! multiply-accumulates and 4 extractions per weight word instead of 4 byte decodes with
//! offsets. The tests check it against a plain natural-layout reference.
#![forbid(unsafe_code)]

/// Sum of the four bytes of a word.
#[inline(always)]
fn byte_sum(p: u32) -> u32 {
    (p & 0xff) + ((p >> 8) & 0xff) + ((p >> 16) & 0xff) + (p >> 24)
}

/// `(R, B)` contributions of one weight word against the input pair `(x_lo, x_hi)`.
#[inline(always)]
fn mac(w: u32, x_lo: i32, x_hi: i32) -> (i32, i32) {
    let r = i32::from(w as u16 as i16)
        .wrapping_mul(x_lo)
        .wrapping_add(i32::from((w >> 16) as u16 as i16).wrapping_mul(x_hi));
    let b = i32::from((w >> 8) as u8 as i8)
        .wrapping_mul(x_lo)
        .wrapping_add(i32::from((w >> 24) as u8 as i8).wrapping_mul(x_hi));
    (r, b)
}

/// Dot products of a packed layer, one block of 4 output channels at a time.
///
/// `x(g)` is the little-endian word of offset inputs `4g..4g+4`; `list` is scratch space;
/// `emit(k, dots)` receives the dot products of outputs `4k..4k+4` (padding channels give 0).
/// With `skip_zeros`, groups whose 4 inputs are all zero are left out (exactly: they add 0).
// `k` indexes the inner dimension of `kernel[g][k]`, which an iterator over blocks cannot.
#[allow(clippy::needless_range_loop)]
pub fn dense<const GROUPS: usize, const BLOCKS: usize>(
    kernel: &[[[u32; 4]; BLOCKS]; GROUPS],
    x: impl Fn(usize) -> u32,
    list: &mut [[u32; 2]; GROUPS],
    skip_zeros: bool,
    mut emit: impl FnMut(usize, [i32; 4]),
) {
    let mut n = 0;
    let mut sum = 0u32;
    for g in 0..GROUPS {
        let p = x(g);
        if p != 0 || !skip_zeros {
            list[n] = [g as u32, p];
            n += 1;
            sum = sum.wrapping_add(byte_sum(p));
        }
    }
    let list = &list[..n];
    let sum128 = sum.wrapping_mul(128) as i32;
    for k in 0..BLOCKS {
        let (mut rab, mut bb, mut rcd, mut bd) = (0i32, 0i32, 0i32, 0i32);
        for &[g, p] in list {
            let [w0, w1, w2, w3] = kernel[g as usize][k];
            let (x0, x1, x2, x3) = (
                (p & 0xff) as i32,
                ((p >> 8) & 0xff) as i32,
                ((p >> 16) & 0xff) as i32,
                (p >> 24) as i32,
            );
            // Inputs 4g and 4g+2 pair up in w0/w1, inputs 4g+1 and 4g+3 in w2/w3.
            let (r0, b0) = mac(w0, x0, x2);
            let (r1, b1) = mac(w1, x0, x2);
            let (r2, b2) = mac(w2, x1, x3);
            let (r3, b3) = mac(w3, x1, x3);
            rab = rab.wrapping_add(r0).wrapping_add(r2);
            bb = bb.wrapping_add(b0).wrapping_add(b2);
            rcd = rcd.wrapping_add(r1).wrapping_add(r3);
            bd = bd.wrapping_add(b1).wrapping_add(b3);
        }
        let a = rab.wrapping_sub(bb.wrapping_mul(256)).wrapping_sub(sum128);
        let c = rcd.wrapping_sub(bd.wrapping_mul(256)).wrapping_sub(sum128);
        emit(k, [a, bb, c, bd]);
    }
}
