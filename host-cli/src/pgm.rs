//! PGM digits (netpbm graymaps, binary `P5` and plain `P2`), read strictly: a sample above the
//! header's maximum, a short raster or bytes after it are errors, not clamped or ignored.
//! Samples scale to 8 bits as `round(v · 255 / maxval)` (unchanged for the usual 255).

use anyhow::{Context, Result, bail, ensure};

/// Width and height of a digit.
const SIDE: u32 = 28;

/// The 784 pixels of a 28×28 PGM in `bytes` (which start with `P2` or `P5`). `accepted`
/// describes what is accepted, for the size error.
pub fn decode(bytes: &[u8], accepted: &str) -> Result<[u8; 784]> {
    let mut r = Reader { bytes, pos: 2 };
    let plain = match &bytes[..2.min(bytes.len())] {
        b"P2" => true,
        b"P5" => false,
        _ => bail!("not a PGM file (P2 or P5)"),
    };
    ensure!(
        bytes.get(2).is_some_and(|&c| is_space(c) || c == b'#'),
        "no whitespace after the magic number {}",
        if plain { "P2" } else { "P5" }
    );
    let (w, h) = (r.number("width")?, r.number("height")?);
    ensure!(
        (w, h) == (SIDE, SIDE),
        "the image is {w}x{h}; expected {accepted}"
    );
    let max = r.number("maximum value")?;
    ensure!(
        (1..=255).contains(&max),
        "the maximum value is {max}; expected 1 to 255 (8-bit samples)"
    );
    let mut out = [0u8; 784];
    if plain {
        for (i, o) in out.iter_mut().enumerate() {
            *o = scale(r.number("pixel")?, max, i)?;
        }
        r.skip_space();
        ensure!(
            r.pos == bytes.len(),
            "text after the {} pixels at byte {}",
            out.len(),
            r.pos
        );
    } else {
        // One whitespace byte ends the header (a comment may come first, its line end then
        // being that byte); the raster is one byte per sample.
        if bytes.get(r.pos) == Some(&b'#') {
            r.skip_comment();
        }
        ensure!(
            bytes.get(r.pos).copied().is_some_and(is_space),
            "no whitespace after the maximum value at byte {}",
            r.pos
        );
        let raster = &bytes[r.pos + 1..];
        ensure!(
            raster.len() >= out.len(),
            "truncated: {} of {} pixel bytes",
            raster.len(),
            out.len()
        );
        ensure!(
            raster.len() == out.len(),
            "{} bytes after the {} pixels",
            raster.len() - out.len(),
            out.len()
        );
        for (i, (o, &v)) in out.iter_mut().zip(raster).enumerate() {
            *o = scale(u32::from(v), max, i)?;
        }
    }
    Ok(out)
}

/// Sample `v` of pixel `i` on a 0..=255 scale.
fn scale(v: u32, max: u32, i: usize) -> Result<u8> {
    ensure!(v <= max, "pixel {i} is {v}, above the maximum value {max}");
    Ok(((v * 255 + max / 2) / max) as u8)
}

/// Netpbm's whitespace: blanks, tabs, line ends, vertical tabs and form feeds.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The header and plain raster: decimal numbers between whitespace and `#` comments.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    /// From a `#` up to (not past) the line's end, CR or LF.
    fn skip_comment(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|&c| c != b'\n' && c != b'\r')
        {
            self.pos += 1;
        }
    }

    fn skip_space(&mut self) {
        while let Some(&c) = self.bytes.get(self.pos) {
            if c == b'#' {
                self.skip_comment();
            } else if is_space(c) {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn number(&mut self, what: &str) -> Result<u32> {
        self.skip_space();
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let digits = &self.bytes[start..self.pos];
        if digits.is_empty() {
            match self.bytes.get(self.pos) {
                None => bail!("truncated: the file ends before the {what}"),
                Some(&c) => bail!(
                    "expected the {what} at byte {start}, found {:?}",
                    char::from(c)
                ),
            }
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("the {what} at byte {start} is too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p5(max: u32, raster: &[u8]) -> Vec<u8> {
        let mut b = format!("P5\n# a comment\n28 28\n{max}\n").into_bytes();
        b.extend_from_slice(raster);
        b
    }

    fn err(bytes: &[u8]) -> String {
        format!("{:#}", decode(bytes, "28x28").unwrap_err())
    }

    #[test]
    fn reads_both_kinds_and_scales_small_maxima() {
        let raster: Vec<u8> = (0..784).map(|i| (i % 16) as u8).collect();
        let px = decode(&p5(255, &raster), "").unwrap();
        assert_eq!(&px[..], &raster[..]);
        // Comments ended by CR, one right after the maximum value, a vertical tab.
        let mut odd = b"P5\x0b28 # width\r28 255# its line end ends the header\n".to_vec();
        odd.extend_from_slice(&raster);
        assert_eq!(decode(&odd, "").unwrap(), px);
        let px = decode(&p5(15, &raster), "").unwrap();
        assert_eq!((px[0], px[1], px[15]), (0, 17, 255));
        let text: Vec<String> = raster.iter().map(u8::to_string).collect();
        let plain = format!("P2 28 28 15\n{}\n", text.join(" "));
        assert_eq!(decode(plain.as_bytes(), "").unwrap(), px);
    }

    #[test]
    fn refuses_what_other_readers_clamp_or_ignore() {
        let mut raster = vec![0u8; 784];
        raster[5] = 200;
        assert!(err(&p5(100, &raster)).contains("pixel 5 is 200, above the maximum value 100"));
        assert!(err(&p5(255, &[0; 785])).contains("1 bytes after the 784 pixels"));
        assert!(err(&p5(255, &[0; 700])).contains("truncated: 700 of 784"));
        assert!(err(&p5(0, &[0; 784])).contains("maximum value is 0"));
        assert!(err(&p5(65535, &[0; 784])).contains("maximum value is 65535"));
        assert!(err(b"P5\n27 28\n255\n").contains("27x28; expected 28x28"));
        assert!(err(b"P5\n28 28\n").contains("ends before the maximum value"));
        assert!(err(b"P5\n28 x").contains("expected the height at byte 6"));
        assert!(err(b"P5 99999999999 28").contains("too large"));
        assert!(err(b"P528 28 255\n").contains("no whitespace after the magic number P5"));
        let plain = format!("P2 28 28 255 {} 7", "0 ".repeat(784));
        assert!(err(plain.as_bytes()).contains("text after the 784 pixels"));
    }
}
