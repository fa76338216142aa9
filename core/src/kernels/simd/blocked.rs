//! Blocked products over whole matrices: row and column blocks of tiles, the choice of walk
//! and the chunking of `B` that keeps it in L1.

use super::Simd;
use super::tile::{Tile, tile_cols, tile_init, tile_load, tile_rows, tile_store, zero_or_nan};

/// Which walk of `A` a tile uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// `A` rows contiguous along the steps (`matmul_bias`).
    Rows,
    /// `A` values of one step contiguous across the rows (`matmul_tn`).
    Cols,
}

/// How the tiles of a [`Blocked`] product treat the zeros of `A`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zeros {
    /// `A` may hold zeros: the tiles look for them and skip them.
    Skip,
    /// `A` holds none: the tiles do not look.
    Absent,
    /// The tiles do not look, so they multiply the zeros of `A` too; if any result is zero or
    /// NaN, [`blocked()`] says so, and the caller computes the whole product again with
    /// [`Zeros::Skip`]. That is exact: adding
    /// `0·b` leaves a sum unchanged unless `b` is infinite or NaN (then the sum is NaN for
    /// good) or the sum is itself a zero (then only its sign may change, and it stays a zero
    /// until a nonzero term makes both sums equal again), so a result that is neither zero nor
    /// NaN is the one skipping would give, bit for bit.
    Speculate,
}

/// One `MR × (NR − 1)·LANES + last` tile: init (bias or zero), accumulate, store. With `check`,
/// returns whether a result (before ReLU) is zero or NaN.
///
/// # Safety
/// See [`tile_rows`], [`tile_cols`], [`tile_store`], [`tile_init`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    walk: Walk,
    t: &Tile,
    a: *const f32,
    b: *const f32,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    relu: bool,
    check: bool,
) -> bool {
    // SAFETY: forwarded caller's contract.
    unsafe {
        let mut acc = if t.resume {
            tile_load::<S, MR, NR>(s, c, ldc, t.last)
        } else {
            tile_init::<S, MR, NR>(s, bias, t.last)
        };
        match walk {
            Walk::Rows => tile_rows::<S, MR, NR>(s, t, &mut acc, a, b),
            Walk::Cols => tile_cols::<S, MR, NR>(s, t, &mut acc, a, b),
        }
        let suspect = check && zero_or_nan::<S, MR, NR>(s, &acc, t.last);
        tile_store::<S, MR, NR>(s, &acc, c, ldc, t.last, relu);
        suspect
    }
}

/// A tile with `mr ≤ MR` rows (runtime), dispatched to a const instantiation.
///
/// # Safety
/// As [`tile`] with `MR = mr`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile_rows_dyn<S: Simd, const MR: usize, const NR: usize>(
    s: S,
    mr: usize,
    walk: Walk,
    t: &Tile,
    a: *const f32,
    b: *const f32,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
    relu: bool,
    check: bool,
) -> bool {
    macro_rules! go {
        ($($r:literal)*) => {
            match mr {
                $($r if $r <= MR => {
                    // SAFETY: `mr` rows, the caller's contract.
                    unsafe { tile::<S, $r, NR>(s, walk, t, a, b, bias, c, ldc, relu, check) }
                })*
                _ => unreachable!("tile of {} rows", mr),
            }
        };
    }
    go!(16 12 8 6 4 3 2 1)
}

/// The next tile's height for `left` rows: the largest height `≤ min(left, MR)` among those
/// [`tile_rows_dyn`] instantiates, except that a short last tile is avoided: the last `MR + r`
/// rows with `r < MR / 2` go as two tiles of about half each (32 rows in 6-row tiles: 6, 6, 6,
/// 6, 4, 4 rather than a 2-row tail whose 4 accumulators cannot hide the FMA latency).
#[inline(always)]
pub(super) fn tile_height<const MR: usize>(left: usize) -> usize {
    let cap = if left > MR && left - MR < MR / 2 {
        left.div_ceil(2)
    } else {
        left.min(MR)
    };
    [16, 12, 8, 6, 4, 3, 2, 1]
        .into_iter()
        .find(|&h| h <= cap)
        .unwrap_or(1)
}

