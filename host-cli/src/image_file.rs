//! Digit images for `predict`: 28×28, 8-bit grayscale, PNG or PGM (binary P5 or ASCII P2).
//! Anything else (another size, colour, 16-bit, alpha, another format) is refused with a
//! message that says what the file is and what is accepted.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use image::{ColorType, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

/// What `predict` accepts, for error messages and `--help`.
pub const ACCEPTED: &str = "28x28 8-bit grayscale PNG or PGM (P2/P5), white digit on black (use --invert for black on white)";

/// Largest image file read: a 28×28 PNG is under 1 kB, so anything this big is not a digit.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads one digit image.
pub fn load(path: &Path, invert: bool) -> Result<[u8; 784]> {
    let bytes = crate::model_file::read_capped(path, MAX_FILE_BYTES)
        .with_context(|| format!("cannot read image {}", path.display()))?;
    decode(&bytes, invert).with_context(|| format!("image {}", path.display()))
}

/// Decodes one digit image from memory.
pub fn decode(bytes: &[u8], invert: bool) -> Result<[u8; 784]> {
    if bytes.is_empty() {
        bail!("the file is empty; expected {ACCEPTED}");
    }
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .context("cannot read the image header")?;
    match reader.format() {
        Some(ImageFormat::Png) => {}
        // PGM is read by our own strict reader; other netpbm kinds are refused.
        Some(ImageFormat::Pnm) if bytes.starts_with(b"P2") || bytes.starts_with(b"P5") => {
            return Ok(inverted(crate::pgm::decode(bytes, ACCEPTED)?, invert));
        }
        Some(ImageFormat::Pnm) => bail!(
            "a netpbm image of kind {}, not a PGM (P2/P5); expected {ACCEPTED}",
            String::from_utf8_lossy(&bytes[..2.min(bytes.len())])
        ),
        Some(other) => bail!("{other:?} images are not accepted; expected {ACCEPTED}"),
        None => bail!("not a PNG or PGM file; expected {ACCEPTED}"),
    }
    // A digit is tiny: the size and colour type are checked from the header, before any pixel
    // buffer is allocated, and the decoder's own buffers are capped too.
    let mut limits = Limits::default();
    limits.max_alloc = Some(1 << 20);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| match e {
        ImageError::Limits(_) => {
            anyhow!("the header describes an image too large to decode; expected {ACCEPTED}")
        }
        e => anyhow!("cannot read the image header: {e}"),
    })?;
    let ((w, h), color) = (decoder.dimensions(), decoder.color_type());
    if color != ColorType::L8 {
        bail!("the image is {color:?} ({w}x{h}); expected {ACCEPTED}");
    }
    if (w, h) != (28, 28) {
        bail!("the image is {w}x{h}; expected {ACCEPTED}");
    }
    let img = DynamicImage::from_decoder(decoder).map_err(|e| anyhow!("cannot decode: {e}"))?;
    let DynamicImage::ImageLuma8(gray) = img else {
        bail!(
            "the image decodes as {:?}; expected {ACCEPTED}",
            img.color()
        );
    };
    let mut out = [0u8; 784];
    out.copy_from_slice(gray.as_raw());
    Ok(inverted(out, invert))
}

/// `pixels`, or their negative if `invert`.
fn inverted(mut pixels: [u8; 784], invert: bool) -> [u8; 784] {
    if invert {
        pixels.iter_mut().for_each(|p| *p = 255 - *p);
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageBuffer, Luma, Rgb};

    fn png<P: image::PixelWithColorType>(img: &ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
    where
        [P::Subpixel]: image::EncodableLayout,
    {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn reads_gray_png_and_pgm() {
        let img = GrayImage::from_fn(28, 28, |x, y| Luma([(x * 9 + y) as u8]));
        let px = decode(&png(&img), false).unwrap();
        assert_eq!(px[28 + 2], 2 * 9 + 1);
        let inv = decode(&png(&img), true).unwrap();
        assert_eq!(inv[28 + 2], 255 - (2 * 9 + 1));
        let mut pgm = b"P5\n28 28\n255\n".to_vec();
        pgm.extend(img.as_raw());
        assert_eq!(decode(&pgm, false).unwrap(), px);
        let ascii = format!(
            "P2\n28 28\n255\n{}\n",
            img.as_raw()
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(decode(ascii.as_bytes(), false).unwrap(), px);
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let err = |b: &[u8]| format!("{:#}", decode(b, false).unwrap_err());
        assert!(err(b"").contains("empty"));
        assert!(err(b"hello world, not an image").contains("not a PNG or PGM"));
        let big = GrayImage::new(32, 28);
        assert!(err(&png(&big)).contains("32x28"));
        let rgb: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::new(28, 28);
        assert!(err(&png(&rgb)).contains("Rgb8"));
        let deep: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::new(28, 28);
        assert!(err(&png(&deep)).contains("L16"));
        let mut bytes = png(&GrayImage::new(28, 28));
        bytes.truncate(bytes.len() / 2);
        assert!(err(&bytes).contains("decode"));
        assert!(err(b"P4\n28 28\n").contains("netpbm image of kind P4, not a PGM"));
        assert!(err(b"P7\nWIDTH 28\n").contains("kind P7"));
    }
}
