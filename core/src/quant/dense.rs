//! [`QDense`]: an int8 fully connected layer with per-channel weight scales, an `i32` bias and
//! fixed-point requantization, weights packed for the kernels.
#![forbid(unsafe_code)]
// `derive(Zeroable)` repeats our struct bounds in a where clause of its impl.
#![allow(clippy::multiple_bound_locations)]

use bytemuck::Zeroable;

use super::QuantError;
use super::kernels;
use super::requant::multiply_by_quantized_multiplier;

/// Whether a forward pass skips groups of 4 inputs that are all zero. Both give exactly the
/// same outputs; [`Sparsity::EveryInput`] exists to measure the kernel on every input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Sparsity {
    /// Skip all-zero input groups (MNIST images are ~80% zero pixels).
    #[default]
    SkipZeros,
    /// Multiply every input (a dense matrix-vector product).
    EveryInput,
}

/// An int8 dense layer `IN → OUT`:
/// `y[o] = clamp(zp_out + MBQM(bias[o] + Σᵢ w[i][o]·(q[i] − zp_in), m[o], shift[o]), min, 127)`,
/// where `MBQM` is [`multiply_by_quantized_multiplier`] and `min` is `zp_out` when a ReLU is
/// fused (real 0) and −128 otherwise.
///
/// `GROUPS = IN / 4` and `BLOCKS = ⌈OUT / 4⌉` (stable Rust cannot compute them in a type; they
/// are checked at compile time). Build one with [`QDense::load`]; the fields are public so a
/// firmware can hold a validated layer in a `static` (see `firmware/build.rs`).
#[derive(Clone, Copy, Zeroable)]
pub struct QDense<const IN: usize, const OUT: usize, const GROUPS: usize, const BLOCKS: usize> {
    /// `kernel[g][k]`: the weights of inputs `4g..4g+4` for outputs `4k..4k+4`, 4 words:
    /// inputs `(4g, 4g+2)` × outputs `(4k, 4k+1)`, `(4g, 4g+2)` × `(4k+2, 4k+3)`,
    /// `(4g+1, 4g+3)` × `(4k, 4k+1)`, `(4g+1, 4g+3)` × `(4k+2, 4k+3)`. A word over inputs
    /// `(i, j)` and outputs `(a, b)` holds the bytes `[w[i][a] + 128, w[i][b], w[j][a] + 128,
    /// w[j][b]]` (low byte first). Padding outputs have weight 0.
    pub kernel: [[[u32; 4]; BLOCKS]; GROUPS],
    /// Bias per output, in units of `s_in·s_w[o]`.
    pub bias: [i32; OUT],
    /// Fixed-point multiplier per output, `0` or in `[2³⁰, 2³¹)`.
    pub multiplier: [i32; OUT],
    /// Power-of-two exponent per output, in `−31..=30`.
    pub shift: [i32; OUT],
    /// Zero point of the input.
    pub input_zero_point: i32,
    /// Zero point of the output.
    pub output_zero_point: i32,
    /// Lowest output value: `output_zero_point` with a fused ReLU, else −128.
    pub output_min: i32,
}

/// The integer parameters of a [`QDense`] in their natural layout, to be checked and packed by
/// [`QDense::load`].
#[derive(Clone, Copy, Debug)]
pub struct QDenseParts<'a, const IN: usize, const OUT: usize> {
    /// `weights[i][o]`, as Keras lays out a kernel (`[IN, OUT]`).
    pub weights: &'a [[i8; OUT]; IN],
    /// Bias per output.
    pub bias: &'a [i32; OUT],
    /// Multiplier per output.
    pub multiplier: &'a [i32; OUT],
    /// Shift per output.
    pub shift: &'a [i32; OUT],
    /// Zero point of the input.
    pub input_zero_point: i32,
    /// Zero point of the output.
    pub output_zero_point: i32,
    /// Whether a ReLU is fused (outputs clamped at the zero point).
    pub relu: bool,
}

/// Largest bias magnitude a layer with `inputs` inputs accepts: it leaves room for the
/// `Σ w·x` of the inputs (`|w| ≤ 128`, `x ≤ 255`), so the `i32` accumulator never overflows.
pub const fn max_bias(inputs: usize) -> i32 {
    let room = i32::MAX as i64 - 128 * 255 * inputs as i64;
    if room < 0 { 0 } else { room as i32 }
}

const fn check_zero_point(value: i32) -> Result<(), QuantError> {
    if value < -128 || value > 127 {
        return Err(QuantError::ZeroPoint { value });
    }
    Ok(())
}