/// The column block starting at `j` of `cols`: `(nv, width, last)`, i.e. up to `max_v` vectors,
/// `width` columns, the last vector holding `last` (`1..=LANES`) of them.
#[inline(always)]
pub(super) fn col_block<S: Simd>(cols: usize, j: usize, max_v: usize) -> (usize, usize, usize) {
    let left = cols - j;
    let nv = left.div_ceil(S::LANES).min(max_v);
    let width = (nv * S::LANES).min(left);
    (nv, width, width - (nv - 1) * S::LANES)
}

/// The operands of a blocked product `C[rows×cols] (+)= Σ_q a(r,q)·B[q][..]` ([`blocked`]).
#[derive(Clone, Copy)]
pub(crate) struct Blocked {
    /// How `A` is walked: the tile kind.
    pub walk: Walk,
    pub rows: usize,
    pub cols: usize,
    pub steps: usize,
    /// `a(r, q)` is at `a + r·a_row_stride + q·a_step_stride`.
    pub a: *const f32,
    pub a_row_stride: usize,
    pub a_step_stride: usize,
    /// Row `q` of `B` starts at `b + q·ldb`.
    pub b: *const f32,
    pub ldb: usize,
    /// `bias[..cols]` initializes every row of `C`; null: `C` starts at zero.
    pub bias: *const f32,
    /// Row `r` of `C` starts at `c + r·ldc`.
    pub c: *mut f32,
    pub ldc: usize,
    /// ReLU applied to `C` on store.
    pub relu: bool,
    /// How the tiles treat the zeros of `A` (as walked).
    pub zeros: Zeros,
}

/// Generic blocked product `C[rows×cols] (+)= Σ_q a(r,q)·B[q][..]`: row blocks of `MR`, column
/// blocks of `NR` vectors (full), then narrower column blocks for the rest. A [`Walk::Rows`]
/// product of more than one row block walks the steps of each column block in chunks
/// ([`dense_chunk`]) whose rows of `B` stay in L1 while every row block takes them, the partial
/// sums passing through `C` (exact: the order of the terms is unchanged), if the path sets
/// [`Simd::DENSE_B_CHUNK`]; otherwise each row block reads the whole column block of `B`.
/// Returns whether, with [`Zeros::Speculate`], a result (before ReLU) is zero or NaN: then the
/// caller must compute the product again with [`Zeros::Skip`].
///
/// # Safety
/// All of `A` (as walked), `B[q·ldb .. q·ldb + cols]` for `q < steps`, `bias[..cols]` (if not
/// null) readable; `C[r·ldc .. r·ldc + cols]` writable for `r < rows`.
#[inline(always)]
#[must_use]
pub(crate) unsafe fn blocked<S: Simd, const MR: usize, const NR: usize>(s: S, p: &Blocked) -> bool {
    let Blocked {
        walk,
        rows,
        cols,
        steps,
        a,
        a_row_stride,
        a_step_stride,
        b,
        ldb,
        bias,
        c,
        ldc,
        relu,
        zeros,
    } = *p;
    let mut suspect = false;
    let mut j = 0;
    while j < cols {
        let (nv, width, last) = col_block::<S>(cols, j, NR);
        let kc = if walk == Walk::Rows && rows > MR {
            dense_chunk::<S>(4 * nv * S::LANES, steps)
        } else {
            steps
        };
        let bj = if bias.is_null() {
            bias
        } else {
            // SAFETY: `j < cols`: inside `bias[..cols]`.
            unsafe { bias.add(j) }
        };
        let mut q0 = 0;
        while q0 < steps {
            let q1 = (q0 + kc).min(steps);
            let t = Tile {
                steps: q1 - q0,
                ars: a_row_stride,
                aqs: a_step_stride,
                ldb,
                last,
                no_zeros: zeros != Zeros::Skip,
                resume: q0 > 0,
            };
            let done = q1 == steps;
            let (relu, check) = (relu && done, zeros == Zeros::Speculate && done);
            let mut i = 0;
            while i < rows {
                let mr = tile_height::<MR>(rows - i);
                // SAFETY: rows `i..i + mr`, columns `j..j + width`, steps `q0..q1` of the
                // caller's ranges.
                unsafe {
                    let ai = a.add(i * a_row_stride + q0 * a_step_stride);
                    let (bj0, ci) = (b.add(q0 * ldb + j), c.add(i * ldc + j));
                    macro_rules! nr {
                        ($($v:literal)*) => {
                            match nv {
                                $($v if $v <= NR => tile_rows_dyn::<S, MR, $v>(
                                    s, mr, walk, &t, ai, bj0, bj, ci, ldc, relu, check,
                                ),)*
                                _ => unreachable!(),
                            }
                        };
                    }
                    suspect |= nr!(1 2 3 4 5 6 7 8);
                }
                i += mr;
            }
            q0 = q1;
        }
        j += width;
    }
    suspect
}

