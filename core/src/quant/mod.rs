//! Full-integer int8 inference, TensorFlow Lite style, for microcontrollers without an FPU.
//!
//! A model trained in `f32` is quantized after training (on the host: `flashnet quantize`):
//! weights to int8, symmetric per output channel; activations to int8 per tensor with zero
//! points; biases to `i32`; each layer's rescaling `s_in·s_w/s_out` to a fixed-point
//! multiplier and shift ([`requant`]). Inference then uses integers only (`no_std`, no alloc,
//! no float), and the same bits come out on every target: the host, a Cortex-M0+ running the
//! [`kernels::portable`] kernel, or a Cortex-M4 running the DSP kernel (feature `dsp`).
//!
//! - [`QDense`]: an int8 dense layer with fused ReLU, weights packed for the kernels.
//! - [`tutorial::Model`]: the tutorial MLP in int8.
//!
//! Every module here forbids `unsafe` except the DSP kernel's (its inline assembly).

use core::fmt;

pub mod dense;
pub mod kernels;
pub mod requant;
pub mod tutorial;

#[cfg(test)]
mod tests;

pub use dense::{QDense, QDenseParts, Sparsity, max_bias, pack};
pub use requant::{multiply_by_quantized_multiplier, quantize_multiplier};

/// Why integer parameters cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QuantError {
    /// A zero point outside `-128..=127`.
    ZeroPoint {
        /// The value found.
        value: i32,
    },
    /// A multiplier that is neither 0 nor in `[2³⁰, 2³¹)`.
    Multiplier {
        /// Output channel.
        channel: usize,
        /// The value found.
        value: i32,
    },
    /// A shift outside `-31..=30`.
    Shift {
        /// Output channel.
        channel: usize,
        /// The value found.
        value: i32,
    },
    /// A bias so large that the accumulator could overflow.
    Bias {
        /// Output channel.
        channel: usize,
        /// The value found.
        value: i32,
        /// Largest magnitude accepted.
        max: i32,
    },
    /// The model's input zero point is not the −128 of `q = p − 128`.
    InputZeroPoint {
        /// The value found.
        value: i32,
    },
    /// The hidden layer does not clamp at its zero point (no fused ReLU).
    MissingRelu,
    /// A layer reads a zero point other than the one the previous layer produces.
    Chain {
        /// Zero point of the previous layer's output.
        produced: i32,
        /// Zero point the next layer expects.
        expected: i32,
    },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            QuantError::ZeroPoint { value } => {
                write!(f, "zero point {value} is outside -128..=127")
            }
            QuantError::Multiplier { channel, value } => write!(
                f,
                "multiplier {value} of channel {channel} is neither 0 nor in [2^30, 2^31)"
            ),
            QuantError::Shift { channel, value } => {
                write!(f, "shift {value} of channel {channel} is outside -31..=30")
            }
            QuantError::Bias {
                channel,
                value,
                max,
            } => write!(
                f,
                "bias {value} of channel {channel} exceeds ±{max} (the accumulator could overflow)"
            ),
            QuantError::InputZeroPoint { value } => write!(
                f,
                "input zero point {value}: the model takes pixels as q = p - 128 (zero point -128)"
            ),
            QuantError::MissingRelu => {
                write!(
                    f,
                    "the hidden layer has no ReLU fused (its minimum is not its zero point)"
                )
            }
            QuantError::Chain { produced, expected } => write!(
                f,
                "the hidden layer produces zero point {produced} but the output layer expects {expected}"
            ),
        }
    }
}

impl core::error::Error for QuantError {}
