//! Counter-based randomness for dropout: each mask element is a pure function of a key and its
//! position, so a mask does not depend on how a batch is split across threads, and a step can be
//! replayed from `(seed, epoch, step)` alone (checkpoints need no generator state).
#![forbid(unsafe_code)]

/// Where a batch's dropout randomness comes from: a key (one per training step) and the index
/// of the first sample of this slice of the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Noise {
    /// Per-step key; derive it with [`Noise::for_step`].
    pub key: u64,
    /// Batch index of the first sample the layer sees.
    pub first_sample: u32,
}

impl Noise {
    /// The noise of training step `step` of a run seeded with `seed`.
    pub fn for_step(seed: u64, step: u64) -> Self {
        Noise {
            key: splitmix64(seed ^ splitmix64(step ^ 0x6e6f_6973_655f_6b65)),
            first_sample: 0,
        }
    }
    /// The same noise seen from `samples` further into the batch.
    pub fn skip(self, samples: u32) -> Self {
        Noise {
            first_sample: self.first_sample + samples,
            ..self
        }
    }
    /// An independent stream for the next layer of a chain.
    pub fn next_layer(self) -> Self {
        Noise {
            key: splitmix64(self.key.wrapping_add(0x9e37_79b9_7f4a_7c15)),
            ..self
        }
    }
}

/// SplitMix64's finalizer: a bijective 64-bit mix.
pub const fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// MurmurHash3's 32-bit finalizer.
#[inline(always)]
pub const fn fmix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^= x >> 13;
    x = x.wrapping_mul(0xc2b2_ae35);
    x ^ (x >> 16)
}

/// 32 random bits for position `counter` under `key`: two keyed rounds of `fmix32`, all 32-bit
/// operations so that SIMD paths compute the very same bits lane by lane.
#[inline(always)]
pub const fn bits(key: u64, counter: u32) -> u32 {
    fmix32(fmix32(counter ^ key as u32) ^ (key >> 32) as u32)
}
