//! Metrics: mean loss, accuracy and a confusion matrix.
#![forbid(unsafe_code)]

use bytemuck::Zeroable;

use crate::kernels::portable::argmax;

/// A `C×C` confusion matrix: `counts[true][predicted]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Confusion<const C: usize> {
    /// Rows are true labels, columns predictions.
    pub counts: [[u32; C]; C],
}

impl<const C: usize> Default for Confusion<C> {
    fn default() -> Self {
        Confusion {
            counts: [[0; C]; C],
        }
    }
}

impl<const C: usize> Confusion<C> {
    /// Adds the arg-max of each row of `logits` (or probabilities) against `labels`.
    /// Labels `≥ C` are ignored (the loss rejects them first).
    pub fn record(&mut self, logits: &[[f32; C]], labels: &[u8]) {
        for (z, &y) in logits.iter().zip(labels) {
            if let Some(row) = self.counts.get_mut(usize::from(y)) {
                row[argmax(z).0] += 1;
            }
        }
    }
    /// Number of samples recorded.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().map(|&c| u64::from(c)).sum()
    }
    /// Fraction on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let diag: u64 = (0..C).map(|i| u64::from(self.counts[i][i])).sum();
        ratio(diag as f64, self.total())
    }
}

/// Running loss and accuracy over many batches (an epoch, a test set), with its confusion matrix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Metrics<const C: usize> {
    /// Sum of per-sample losses.
    pub loss_sum: f64,
    /// Correct predictions.
    pub correct: u64,
    /// Samples seen.
    pub count: u64,
    /// Filled by evaluation (training steps only add loss and accuracy).
    pub confusion: Confusion<C>,
}

impl<const C: usize> Metrics<C> {
    /// Adds one batch's summed loss and correct count.
    pub fn add(&mut self, loss_sum: f32, correct: u32, n: usize) {
        self.loss_sum += f64::from(loss_sum);
        self.correct += u64::from(correct);
        self.count += n as u64;
    }
    /// Adds another run's counts (e.g. one part of a test set evaluated elsewhere).
    pub fn merge(&mut self, other: &Self) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.count += other.count;
        for (row, other) in self
            .confusion
            .counts
            .iter_mut()
            .zip(&other.confusion.counts)
        {
            for (a, b) in row.iter_mut().zip(other) {
                *a += b;
            }
        }
    }
    /// Mean loss per sample (`NaN` before any sample).
    pub fn loss(&self) -> f64 {
        ratio(self.loss_sum, self.count)
    }
    /// Fraction correct (`NaN` before any sample).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct as f64, self.count)
    }
}

fn ratio(x: f64, n: u64) -> f64 {
    if n == 0 { f64::NAN } else { x / n as f64 }
}
