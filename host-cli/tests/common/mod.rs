//! Helpers shared by the integration tests: synthetic MNIST-format data, IDX and safetensors
//! builders, and running the `flashnet` binary the way a user does.
#![allow(dead_code)] // Each test binary uses its own subset.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use flate2::{Compression, write::GzEncoder};

/// The four standard file names.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The model's tensors, Keras names and shapes.
pub const TENSORS: [(&str, &[usize]); 4] = [
    ("dense/kernel", &[784, 128]),
    ("dense/bias", &[128]),
    ("dense_1/kernel", &[128, 10]),
    ("dense_1/bias", &[10]),
];

/// An IDX file: magic, type code, rank, big-endian dims, then `data` as given.
pub fn idx(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        f.extend_from_slice(&d.to_be_bytes());
    }
    f.extend_from_slice(data);
    f
}

/// An MNIST image file of `pixels.len() / 784` images.
pub fn idx_images(pixels: &[u8]) -> Vec<u8> {
    idx(0x08, &[(pixels.len() / 784) as u32, 28, 28], pixels)
}

/// An MNIST label file.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    idx(0x08, &[labels.len() as u32], labels)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `n` samples of a learnable synthetic "MNIST" (digit d is a bright square at a spot that
/// depends on d, plus sparse noise): `(pixels, labels)`.
pub fn samples(n: usize, seed: u32) -> (Vec<u8>, Vec<u8>) {
    let mut s = seed.max(1);
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s
    };
    let mut images = Vec::with_capacity(n * 784);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let d = i % 10;
        let (r0, c0) = (2 + (d / 5) * 12, 2 + (d % 5) * 5);
        let mut img = [0u8; 784];
        for r in r0..r0 + 6 {
            for c in c0..c0 + 6 {
                img[r * 28 + c] = 200 + (next() % 56) as u8;
            }
        }
        for _ in 0..20 {
            img[(next() % 784) as usize] = (next() % 256) as u8;
        }
        images.extend_from_slice(&img);
        labels.push(d as u8);
    }
    (images, labels)
}

/// Writes the four IDX files into `dir`: `train` and `test` samples, the training images and
/// the test labels gzipped (so both the plain and the `.gz` paths are exercised).
pub fn write_dataset(dir: &Path, train: usize, test: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let (tri, trl) = samples(train, 12345);
    let (tei, tel) = samples(test, 54321);
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    write(&format!("{TRAIN_IMAGES}.gz"), &gzip(&idx_images(&tri)));
    write(TRAIN_LABELS, &idx_labels(&trl));
    write(TEST_IMAGES, &idx_images(&tei));
    write(&format!("{TEST_LABELS}.gz"), &gzip(&idx_labels(&tel)));
}

/// A safetensors file of `tensors` (name, dtype, shape), each filled with `value` (f32) or
/// zeros (other dtypes), with the metadata `meta`.
pub fn safetensors_file(
    tensors: &[(&str, safetensors::Dtype, &[usize])],
    value: f32,
    meta: &[(&str, &str)],
) -> Vec<u8> {
    use safetensors::tensor::TensorView;
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, dtype, shape)| {
            let n: usize = shape.iter().product();
            if *dtype == safetensors::Dtype::F32 {
                value.to_le_bytes().repeat(n)
            } else {
                vec![0u8; n * dtype.bitsize() / 8]
            }
        })
        .collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&data)
        .map(|((name, dtype, shape), d)| {
            (*name, TensorView::new(*dtype, shape.to_vec(), d).unwrap())
        })
        .collect();
    let meta = (!meta.is_empty()).then(|| {
        meta.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    });
    safetensors::serialize(views, meta).unwrap()
}

/// The model's four f32 tensors filled with `value`, no metadata (a Keras export).
pub fn model_file(value: f32) -> Vec<u8> {
    let tensors: Vec<_> = TENSORS
        .iter()
        .map(|&(n, s)| (n, safetensors::Dtype::F32, s))
        .collect();
    safetensors_file(&tensors, value, &[])
}

/// A PNG of the given colour type.
pub fn png<P: image::PixelWithColorType>(img: &image::ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
where
    [P::Subpixel]: image::EncodableLayout,
{
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A 28×28 8-bit grayscale PNG: what `predict` accepts.
pub fn digit_png() -> Vec<u8> {
    png(&image::GrayImage::from_fn(28, 28, |x, y| {
        image::Luma([((x * 9 + y) % 256) as u8])
    }))
}

/// Runs `flashnet args` in `cwd` (so a stray default output path lands in a temp dir), with
/// `FLASHNET_DATA` set to `data` or unset, a cache and a mirror that do not exist (nothing is
/// ever downloaded) and backtraces on (so a panic cannot go unnoticed).
pub fn flashnet(cwd: &Path, args: &[&str], data: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flashnet"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("FLASHNET_DATA")
        .env("FLASHNET_CACHE", cwd.join("no-cache"))
        .env("FLASHNET_MIRROR", "http://127.0.0.1:9/")
        .env("RUST_BACKTRACE", "1");
    if let Some(d) = data {
        c.env("FLASHNET_DATA", d);
    }
    c.output().unwrap()
}

/// A refusal: exit status 1 (our errors) or 2 (argument errors), nothing on stdout, no panic or
/// backtrace, and one `error: …` line containing every one of `needles`. Status 1 errors are
/// the last line of stderr (progress may come before); clap's (status 2) are its first.
/// Returns the line.
#[track_caller]
pub fn assert_refused(o: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let code = o.status.code();
    assert!(
        matches!(code, Some(1 | 2)),
        "exit status {code:?}, stderr:\n{err}"
    );
    // A `--json` consumer must not get half a result.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.is_empty(), "stdout: {out}");
    for panic in [
        "panicked",
        "RUST_BACKTRACE",
        "stack backtrace",
        "attempt to ",
    ] {
        assert!(!err.contains(panic), "panic: {err}");
    }
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{err}");
    let line = errors[0].to_string();
    assert!(line.starts_with("error: "), "{err}");
    let at = if code == Some(1) {
        err.trim_end().lines().last()
    } else {
        err.lines().next()
    };
    assert_eq!(at, Some(line.as_str()), "error line out of place:\n{err}");
    for needle in needles {
        assert!(line.contains(needle), "expected `{needle}` in: {line}");
    }
    line
}

/// The one JSON line a successful `--json` run prints on stdout.
#[track_caller]
pub fn json_line(o: &Output) -> serde_json::Value {
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "failed: {s}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(s.trim().lines().count(), 1, "--json prints one line: {s}");
    serde_json::from_str(s.trim()).unwrap()
}
