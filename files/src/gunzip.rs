//! gzip decoding as GNU gzip reads a `.gz` file: one or more members back to back, then
//! optionally zero bytes (the padding that tape blocking and some copy tools leave), which are
//! ignored. Unlike `gzip -d`, which warns and goes on, any other data after the members is an
//! error, and one that says so rather than flate2's "invalid gzip header" for the "next member".

use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;

/// The first two bytes of every gzip member.
const MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A [`Read`] of the decompressed bytes of every member of a gzip stream; see the module
/// documentation. Corrupt members fail as in flate2 (bad header, CRC or length mismatch,
/// truncation).
pub struct Gunzip<R: BufRead> {
    /// The member being decoded (or just decoded); `None` once the stream has ended.
    member: Option<GzDecoder<PutBack<R>>>,
    /// What ended the stream, if it was an error after a member.
    failed: Option<(io::ErrorKind, String)>,
}

impl<R: BufRead> Gunzip<R> {
    /// Decodes the gzip stream that `reader` yields, from its first member on.
    pub fn new(reader: R) -> Self {
        Self {
            member: Some(GzDecoder::new(PutBack {
                inner: reader,
                magic_back: false,
            })),
            failed: None,
        }
    }
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        while let Some(member) = &mut self.member {
            let n = member.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // The member ended (its CRC and length checked): see what follows it. After an
            // error the stream has ended, and further reads fail the same way.
            let more = next_member(member.get_mut()).inspect_err(|e| {
                self.failed = Some((e.kind(), e.to_string()));
            })?;
            self.member = match self.member.take() {
                Some(done) if more => Some(GzDecoder::new(done.into_inner())),
                _ => None,
            };
        }
        Ok(0)
    }
}

/// A reader that can put back the first magic byte, which [`next_member`] takes to look at the
/// byte after it when a buffer ends between the two.
struct PutBack<R> {
    inner: R,
    magic_back: bool,
}

impl<R: BufRead> Read for PutBack<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for PutBack<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.magic_back {
            return Ok(&MAGIC[..1]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if n > 0 && self.magic_back {
            self.magic_back = false;
            self.inner.consume(n - 1);
        } else {
            self.inner.consume(n);
        }
    }
}

/// `fill_buf`, retried if interrupted.
fn fill<R: BufRead>(reader: &mut R) -> io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
            // Borrowck cannot see that the retried call and the returned buffer never overlap:
            // the buffer is asked for once more, which returns the bytes now held, reading
            // nothing.
            Ok(_) => break,
        }
    }
    reader.fill_buf()
}

/// After a member: `true` if another one starts here, `false` at the end of the input or of
/// its zero padding, an error for anything else.
fn next_member<R: BufRead>(reader: &mut PutBack<R>) -> io::Result<bool> {
    const NOT_MEMBER: &str = "data after the gzip stream is neither a gzip member nor zero padding";
    let trailing = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut padded = false;
    loop {
        let buf = fill(reader)?;
        if buf.is_empty() {
            return Ok(false);
        }
        if !padded && buf[0] == MAGIC[0] {
            let second = match buf.get(1) {
                Some(&b) => Some(b),
                None => {
                    // The buffer ends after the first byte: take it, look at the next one and
                    // put the first back for the decoder.
                    reader.consume(1);
                    let next = fill(reader)?.first().copied();
                    reader.magic_back = true;
                    next
                }
            };
            return if second == Some(MAGIC[1]) {
                Ok(true)
            } else {
                Err(trailing(NOT_MEMBER))
            };
        }
        let run = buf.iter().take_while(|&&b| b == 0).count();
        if run < buf.len() {
            return Err(trailing(if padded || run > 0 {
                "non-zero data follows the zero padding after the gzip stream"
            } else {
                NOT_MEMBER
            }));
        }
        reader.consume(run);
        padded = true;
    }
}

/// `bytes` as one gzip member (for the tests of this crate).
#[cfg(test)]
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(self.chunk).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Decodes `input` through buffers of at most `chunk` bytes, so that member and padding
    /// boundaries fall inside and across buffers.
    fn gunzip(input: &[u8], chunk: usize) -> io::Result<Vec<u8>> {
        let reader = io::BufReader::with_capacity(chunk, Trickle { data: input, chunk });
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
        let not_member = "data after the gzip stream is neither a gzip member nor zero padding";
        let after_padding = "non-zero data follows the zero padding after the gzip stream";
        for (tail, says) in [
            (&b"x"[..], not_member),
            (&b"\x1f"[..], not_member),
            (&b"\x1fx"[..], not_member),
            (&b"\x1f\x8c"[..], not_member),
            (&b"\0\0\0x"[..], after_padding),
            (&b"\0\x1f\x8b"[..], after_padding),
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

    /// Reads `data`, then fails once with `kind`, then reports the end.
    struct FailsAtEnd {
        data: Vec<u8>,
        kind: Option<io::ErrorKind>,
    }

    impl Read for FailsAtEnd {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.data.is_empty() {
                return match self.kind.take() {
                    Some(kind) => Err(io::Error::new(kind, "cut")),
                    None => Ok(0),
                };
            }
            let n = self.data.len().min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_after_a_member_stays_an_error_and_interruptions_are_retried() {
        let reader = |kind| {
            let data = gzip(b"hello");
            Gunzip::new(io::BufReader::new(FailsAtEnd {
                data,
                kind: Some(kind),
            }))
        };
        let mut cut = reader(io::ErrorKind::ConnectionReset);
        let mut out = Vec::new();
        let e = cut.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        // The source would now say "end": the stream still does not.
        let e = cut.read(&mut [0; 8]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        let mut out = Vec::new();
        reader(io::ErrorKind::Interrupted)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
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
