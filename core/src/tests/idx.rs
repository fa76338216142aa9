//! The IDX parser on synthetic good files and on every kind of corruption.

use std::string::ToString;
use std::vec::Vec;

use crate::idx::{DType, IdxError, MAX_RANK, parse};

/// An IDX file: magic, type code, rank, big-endian dims, then `data` as given.
pub fn idx_file(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut f = std::vec![0, 0, code, dims.len() as u8];
    for d in dims {
        f.extend_from_slice(&d.to_be_bytes());
    }
    f.extend_from_slice(data);
    f
}

#[test]
fn parses_rank_1_u8() {
    let f = idx_file(0x08, &[5], &[0, 1, 2, 3, 255]);
    let idx = parse(&f).unwrap();
    assert_eq!(idx.dtype, DType::U8);
    assert_eq!(idx.dims.as_slice(), &[5]);
    assert_eq!(idx.data, &[0, 1, 2, 3, 255]);
}

#[test]
fn parses_rank_3_u8() {
    let data: Vec<u8> = (0..24).collect();
    let f = idx_file(0x08, &[2, 3, 4], &data);
    let idx = parse(&f).unwrap();
    assert_eq!(idx.dtype, DType::U8);
    assert_eq!(idx.dims.as_slice(), &[2, 3, 4]);
    assert_eq!(idx.data, data.as_slice());
    // The data slice borrows the file right after the 16-byte header.
    assert_eq!(idx.data.as_ptr(), f[16..].as_ptr());
}

