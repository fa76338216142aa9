//! MNIST views over IDX files: shapes, labels, counts and the `/255` scaling.

use std::string::ToString;
use std::vec::Vec;

use super::idx::idx_file;
use crate::idx::{DType, IdxError};
use crate::mnist::{CLASSES, Dataset, Images, Labels, MnistError, PIXELS, SIDE, to_input};

fn images_file(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let data: Vec<u8> = (0..count * rows * cols).map(|i| (i % 251) as u8).collect();
    idx_file(0x08, &[count, rows, cols], &data)
}

#[test]
fn parses_images_and_labels() {
    let f = images_file(3, 28, 28);
    let images = Images::parse(&f).unwrap();
    assert_eq!(images.len(), 3);
    assert!(!images.is_empty());
    assert_eq!(images.get(1).unwrap()[0], (784 % 251) as u8);
    assert_eq!(images.get(2).unwrap()[783], ((2 * 784 + 783) % 251) as u8);
    assert!(images.get(3).is_none());

    let lf = idx_file(0x08, &[3], &[7, 0, 9]);
    let labels = Labels::parse(&lf).unwrap();
    assert_eq!(labels.as_slice(), &[7, 0, 9]);
    let ds = Dataset::new(images, labels).unwrap();
    assert_eq!(ds.len(), 3);
    let tail = ds.slice(1..3);
    assert_eq!(tail.labels.as_slice(), &[0, 9]);
    assert_eq!(tail.images.get(0), images.get(1));
    assert_eq!((SIDE, PIXELS, CLASSES), (28, 784, 10));
}

#[test]
fn rejects_wrong_dtype() {
    let f = idx_file(0x09, &[1, 28, 28], &[0; 784]);
    assert_eq!(Images::parse(&f).unwrap_err(), MnistError::DType(DType::I8));
    let f = idx_file(0x0D, &[2], &[0; 8]);
    let e = Labels::parse(&f).unwrap_err();
    assert_eq!(e, MnistError::DType(DType::F32));
    assert!(e.to_string().contains("F32"), "{e}");
}

#[test]
fn rejects_wrong_rank() {
    let f = idx_file(0x08, &[784], &[0; 784]);
    assert_eq!(
        Images::parse(&f).unwrap_err(),
        MnistError::Rank {
            expected: 3,
            found: 1
        }
    );
    let e = Labels::parse(&images_file(1, 28, 28)).unwrap_err();
    assert_eq!(
        e,
        MnistError::Rank {
            expected: 1,
            found: 3
        }
    );
    assert_eq!(e.to_string(), "3 dimensions, expected 1");
}

#[test]
fn rejects_wrong_image_size() {
    let e = Images::parse(&images_file(2, 27, 28)).unwrap_err();
    assert_eq!(e, MnistError::ImageSize { rows: 27, cols: 28 });
    assert!(e.to_string().contains("27x28"), "{e}");
    let e = Images::parse(&images_file(2, 28, 29)).unwrap_err();
    assert_eq!(e, MnistError::ImageSize { rows: 28, cols: 29 });
}

#[test]
fn rejects_a_label_outside_0_to_9() {
    let f = idx_file(0x08, &[5], &[0, 9, 3, 10, 11]);
    let e = Labels::parse(&f).unwrap_err();
    assert_eq!(
        e,
        MnistError::Label {
            index: 3,
            value: 10
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains("label 10") && msg.contains("index 3") && msg.contains("offset 11"),
        "{msg}"
    );
}

#[test]
fn passes_idx_errors_through() {
    let f = idx_file(0x08, &[2], &[1]);
    assert_eq!(
        Labels::parse(&f).unwrap_err(),
        MnistError::Idx(IdxError::Truncated {
            expected: 2,
            actual: 1
        })
    );
    let e = Images::parse(&[]).unwrap_err();
    assert_eq!(e, MnistError::Idx(IdxError::Header { needed: 4, len: 0 }));
    assert_eq!(
        e.to_string(),
        IdxError::Header { needed: 4, len: 0 }.to_string()
    );
}

#[test]
fn dataset_rejects_count_mismatch() {
    let f = images_file(3, 28, 28);
    let lf = idx_file(0x08, &[2], &[1, 2]);
    let e = Dataset::new(Images::parse(&f).unwrap(), Labels::parse(&lf).unwrap()).unwrap_err();
    assert_eq!(
        e,
        MnistError::Count {
            images: 3,
            labels: 2
        }
    );
    assert_eq!(e.to_string(), "3 images but 2 labels");
}

#[test]
fn to_input_scales_like_keras() {
    let mut pixels = [0u8; PIXELS];
    pixels[0] = 0;
    pixels[1] = 255;
    pixels[2] = 51;
    pixels[PIXELS - 1] = 128;
    let mut out = [[9.0f32; SIDE]; SIDE];
    to_input(&pixels, &mut out);
    let flat = out.as_flattened();
    assert_eq!(flat[0], 0.0);
    assert_eq!(flat[1], 1.0);
    assert_eq!(flat[2], (51.0f64 / 255.0) as f32);
    assert_eq!(flat[2], 0.2);
    assert_eq!(flat[PIXELS - 1], (128.0f64 / 255.0) as f32);
    assert_eq!(out[27][27], flat[PIXELS - 1]);
    assert!(flat[3..PIXELS - 1].iter().all(|&v| v == 0.0));
    // Every byte value, at every position mod 16 (every lane of the SIMD paths' vectors).
    for shift in 0..16 {
        let pixels: [u8; PIXELS] = core::array::from_fn(|i| ((i + shift) % 256) as u8);
        to_input(&pixels, &mut out);
        for (&p, &v) in pixels.iter().zip(out.as_flattened()) {
            assert_eq!(
                v.to_bits(),
                ((f64::from(p) / 255.0) as f32).to_bits(),
                "pixel {p}"
            );
        }
    }
}
