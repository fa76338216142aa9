//! Stream adapters for one download: count what arrives, copy it into the temp file, and
//! hash the uncompressed bytes under a size cap.

use std::fs::File;
use std::io::{self, Read, Write};

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Counts the bytes read through it and remembers whether the underlying read failed.
pub(super) struct Tee<R> {
    pub(super) inner: R,
    pub(super) received: u64,
    pub(super) read_failed: bool,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.received += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.read_failed = e.kind() != io::ErrorKind::Interrupted;
                Err(e)
            }
        }
    }
}

/// A reader that writes everything read through it into `file`.
pub(super) struct CopyTo<'a, R> {
    pub(super) reader: R,
    pub(super) file: &'a mut File,
    pub(super) write_failed: bool,
}

impl<R: Read> Read for CopyTo<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        if let Err(e) = self.file.write_all(&buf[..n]) {
            self.write_failed = true;
            return Err(e);
        }
        Ok(n)
    }
}

/// Writes to a hash and a gzip encoder at once.
pub(super) struct Both<'a, W: Write> {
    pub(super) hash: &'a mut HashWriter,
    pub(super) gz: &'a mut GzEncoder<W>,
}

impl<W: Write> Write for Both<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hash.write_all(buf)?;
        self.gz.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.gz.flush()
    }
}

/// SHA-256 as a writer, refusing more than `cap` bytes (a decompression-bomb guard).
pub(super) struct HashWriter {
    hasher: Sha256,
    len: u64,
    pub(super) cap: u64,
    pub(super) overflowed: bool,
}

impl HashWriter {
    pub(super) fn new(cap: u64) -> Self {
        HashWriter {
            hasher: Sha256::new(),
            len: 0,
            cap,
            overflowed: false,
        }
    }

    pub(super) fn hex(self) -> String {
        hex(&self.hasher.finalize())
    }
}

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.len += buf.len() as u64;
        if self.len > self.cap {
            self.overflowed = true;
            return Err(io::Error::other(format!("more than {} bytes", self.cap)));
        }
        self.hasher.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
