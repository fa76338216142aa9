//! MNIST views over parsed IDX files: 28×28 `u8` images and `0..=9` labels, checked once.
#![forbid(unsafe_code)]

use core::fmt;

use crate::idx::{self, DType, IdxError};

/// Image side in pixels.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// Number of classes.
pub const CLASSES: usize = 10;

/// Why an IDX file is not MNIST images or labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MnistError {
    /// Not a valid IDX file.
    Idx(IdxError),
    /// Element type is not unsigned byte.
    DType(DType),
    /// Images need rank 3 (`count×28×28`), labels rank 1.
    Rank {
        /// Rank required.
        expected: usize,
        /// Rank found.
        found: usize,
    },
    /// Images are not 28×28.
    ImageSize {
        /// Rows found.
        rows: usize,
        /// Columns found.
        cols: usize,
    },
    /// A label outside `0..=9`.
    Label {
        /// Which label.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// Image and label files disagree in count.
    Count {
        /// Images.
        images: usize,
        /// Labels.
        labels: usize,
    },
}

impl From<IdxError> for MnistError {
    fn from(e: IdxError) -> Self {
        MnistError::Idx(e)
    }
}

impl fmt::Display for MnistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MnistError::Idx(e) => e.fmt(f),
            MnistError::DType(d) => write!(
                f,
                "element type is {d:?}, MNIST needs unsigned bytes (0x08)"
            ),
            MnistError::Rank { expected, found } => {
                write!(f, "{found} dimensions, expected {expected}")
            }
            MnistError::ImageSize { rows, cols } => {
                write!(f, "images are {rows}x{cols}, expected {SIDE}x{SIDE}")
            }
            MnistError::Label { index, value } => {
                // Header of a label file is 8 bytes.
                write!(
                    f,
                    "label {value} at index {index} (byte offset {}) is outside 0-9",
                    8 + index
                )
            }
            MnistError::Count { images, labels } => {
                write!(f, "{images} images but {labels} labels")
            }
        }
    }
}

impl core::error::Error for MnistError {}

/// A set of 28×28 grayscale images.
#[derive(Clone, Copy, Debug)]
pub struct Images<'a> {
    pixels: &'a [[u8; PIXELS]],
}

impl<'a> Images<'a> {
    /// From an IDX file's bytes (`count×28×28`, unsigned bytes).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MnistError> {
        let idx = idx::parse(bytes)?;
        if idx.dtype != DType::U8 {
            return Err(MnistError::DType(idx.dtype));
        }
        if idx.dims.len() != 3 {
            return Err(MnistError::Rank {
                expected: 3,
                found: idx.dims.len(),
            });
        }
        if idx.dims[1] != SIDE || idx.dims[2] != SIDE {
            return Err(MnistError::ImageSize {
                rows: idx.dims[1],
                cols: idx.dims[2],
            });
        }
        let (pixels, rest) = idx.data.as_chunks::<PIXELS>();
        debug_assert!(rest.is_empty());
        Ok(Images { pixels })
    }
    /// From raw pixels.
    pub fn from_pixels(pixels: &'a [[u8; PIXELS]]) -> Self {
        Images { pixels }
    }
    /// Number of images.
    pub fn len(&self) -> usize {
        self.pixels.len()
    }
    /// `true` if there are none.
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }
    /// Image `i`, row-major.
    pub fn get(&self, i: usize) -> Option<&'a [u8; PIXELS]> {
        self.pixels.get(i)
    }
    /// All images.
    pub fn as_slice(&self) -> &'a [[u8; PIXELS]] {
        self.pixels
    }
}

/// A set of labels `0..=9`.
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    labels: &'a [u8],
}

impl<'a> Labels<'a> {
    /// From an IDX file's bytes (rank 1, unsigned bytes, each `≤ 9`).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MnistError> {
        let idx = idx::parse(bytes)?;
        if idx.dtype != DType::U8 {
            return Err(MnistError::DType(idx.dtype));
        }
        if idx.dims.len() != 1 {
            return Err(MnistError::Rank {
                expected: 1,
                found: idx.dims.len(),
            });
        }
        if let Some((index, &value)) = idx
            .data
            .iter()
            .enumerate()
            .find(|&(_, &v)| usize::from(v) >= CLASSES)
        {
            return Err(MnistError::Label { index, value });
        }
        Ok(Labels { labels: idx.data })
    }
    /// Number of labels.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// `true` if there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// All labels.
    pub fn as_slice(&self) -> &'a [u8] {
        self.labels
    }
}

/// Images with their labels, counts checked equal.
#[derive(Clone, Copy, Debug)]
pub struct Dataset<'a> {
    /// The images.
    pub images: Images<'a>,
    /// One label per image.
    pub labels: Labels<'a>,
}

impl<'a> Dataset<'a> {
    /// Pairs images with labels.
    pub fn new(images: Images<'a>, labels: Labels<'a>) -> Result<Self, MnistError> {
        if images.len() != labels.len() {
            return Err(MnistError::Count {
                images: images.len(),
                labels: labels.len(),
            });
        }
        Ok(Dataset { images, labels })
    }
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// `true` if there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Samples `range`, as a new dataset (e.g. Keras' `validation_split`: the last fraction).
    pub fn slice(&self, range: core::ops::Range<usize>) -> Dataset<'a> {
        Dataset {
            images: Images {
                pixels: &self.images.pixels[range.clone()],
            },
            labels: Labels {
                labels: &self.labels.labels[range],
            },
        }
    }
}

/// Writes one image, scaled to `[0, 1]` as Keras scales it (`p / 255`, rounded once to `f32`),
/// into a model input.
pub fn to_input(pixels: &[u8; PIXELS], out: &mut [[f32; SIDE]; SIDE]) {
    crate::kernels::bytes_to_unit(pixels, out.as_flattened_mut());
}
