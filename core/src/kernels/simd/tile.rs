//! The register tile of the matrix products: `MR` rows × `NR` vectors of `C` kept in
//! registers over a run of steps, with zero skipping exact.

use super::{Simd, ld, st};

/// Register tile: `MR` rows of `C` × `NR` vectors of columns, the last of which holds `last`
/// (`1..=LANES`) columns. Accumulates `Σ_q a(r, q)·B[q]` for `q in 0..steps`, where row `r`'s
/// value at step `q` is `*a.add(r·ars + q·aqs)` and `B[q]` starts at `b.add(q·ldb)`; steps whose
/// `a` value is zero are skipped for that row. `acc` holds the initial values.
pub(super) struct Tile {
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
pub(super) unsafe fn tile_step<S: Simd, const MR: usize, const NR: usize, const FULL: bool>(
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
pub(super) unsafe fn nonzero_bits<S: Simd>(s: S, p: *const f32, len: usize) -> u32 {
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
pub(super) unsafe fn tile_rows<S: Simd, const MR: usize, const NR: usize>(
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
pub(super) unsafe fn tile_cols<S: Simd, const MR: usize, const NR: usize>(
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

/// Whether a result of the tile is zero or NaN (of the last vector, its first `last` lanes):
/// one compare per accumulator, once per tile.
#[inline(always)]
pub(super) fn zero_or_nan<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    acc: &[[S::F; NR]; MR],
    last: usize,
) -> bool {
    let mut bad = 0;
    for acc in acc {
        for (v, &x) in acc.iter().enumerate() {
            let lanes = if v + 1 == NR { last } else { S::LANES };
            bad |= !s.nonzero_number_bits(x) & (u32::MAX >> (32 - lanes));
        }
    }
    bad != 0
}

/// Stores a tile's accumulators to `C` (`MR` rows of stride `ldc`), applying ReLU if asked.
///
/// # Safety
/// `c.add(r·ldc)..+ (NR − 1)·LANES + last` writable for `r < MR`.
#[inline(always)]
pub(super) unsafe fn tile_store<S: Simd, const MR: usize, const NR: usize>(
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
            // Not `s.relu(x)`: with AVX2's `maxps` there, LLVM kept a vector live across the
            // isolated tile loops and spilled two of the 6 × 2 tile's accumulators (dense
            // forward 82 → 45% of peak on Zen 3 until this was found). The select is the same
            // function, bit for bit.
            let x = if relu {
                let zero = s.splat(0.0);
                s.select(s.gt(x, zero), x, zero)
            } else {
                x
            };
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
pub(super) unsafe fn tile_init<S: Simd, const MR: usize, const NR: usize>(
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
pub(super) unsafe fn tile_load<S: Simd, const MR: usize, const NR: usize>(
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
