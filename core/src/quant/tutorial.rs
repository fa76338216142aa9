//! The tutorial model in int8: `Dense(784 → 128) + ReLU` then `Dense(128 → 10)`, integers only.
//!
//! - Input: pixels `p ∈ 0..=255` stand for `p / 255`; with input scale `1/255` and zero point
//!   −128 the int8 input is `q = p − 128` ([`quantize_pixel`]) and the offset input the first
//!   layer multiplies, `q − (−128)`, is the pixel itself: no arithmetic at all.
//! - Hidden: int8 per tensor, zero point = the ReLU's clamp (real 0).
//! - Logits: int8 per tensor; the prediction is the first maximum ([`argmax`]).
//!
//! Dropout is the identity at inference and disappears.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;

use super::{QDense, QuantError, Sparsity};

/// Input zero point: `q = p − 128` for pixel `p`, with scale `1/255`.
pub const INPUT_ZERO_POINT: i32 = -128;

/// The hidden layer, `784 → 128`, ReLU fused.
pub type Hidden = QDense<784, 128, 196, 32>;
/// The output layer, `128 → 10` logits.
pub type Output = QDense<128, 10, 32, 3>;

/// The int8 tutorial model (~101 KiB of packed weights).
#[derive(Clone, Copy, Zeroable)]
pub struct Model {
    /// `Dense(128, relu)`.
    pub hidden: Hidden,
    /// `Dense(10)`, the logits.
    pub output: Output,
}

/// Working memory of one inference (1,696 bytes): the kernels' list of nonzero input groups
/// and the hidden activations.
#[derive(Clone, Copy, Zeroable)]
pub struct Scratch {
    /// Scratch of the kernels (the hidden layer needs 196 entries, the output layer 32).
    pub list: [[u32; 2]; 196],
    /// Hidden activations, int8.
    pub hidden: [i8; 128],
}

/// `p − 128`: the int8 input of pixel `p` (scale 1/255, zero point −128), exactly.
#[inline]
pub const fn quantize_pixel(p: u8) -> i8 {
    (p ^ 0x80) as i8
}

/// Index of the first largest logit.
pub fn argmax(logits: &[i8; 10]) -> u8 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u8
}

impl Model {
    /// Checks that the layers chain: input zero point −128, ReLU fused in the hidden layer,
    /// and the output layer reading the hidden layer's zero point.
    pub fn check(&self) -> Result<(), QuantError> {
        if self.hidden.input_zero_point != INPUT_ZERO_POINT {
            return Err(QuantError::InputZeroPoint {
                value: self.hidden.input_zero_point,
            });
        }
        if self.hidden.output_min != self.hidden.output_zero_point {
            return Err(QuantError::MissingRelu);
        }
        if self.output.input_zero_point != self.hidden.output_zero_point {
            return Err(QuantError::Chain {
                produced: self.hidden.output_zero_point,
                expected: self.output.input_zero_point,
            });
        }
        Ok(())
    }

    /// The 10 int8 logits of a 28×28 image (row-major pixels).
    pub fn predict(&self, pixels: &[u8; 784], scratch: &mut Scratch) -> [i8; 10] {
        self.predict_with(pixels, scratch, Sparsity::SkipZeros)
    }

    /// [`Model::predict`] with a choice of [`Sparsity`] (same result either way).
    pub fn predict_with(
        &self,
        pixels: &[u8; 784],
        scratch: &mut Scratch,
        sparsity: Sparsity,
    ) -> [i8; 10] {
        let mut logits = [0; 10];
        self.hidden
            .forward(pixels, &mut scratch.hidden, &mut scratch.list, sparsity);
        self.output.forward_i8(
            &scratch.hidden,
            &mut logits,
            output_list(&mut scratch.list),
            sparsity,
        );
        logits
    }
}

/// The first 32 entries of the scratch list, for the output layer.
pub fn output_list(list: &mut [[u32; 2]; 196]) -> &mut [[u32; 2]; 32] {
    match list.first_chunk_mut::<32>() {
        Some(l) => l,
        None => unreachable!(),
    }
}