/// Steps per chunk of a [`Walk::Rows`] product whose `B` rows hold `row_bytes` bytes: as many
/// as fit in [`Simd::DENSE_B_CHUNK`], in multiples of 16 (the zero-check block of
/// [`tile_rows`]); all of them if that leaves fewer than 64, which would not pay for reloading
/// the accumulators, or if the path takes no chunks.
#[inline(always)]
fn dense_chunk<S: Simd>(row_bytes: usize, steps: usize) -> usize {
    let kc = S::DENSE_B_CHUNK / row_bytes / 16 * 16;
    if kc < 64 { steps } else { kc }
}

/// Overrides [`Simd::blocked`] with a `#[target_feature]`, never-inlined function, so that the
/// register allocator sees the tile loops alone; `|walk| cond` isolates only the walks for
/// which `cond` holds and inlines the others.
///
/// AVX2 isolates both walks: inlined into a whole matmul, its tiles shared the 16 `ymm`
/// registers with constants hoisted from the surrounding code and spilled a third of their
/// accumulators to the stack (forward product 38–39% of peak inlined, 81–86% isolated; weight
/// gradient 43–45% against 73–74%; docs/kernel-notes.md). AVX-512 isolates the forward walk
/// ([`Walk::Rows`]) only: with 32 registers its inlined tiles did not spill until counting
/// nonzeros in 32-bit lanes in `matmul_bias` made its 4 × 6 tile (since replaced by 8 × 3) spill
/// (`perf annotate`);
/// isolated, it does not, at the speed it had before. Isolating its weight-gradient walk halved
/// that product in an A/B run (the short 32-step tiles lose the constants the inlined code
/// folds in).
///
/// `$features` must be implied by the existence of a `$token` (its constructor checks them):
/// the same string the token's `impl_kernels!` uses.
#[cfg(target_arch = "x86_64")]
macro_rules! impl_isolated_blocked {
    ($token:ty, $features:literal) => {
        $crate::kernels::simd::impl_isolated_blocked!($token, $features, |_walk| true);
    };
    ($token:ty, $features:literal, |$w:ident| $isolate:expr) => {
        #[inline(always)]
        unsafe fn blocked<const MR: usize, const NR: usize>(
            self,
            p: &super::simd::Blocked,
        ) -> bool {
            #[target_feature(enable = $features)]
            #[inline(never)]
            unsafe fn run<const MR: usize, const NR: usize>(
                s: $token,
                p: &super::simd::Blocked,
            ) -> bool {
                // SAFETY: forwarded caller's contract.
                unsafe { super::simd::blocked::<$token, MR, NR>(s, p) }
            }
            let $w = p.walk;
            if $isolate {
                // SAFETY: a token exists only when the CPU supports `$features`; the rest is
                // the caller's contract.
                unsafe { run::<MR, NR>(self, p) }
            } else {
                // SAFETY: the caller's contract.
                unsafe { super::simd::blocked::<$token, MR, NR>(self, p) }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use impl_isolated_blocked;