#[test]
fn parses_rank_2_f32_and_other_types() {
    let values = [1.5f32, -2.0, 0.0, 3.25, f32::MAX, -1e-3];
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let f = idx_file(0x0D, &[2, 3], &data);
    let idx = parse(&f).unwrap();
    assert_eq!(idx.dtype, DType::F32);
    assert_eq!(idx.dims.as_slice(), &[2, 3]);
    let decoded: Vec<f32> = idx
        .data
        .chunks_exact(4)
        .map(|b| f32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(decoded, values);

    for (code, dtype, size) in [
        (0x08, DType::U8, 1),
        (0x09, DType::I8, 1),
        (0x0B, DType::I16, 2),
        (0x0C, DType::I32, 4),
        (0x0D, DType::F32, 4),
        (0x0E, DType::F64, 8),
    ] {
        assert_eq!(DType::from_code(code), Some(dtype));
        assert_eq!(dtype.size(), size);
        let f = idx_file(code, &[3], &std::vec![7; 3 * size]);
        assert_eq!(parse(&f).unwrap().data.len(), 3 * size);
    }
    // Rank MAX_RANK is allowed, and a zero dimension means no data.
    let f = idx_file(0x08, &[1, 2, 1, 2], &[1, 2, 3, 4]);
    assert_eq!(parse(&f).unwrap().dims.len(), MAX_RANK);
    let f = idx_file(0x0E, &[3, 0, 5], &[]);
    assert!(parse(&f).unwrap().data.is_empty());
}

fn err(bytes: &[u8]) -> IdxError {
    parse(bytes).unwrap_err()
}

#[test]
fn rejects_short_headers() {
    assert_eq!(err(&[]), IdxError::Header { needed: 4, len: 0 });
    assert_eq!(err(&[0, 0, 8]), IdxError::Header { needed: 4, len: 3 });
    // Rank 3 needs 4 + 3·4 = 16 header bytes; only 11 present.
    let f = &idx_file(0x08, &[2, 28, 28], &[])[..11];
    let e = err(f);
    assert_eq!(
        e,
        IdxError::Header {
            needed: 16,
            len: 11
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("11") && msg.contains("16"), "{msg}");
}

#[test]
fn rejects_wrong_magic() {
    let mut f = idx_file(0x08, &[1], &[0]);
    f[0] = 0x12;
    f[1] = 0x34;
    let e = err(&f);
    assert_eq!(
        e,
        IdxError::Magic {
            found: [0x12, 0x34]
        }
    );
    assert!(e.to_string().contains("0x12 0x34"), "{e}");
    f[0] = 0;
    f[1] = 1;
    assert_eq!(err(&f), IdxError::Magic { found: [0, 1] });
}

#[test]
fn rejects_unknown_type() {
    for code in [0x00, 0x07, 0x0A, 0x0F, 0xFF] {
        let e = err(&idx_file(code, &[1], &[0]));
        assert_eq!(e, IdxError::DType { code });
    }
    let e = err(&idx_file(0x0A, &[1], &[0]));
    assert!(e.to_string().contains("0x0a"), "{e}");
}

#[test]
fn rejects_rank_0_and_rank_5() {
    let e = err(&[0, 0, 8, 0]);
    assert_eq!(e, IdxError::Rank { rank: 0 });
    let e = err(&idx_file(0x08, &[1, 1, 1, 1, 1], &[0]));
    assert_eq!(e, IdxError::Rank { rank: 5 });
    assert!(e.to_string().contains('5'), "{e}");
}

#[test]
fn rejects_dimension_overflow() {
    let e = err(&idx_file(0x0E, &[0xFFFF_FFFF; 4], &[]));
    assert_eq!(e, IdxError::Overflow);
    assert_eq!(
        err(&idx_file(0x08, &[0xFFFF_FFFF; 4], &[])),
        IdxError::Overflow
    );
    // (2¹⁶)⁴ = 2⁶⁴ wraps to exactly 0 in a u64: it must not pass as an empty file.
    assert_eq!(
        err(&idx_file(0x08, &[0x1_0000; 4], &[])),
        IdxError::Overflow
    );
    assert!(e.to_string().contains("overflow"));
}

#[cfg(target_pointer_width = "64")]
#[test]
fn rejects_byte_count_overflow_on_64_bit() {
    // (2³² − 1)² elements fit in a u64, but not 8 bytes each.
    let e = err(&idx_file(0x0E, &[0xFFFF_FFFF, 0xFFFF_FFFF], &[]));
    assert_eq!(e, IdxError::Overflow);
    // As bytes they fit: the file is then merely truncated.
    let e = err(&idx_file(0x08, &[0xFFFF_FFFF, 0xFFFF_FFFF], &[1, 2]));
    assert_eq!(
        e,
        IdxError::Truncated {
            expected: 0xFFFF_FFFF * 0xFFFF_FFFF,
            actual: 2
        }
    );
}

#[test]
fn rejects_truncated_data() {
    // Four f32s need 16 bytes; 15 present.
    let e = err(&idx_file(0x0D, &[4], &[0; 15]));
    assert_eq!(
        e,
        IdxError::Truncated {
            expected: 16,
            actual: 15
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("16") && msg.contains("15"), "{msg}");
    // An MNIST-shaped header with one image missing a pixel.
    let e = err(&idx_file(0x08, &[1, 28, 28], &[0; 783]));
    assert_eq!(
        e,
        IdxError::Truncated {
            expected: 784,
            actual: 783
        }
    );
}

#[test]
fn rejects_trailing_bytes() {
    let e = err(&idx_file(0x08, &[4], &[1, 2, 3, 4, 5]));
    assert_eq!(
        e,
        IdxError::Trailing {
            expected: 4,
            actual: 5
        }
    );
    let msg = e.to_string();
    assert!(msg.contains('4') && msg.contains('5'), "{msg}");
}

#[test]
fn gzip_bytes_get_a_hint() {
    // A compressed file under a plain name: say so, not just "wrong magic".
    let e = err(&[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]);
    assert_eq!(
        e,
        IdxError::Magic {
            found: [0x1f, 0x8b]
        }
    );
    assert!(e.to_string().contains("gzip"), "{e}");
    assert!(!err(&[1, 2, 8, 1]).to_string().contains("gzip"));
}

#[test]
fn a_20_byte_file_claiming_4_gb_is_refused_from_its_length() {
    // The core has no allocator: the claim can only be compared with the real length.
    let f = idx_file(0x08, &[u32::MAX], &[0; 12]);
    assert_eq!(f.len(), 20);
    assert_eq!(
        err(&f),
        IdxError::Truncated {
            expected: u32::MAX as usize,
            actual: 12
        }
    );
}

#[test]
fn every_message_is_one_line() {
    let errors = [
        IdxError::Header { needed: 16, len: 3 },
        IdxError::Magic { found: [1, 2] },
        IdxError::Magic {
            found: [0x1f, 0x8b],
        },
        IdxError::DType { code: 0xff },
        IdxError::Rank { rank: 9 },
        IdxError::Overflow,
        IdxError::Truncated {
            expected: usize::MAX,
            actual: 0,
        },
        IdxError::Trailing {
            expected: 0,
            actual: usize::MAX,
        },
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
    }
}
