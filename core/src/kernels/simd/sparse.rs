//! Sparse walks for products whose `A` is mostly zeros (MNIST's pixels, ReLU outputs): each
//! nonzero found with vector compares and applied on its own, so the cost grows with the
//! nonzeros only.

use super::blocked::col_block;
use super::tile::{tile_init, tile_step, tile_store};
use super::{Simd, ld, st};

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
pub(super) unsafe fn sparse_rows<S: Simd, const NC: usize>(
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

/// Bytes of `C` a chunk of [`sparse_outer`] keeps hot (the rows of `B` stay hot too).
pub(super) const OUTER_CHUNK_BYTES: usize = 32 << 10;

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
pub(super) unsafe fn sparse_outer<S: Simd, const NC: usize>(
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
pub(super) unsafe fn sparse_gather<S: Simd, const NC: usize>(
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
