//! gzip decoding as GNU gzip reads a `.gz` file: one or more members back to back, then
//! optionally zero bytes (the padding that tape blocking and some copy tools leave), which are
//! ignored. Anything else after a member is an error that says so, rather than flate2's
//! "invalid gzip header" for the "next member".

use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;

/// A [`Read`] of the decompressed bytes of every member of a gzip stream; see the module
/// documentation. Corrupt members fail as in flate2 (bad header, CRC or length mismatch,
/// truncation).
pub struct Gunzip<R: BufRead> {
    /// The member being decoded; `None` once the stream has ended.
    member: Option<GzDecoder<R>>,
}

impl<R: BufRead> Gunzip<R> {
    pub fn new(reader: R) -> Self {
        Self {
            member: Some(GzDecoder::new(reader)),
        }
    }
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while let Some(member) = &mut self.member {
            let n = member.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // The member ended (its CRC and length checked): see what follows it.
            let Some(member) = self.member.take() else {
                break;
            };
            let mut reader = member.into_inner();
            if next_member(&mut reader)? {
                self.member = Some(GzDecoder::new(reader));
            }
        }
        Ok(0)
    }
}

/// After a member: `true` if another one starts here, `false` at the end of the input or of
/// its zero padding, an error for anything else.
fn next_member<R: BufRead>(reader: &mut R) -> io::Result<bool> {
    let mut zeros = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        if zeros == 0 && buf[0] == 0x1f {
            return Ok(true);
        }
        let run = buf.iter().take_while(|&&b| b == 0).count();
        let more = run < buf.len();
        reader.consume(run);
        zeros += run as u64;
        if more {
            let what = if zeros == 0 {
                "data that is not a gzip member".to_owned()
            } else {
                format!("non-zero data after {zeros} bytes of zero padding")
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("trailing {what} after the gzip stream"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Decodes `input` through a reader that hands out `chunk` bytes at a time, so that member
    /// and padding boundaries fall inside and across buffers.
    fn gunzip(input: &[u8], chunk: usize) -> io::Result<Vec<u8>> {
        let reader = io::BufReader::with_capacity(chunk, input);
        let mut out = Vec::new();
        Gunzip::new(reader).read_to_end(&mut out)?;
        Ok(out)
    }

    const CHUNKS: [usize; 4] = [1, 3, 64, 1 << 16];

    #[test]
    fn one_member_and_several_members_decode() {
        let one = gzip(b"hello world");
        let mut two = gzip(b"hello ");
        two.extend(gzip(b""));
        two.extend(gzip(b"world"));
        for chunk in CHUNKS {
            assert_eq!(gunzip(&one, chunk).unwrap(), b"hello world");
            assert_eq!(gunzip(&two, chunk).unwrap(), b"hello world");
        }
    }

    #[test]
    fn trailing_zero_padding_is_ignored() {
        let mut members = gzip(b"hello ");
        members.extend(gzip(b"world"));
        for zeros in [1, 7, 512, 10_240] {
            let mut padded = members.clone();
            padded.extend(vec![0; zeros]);
            for chunk in CHUNKS {
                assert_eq!(gunzip(&padded, chunk).unwrap(), b"hello world", "{zeros}");
            }
        }
    }

    #[test]
    fn trailing_garbage_is_an_error_that_says_so() {
        let good = gzip(b"hello");
        for (tail, says) in [
            (&b"x"[..], "trailing data that is not a gzip member"),
            (
                &b"\0\0\0x"[..],
                "non-zero data after 3 bytes of zero padding",
            ),
            (
                &b"\0\x1f\x8b"[..],
                "non-zero data after 1 bytes of zero padding",
            ),
        ] {
            let mut input = good.clone();
            input.extend(tail);
            for chunk in CHUNKS {
                let e = gunzip(&input, chunk).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                assert!(e.to_string().contains(says), "{e}");
            }
        }
    }

    #[test]
    fn corrupt_and_truncated_members_are_errors() {
        let good = gzip(b"hello world, hello world");
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        let mut bad_second = good.clone();
        bad_second.extend(&good[..good.len() - 3]);
        for input in [&good[..good.len() - 1], &bad_crc, &bad_second, &good[..5]] {
            for chunk in CHUNKS {
                assert!(gunzip(input, chunk).is_err());
            }
        }
    }
}
