//! The IDX file format (MNIST's): parsed in place from a byte slice, nothing allocated.
//!
//! Layout: two zero bytes, a type code, the number of dimensions `r`, then `r` big-endian
//! `u32` sizes, then the data, row-major. Every size claim is checked against the real length
//! before it is used, and a file with bytes left over is rejected too.
#![forbid(unsafe_code)]

use core::fmt;

/// Most dimensions an IDX file may have here (MNIST uses 1 and 3).
pub const MAX_RANK: usize = 4;

/// An IDX element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DType {
    /// `0x08` unsigned byte.
    U8,
    /// `0x09` signed byte.
    I8,
    /// `0x0B` big-endian `i16`.
    I16,
    /// `0x0C` big-endian `i32`.
    I32,
    /// `0x0D` big-endian `f32`.
    F32,
    /// `0x0E` big-endian `f64`.
    F64,
}

impl DType {
    /// From the type byte of the header.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => DType::U8,
            0x09 => DType::I8,
            0x0B => DType::I16,
            0x0C => DType::I32,
            0x0D => DType::F32,
            0x0E => DType::F64,
            _ => return None,
        })
    }
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::U8 | DType::I8 => 1,
            DType::I16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

/// A parsed IDX file borrowing its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx<'a> {
    /// Element type.
    pub dtype: DType,
    /// Sizes, outermost first.
    pub dims: heapless::Vec<usize, MAX_RANK>,
    /// Exactly `product(dims) · dtype.size()` bytes.
    pub data: &'a [u8],
}

/// Why bytes are not a valid IDX file. Offsets are byte positions in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IdxError {
    /// Shorter than the header claims (`needed` bytes for the header, `len` present).
    Header {
        /// Bytes the header needs.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
    /// The first two bytes are not zero.
    Magic {
        /// The bytes found at offset 0.
        found: [u8; 2],
    },
    /// Unknown type byte at offset 2.
    DType {
        /// The code found.
        code: u8,
    },
    /// Zero or more than [`MAX_RANK`] dimensions (byte at offset 3).
    Rank {
        /// The rank found.
        rank: u8,
    },
    /// The dimensions multiply past `usize`.
    Overflow,
    /// Fewer data bytes than the dimensions say.
    Truncated {
        /// Bytes the dimensions need after the header.
        expected: usize,
        /// Bytes present after the header.
        actual: usize,
    },
    /// More data bytes than the dimensions say.
    Trailing {
        /// Bytes the dimensions need after the header.
        expected: usize,
        /// Bytes present after the header.
        actual: usize,
    },
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IdxError::Header { needed, len } => {
                write!(
                    f,
                    "file too short for an IDX header: {len} bytes, the header needs {needed}"
                )
            }
            IdxError::Magic { found } => {
                write!(
                    f,
                    "not an IDX file: bytes 0-1 are {:#04x} {:#04x}, expected 0x00 0x00",
                    found[0], found[1]
                )?;
                if found == [0x1f, 0x8b] {
                    f.write_str(" (gzip magic: decompress the file, or give it a .gz name)")?;
                }
                Ok(())
            }
            IdxError::DType { code } => {
                write!(f, "unknown IDX element type {code:#04x} at offset 2")
            }
            IdxError::Rank { rank } => write!(
                f,
                "unsupported IDX rank {rank} at offset 3 (1..={MAX_RANK} allowed)"
            ),
            IdxError::Overflow => write!(
                f,
                "IDX dimensions (the sizes from offset 4) overflow when multiplied"
            ),
            IdxError::Truncated { expected, actual } => {
                write!(
                    f,
                    "truncated IDX data: dimensions need {expected} bytes after the header, found {actual}"
                )
            }
            IdxError::Trailing { expected, actual } => write!(
                f,
                "trailing bytes after IDX data: dimensions need {expected} bytes after the header, found {actual}"
            ),
        }
    }
}

impl core::error::Error for IdxError {}

/// Parses an IDX file.
pub fn parse(bytes: &[u8]) -> Result<Idx<'_>, IdxError> {
    if bytes.len() < 4 {
        return Err(IdxError::Header {
            needed: 4,
            len: bytes.len(),
        });
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(IdxError::Magic {
            found: [bytes[0], bytes[1]],
        });
    }
    let dtype = DType::from_code(bytes[2]).ok_or(IdxError::DType { code: bytes[2] })?;
    let rank = bytes[3];
    if rank == 0 || usize::from(rank) > MAX_RANK {
        return Err(IdxError::Rank { rank });
    }
    let header = 4 + 4 * usize::from(rank);
    if bytes.len() < header {
        return Err(IdxError::Header {
            needed: header,
            len: bytes.len(),
        });
    }
    let mut dims = heapless::Vec::new();
    let mut elements: usize = 1;
    for d in bytes[4..header].chunks_exact(4) {
        // A size that does not fit `usize` (16-bit targets) cannot be in memory either.
        let d = usize::try_from(u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
            .map_err(|_| IdxError::Overflow)?;
        elements = elements.checked_mul(d).ok_or(IdxError::Overflow)?;
        // Cannot fail: rank ≤ MAX_RANK was checked above.
        let _ = dims.push(d);
    }
    let expected = elements
        .checked_mul(dtype.size())
        .ok_or(IdxError::Overflow)?;
    let actual = bytes.len() - header;
    if actual < expected {
        return Err(IdxError::Truncated { expected, actual });
    }
    if actual > expected {
        return Err(IdxError::Trailing { expected, actual });
    }
    Ok(Idx {
        dtype,
        dims,
        data: &bytes[header..],
    })
}
