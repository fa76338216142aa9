//! The samples of one training step: a set and the step's picks.

use anyhow::{Result, bail};
use bytemuck::Zeroable;
use flashnet::mnist::PIXELS;
use flashnet::tutorial::MAX_BATCH;

/// A batch: the samples `picks[i]` of a set's `images` and `labels`, or the whole slices in
/// order. An epoch in shuffled order then needs no shuffled copy of the set (47 MB for MNIST's
/// training images): each step copies its own samples together ([`Batch::contiguous`]).
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

    /// The batch with its samples side by side: itself if it has no picks, else its samples
    /// copied into `room`, in order. One thread copies the step's scattered images with many
    /// loads in flight; the workers then read the copy from cache (each worker reading the
    /// set itself was slower: both cores waited on memory at once).
    pub fn contiguous<'b>(self, room: &'b mut Room) -> Batch<'b>
    where
        'a: 'b,
    {
        let Some(picks) = self.picks else {
            return self;
        };
        let n = picks.len();
        for ((image, label), &p) in room.images.iter_mut().zip(&mut room.labels).zip(picks) {
            *image = self.images[p as usize];
            *label = self.labels[p as usize];
        }
        Batch {
            images: &room.images[..n],
            labels: &room.labels[..n],
            picks: None,
        }
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

/// Room for the samples of the largest batch, side by side.
#[derive(Zeroable)]
pub struct Room {
    images: [[u8; PIXELS]; MAX_BATCH],
    labels: [u8; MAX_BATCH],
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
        let mut room: Box<Room> = bytemuck::zeroed_box();
        let c = b.contiguous(&mut room);
        assert_eq!(c.images().map(|im| im[0]).collect::<Vec<_>>(), [3, 0, 3]);
        assert_eq!([c.label(0), c.label(1), c.label(2)], [13, 10, 13]);
        assert_eq!(
            room.images[..3].iter().map(|im| im[0]).collect::<Vec<_>>(),
            [3, 0, 3]
        );
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