impl<const IN: usize, const OUT: usize, const GROUPS: usize, const BLOCKS: usize>
    QDense<IN, OUT, GROUPS, BLOCKS>
{
    const SHAPE_OK: () = assert!(
        IN > 0 && OUT > 0 && GROUPS * 4 == IN && BLOCKS == OUT.div_ceil(4),
        "QDense<IN, OUT, GROUPS, BLOCKS> needs IN = 4·GROUPS and BLOCKS = ⌈OUT / 4⌉"
    );

    /// Largest bias magnitude accepted: [`max_bias`]`(IN)`.
    pub const MAX_BIAS: i32 = {
        let () = Self::SHAPE_OK;
        max_bias(IN)
    };

    /// Checks `parts` and writes them, packed, into `self`.
    pub fn load(&mut self, parts: &QDenseParts<'_, IN, OUT>) -> Result<(), QuantError> {
        let () = Self::SHAPE_OK;
        check_zero_point(parts.input_zero_point)?;
        check_zero_point(parts.output_zero_point)?;
        for o in 0..OUT {
            let m = parts.multiplier[o];
            if !(m == 0 || m >= 1 << 30) {
                return Err(QuantError::Multiplier {
                    channel: o,
                    value: m,
                });
            }
            let s = parts.shift[o];
            if !(-31..=30).contains(&s) {
                return Err(QuantError::Shift {
                    channel: o,
                    value: s,
                });
            }
            let b = parts.bias[o];
            if b.unsigned_abs() > Self::MAX_BIAS as u32 {
                return Err(QuantError::Bias {
                    channel: o,
                    value: b,
                    max: Self::MAX_BIAS,
                });
            }
        }
        pack(parts.weights, &mut self.kernel);
        self.bias = *parts.bias;
        self.multiplier = *parts.multiplier;
        self.shift = *parts.shift;
        self.input_zero_point = parts.input_zero_point;
        self.output_zero_point = parts.output_zero_point;
        self.output_min = if parts.relu {
            parts.output_zero_point
        } else {
            -128
        };
        Ok(())
    }

    /// Weight `w[i][o]`, read back from the packed kernel.
    pub fn weight(&self, i: usize, o: usize) -> i8 {
        let (g, r) = (i / 4, i % 4);
        let (k, c) = (o / 4, o % 4);
        // Inputs 4g, 4g+2 live in words 0/1, inputs 4g+1, 4g+3 in words 2/3.
        let word = self.kernel[g][k][(r % 2) * 2 + c / 2];
        let byte = word.to_le_bytes()[(r / 2) * 2 + c % 2];
        if c % 2 == 0 {
            (i32::from(byte) - 128) as i8
        } else {
            byte as i8
        }
    }

    /// Output `o` of the accumulator `dot = Σᵢ w[i][o]·(q[i] − zp_in)`.
    #[inline]
    pub fn requantize(&self, o: usize, dot: i32) -> i8 {
        let acc = dot.wrapping_add(self.bias[o]);
        let scaled = multiply_by_quantized_multiplier(acc, self.multiplier[o], self.shift[o]);
        let v = scaled.saturating_add(self.output_zero_point);
        v.clamp(self.output_min.clamp(-128, 127), 127) as i8
    }

    /// Forward pass from offset inputs `x[i] = q[i] − zp_in` (`0..=255`): for the first layer
    /// of the tutorial model, with input scale 1/255 and zero point −128, these are the pixels.
    pub fn forward(
        &self,
        x: &[u8; IN],
        y: &mut [i8; OUT],
        scratch: &mut [[u32; 2]; GROUPS],
        sparsity: Sparsity,
    ) {
        let () = Self::SHAPE_OK;
        let (words, _) = x.as_chunks::<4>();
        self.run(|g| u32::from_le_bytes(words[g]), y, scratch, sparsity);
    }

    /// Forward pass from int8 inputs `q`, which must not be below the input zero point (a
    /// previous layer with a fused ReLU and the same zero point guarantees it; lower values
    /// count as the zero point).
    pub fn forward_i8(
        &self,
        q: &[i8; IN],
        y: &mut [i8; OUT],
        scratch: &mut [[u32; 2]; GROUPS],
        sparsity: Sparsity,
    ) {
        let () = Self::SHAPE_OK;
        let (words, _) = q.as_chunks::<4>();
        let zp = self.input_zero_point;
        if zp == -128 {
            // q − (−128) is q with its sign bit flipped, 4 bytes at a time.
            self.run(
                |g| u32::from_le_bytes(words[g].map(|v| v as u8)) ^ 0x8080_8080,
                y,
                scratch,
                sparsity,
            );
        } else {
            let offset = |v: i8| (i32::from(v) - zp).clamp(0, 255) as u8;
            self.run(
                |g| u32::from_le_bytes(words[g].map(offset)),
                y,
                scratch,
                sparsity,
            );
        }
    }

    #[inline(always)]
    fn run(
        &self,
        x: impl Fn(usize) -> u32,
        y: &mut [i8; OUT],
        scratch: &mut [[u32; 2]; GROUPS],
        sparsity: Sparsity,
    ) {
        let skip = sparsity == Sparsity::SkipZeros;
        kernels::dense(&self.kernel, x, scratch, skip, |k, dots| {
            for (j, &dot) in dots.iter().enumerate() {
                let o = 4 * k + j;
                if o < OUT {
                    y[o] = self.requantize(o, dot);
                }
            }
        });
    }
}

/// Packs `weights[i][o]` into the kernel layout documented on [`QDense::kernel`].
pub fn pack<const IN: usize, const OUT: usize, const GROUPS: usize, const BLOCKS: usize>(
    weights: &[[i8; OUT]; IN],
    kernel: &mut [[[u32; 4]; BLOCKS]; GROUPS],
) {
    let w = |i: usize, o: usize| if o < OUT { weights[i][o] } else { 0 };
    let word = |i: usize, j: usize, a: usize, b: usize| {
        u32::from_le_bytes([
            (i32::from(w(i, a)) + 128) as u8,
            w(i, b) as u8,
            (i32::from(w(j, a)) + 128) as u8,
            w(j, b) as u8,
        ])
    };
    for (g, row) in kernel.iter_mut().enumerate() {
        let (i0, i1, i2, i3) = (4 * g, 4 * g + 1, 4 * g + 2, 4 * g + 3);
        for (k, words) in row.iter_mut().enumerate() {
            let (a, b, c, d) = (4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3);
            *words = [
                word(i0, i2, a, b),
                word(i0, i2, c, d),
                word(i1, i3, a, b),
                word(i1, i3, c, d),
            ];
        }
    }
}
