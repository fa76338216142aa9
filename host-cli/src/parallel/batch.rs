//! The samples of one training step, read where they lie.

use anyhow::{Result, bail};
use flashnet::mnist::PIXELS;
use flashnet::tutorial::MAX_BATCH;

/// A batch: the samples `picks[i]` of a set's `images` and `labels`, or the whole slices in
/// order. Each thread reads its images straight from the set, so that an epoch in shuffled
/// order needs no shuffled copy of the set (47 MB for MNIST's training images).
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    images: &'a [[u8; PIXELS]],
    labels: &'a [u8],
    picks: Option<&'a [u32]>,
}

impl<'a> Batch<'a> {
    /// All of `images` with their `labels`, in order.
    pub fn new(images: &'a [[u8; PIXELS]], labels: &'a [u8]) -> Result<Self> {
        Self::checked(images, labels, None)
    }

    /// The samples `picks` of the set `images`, `labels`, in the order of `picks`.
    pub fn picked(images: &'a [[u8; PIXELS]], labels: &'a [u8], picks: &'a [u32]) -> Result<Self> {
        Self::checked(images, labels, Some(picks))
    }

    fn checked(
        images: &'a [[u8; PIXELS]],
        labels: &'a [u8],
        picks: Option<&'a [u32]>,
    ) -> Result<Self> {
        if labels.len() != images.len() {
            bail!("{} images come with {} labels", images.len(), labels.len());
        }
        let batch = Batch {
            images,
            labels,
            picks,
        };
        let n = batch.len();
        if n == 0 || n > MAX_BATCH {
            bail!("batch size {n} is outside 1..={MAX_BATCH}");
        }
        if let Some(&p) = picks.and_then(|p| p.iter().find(|&&p| p as usize >= images.len())) {
            bail!("sample {p} picked from a set of {}", images.len());
        }
        Ok(batch)
    }

    /// Samples in the batch (`1..=MAX_BATCH`).
    pub fn len(&self) -> usize {
        self.picks.map_or(self.images.len(), <[u32]>::len)
    }

    /// Never: a batch holds at least one sample.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Where sample `i` of the batch lies in the set.
    fn index(&self, i: usize) -> usize {
        self.picks.map_or(i, |p| p[i] as usize)
    }

    /// The batch's images, in order.
    pub fn images(&self) -> impl Iterator<Item = &'a [u8; PIXELS]> + '_ {
        (0..self.len()).map(|i| &self.images[self.index(i)])
    }

    /// The label of sample `i` of the batch.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[self.index(i)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_read_the_set_in_their_order() {
        let images: Vec<[u8; PIXELS]> = (0..5).map(|i| [i as u8; PIXELS]).collect();
        let labels = [10, 11, 12, 13, 14];
        let b = Batch::picked(&images, &labels, &[3, 0, 3]).unwrap();
        assert_eq!(b.len(), 3);
        let firsts: Vec<u8> = b.images().map(|im| im[0]).collect();
        assert_eq!(firsts, [3, 0, 3]);
        assert_eq!([b.label(0), b.label(1), b.label(2)], [13, 10, 13]);
        let all = Batch::new(&images[1..3], &labels[1..3]).unwrap();
        assert_eq!(all.images().map(|im| im[0]).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(all.label(1), 12);
    }

    #[test]
    fn bad_batches_are_errors() {
        let images = vec![[0u8; PIXELS]; MAX_BATCH + 1];
        let labels = vec![0u8; MAX_BATCH + 1];
        let err = |r: Result<Batch<'_>>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(Batch::new(&images[..0], &labels[..0])).contains("outside"));
        assert!(err(Batch::new(&images, &labels)).contains("outside"));
        assert!(
            err(Batch::new(&images[..3], &labels[..2])).contains("3 images come with 2 labels")
        );
        assert!(err(Batch::picked(&images, &labels, &[])).contains("outside"));
        let far = [0, MAX_BATCH as u32 + 1];
        let msg = format!(
            "sample {} picked from a set of {}",
            MAX_BATCH + 1,
            MAX_BATCH + 1
        );
        assert!(err(Batch::picked(&images, &labels, &far)).contains(&msg));
        assert!(err(Batch::picked(&images, &labels[..5], &[0])).contains("come with 5 labels"));
    }
}
