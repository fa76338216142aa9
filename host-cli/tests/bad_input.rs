//! Bad input through the real `flashnet` binary: every broken data file, model file, image and
//! argument gets a non-zero exit and one `error:` line that says what is wrong and where (the
//! file, and the offset or field), never a panic, a backtrace or a wrong answer.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use image::{GrayImage, ImageBuffer, Luma, LumaA, Rgb};
use safetensors::Dtype;

/// A temp dir with valid synthetic data in `data/`, a valid model and a valid digit image.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(&dir.path().join("data"), 200, 50);
        std::fs::write(dir.path().join("model.safetensors"), model_file(0.01)).unwrap();
        std::fs::write(dir.path().join("digit.png"), digit_png()).unwrap();
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn data(&self) -> PathBuf {
        self.path("data")
    }

    /// Replaces the standard file `base` (plain and `.gz`) by `file` (`base` or `base.gz`)
    /// holding `bytes`. Returns its path.
    fn put(&self, base: &str, file: &str, bytes: &[u8]) -> PathBuf {
        for old in [base.to_string(), format!("{base}.gz")] {
            let _ = std::fs::remove_file(self.data().join(old));
        }
        let p = self.data().join(file);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Writes `bytes` to `name` in the temp dir; returns the path as a string.
    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    fn run(&self, args: &[&str]) -> Output {
        flashnet(self.dir.path(), args, Some(&self.data()))
    }

    /// `train` for one epoch, all outputs inside the temp dir: reads all four files.
    fn train(&self, extra: &[&str]) -> Output {
        let (out, hist, plots) = (
            self.path("t.safetensors"),
            self.path("t.json"),
            self.path("p"),
        );
        let mut args = vec!["train", "--offline", "--epochs", "1"];
        let (out, hist, plots) = (
            out.to_str().unwrap(),
            hist.to_str().unwrap(),
            plots.to_str().unwrap(),
        );
        args.extend(["--out", out, "--history", hist, "--plots", plots]);
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `evaluate` with a good model: reads the two test files.
    fn evaluate(&self) -> Output {
        let model = self.path("model.safetensors");
        self.run(&["evaluate", "--offline", "--model", model.to_str().unwrap()])
    }

    fn evaluate_model(&self, model: &str) -> Output {
        self.run(&["evaluate", "--offline", "--model", model])
    }

    fn predict(&self, image: &str) -> Output {
        let model = self.path("model.safetensors");
        self.run(&["predict", "--model", model.to_str().unwrap(), image])
    }
}

fn dir_of(p: &Path) -> String {
    p.parent().unwrap().display().to_string()
}

// ---------------------------------------------------------------------------------------------
// IDX data files

#[test]
fn idx_wrong_magic() {
    let f = Fixture::new();
    let mut bytes = idx_images(&[0; 784]);
    bytes[0] = 0x12;
    bytes[1] = 0x34;
    let p = f.put(TRAIN_IMAGES, TRAIN_IMAGES, &bytes);
    assert_refused(
        &f.train(&[]),
        &[
            TRAIN_IMAGES,
            &dir_of(&p),
            "not an IDX file",
            "bytes 0-1 are 0x12 0x34",
        ],
    );
}

#[test]
fn idx_gzip_data_under_a_plain_name() {
    let f = Fixture::new();
    f.put(TEST_LABELS, TEST_LABELS, &gzip(&idx_labels(&[1; 50])));
    assert_refused(
        &f.evaluate(),
        &[
            TEST_LABELS,
            "bytes 0-1 are 0x1f 0x8b",
            "gzip magic",
            ".gz name",
        ],
    );
}

#[test]
fn idx_wrong_dtype() {
    let f = Fixture::new();
    // A type code IDX does not have.
    f.put(
        TEST_IMAGES,
        TEST_IMAGES,
        &idx(0x0A, &[1, 28, 28], &[0; 784]),
    );
    assert_refused(
        &f.evaluate(),
        &[TEST_IMAGES, "unknown IDX element type 0x0a at offset 2"],
    );
    // A valid IDX type that is not MNIST's: f32 labels.
    let f = Fixture::new();
    f.put(TEST_LABELS, TEST_LABELS, &idx(0x0D, &[50], &[0; 200]));
    assert_refused(
        &f.evaluate(),
        &[TEST_LABELS, "element type is F32", "unsigned bytes (0x08)"],
    );
}

#[test]
fn idx_wrong_rank_and_image_size() {
    let f = Fixture::new();
    f.put(
        TEST_IMAGES,
        TEST_IMAGES,
        &idx(0x08, &[50, 27, 28], &vec![0; 50 * 27 * 28]),
    );
    assert_refused(
        &f.evaluate(),
        &[TEST_IMAGES, "images are 27x28, expected 28x28"],
    );
    let f = Fixture::new();
    f.put(TEST_LABELS, TEST_LABELS, &idx(0x08, &[25, 2], &[0; 50]));
    assert_refused(&f.evaluate(), &[TEST_LABELS, "2 dimensions, expected 1"]);
    let f = Fixture::new();
    f.put(TEST_LABELS, TEST_LABELS, &idx(0x08, &[1, 1, 1, 1, 1], &[0]));
    assert_refused(
        &f.evaluate(),
        &[TEST_LABELS, "unsupported IDX rank 5 at offset 3"],
    );
}

#[test]
fn idx_dimensions_that_overflow() {
    let f = Fixture::new();
    f.put(
        TRAIN_IMAGES,
        TRAIN_IMAGES,
        &idx(0x08, &[u32::MAX, u32::MAX, u32::MAX], &[]),
    );
    assert_refused(
        &f.train(&[]),
        &[
            TRAIN_IMAGES,
            "IDX dimensions (the sizes from offset 4) overflow",
        ],
    );
}

#[test]
fn idx_dimensions_that_exceed_the_data() {
    // A 20-byte label file whose header claims 4 GB of labels: refused at once, nothing
    // allocated for the claim (see parser_limits.rs for the allocation check).
    let f = Fixture::new();
    f.put(TEST_LABELS, TEST_LABELS, &idx(0x08, &[u32::MAX], &[0; 12]));
    let started = std::time::Instant::now();
    assert_refused(
        &f.evaluate(),
        &[
            TEST_LABELS,
            "truncated IDX data: dimensions need 4294967295 bytes after the header, found 12",
        ],
    );
    assert!(started.elapsed().as_secs() < 10);
    // Images claiming 65536 of 28×28 with one image present.
    let f = Fixture::new();
    f.put(
        TEST_IMAGES,
        &format!("{TEST_IMAGES}.gz"),
        &gzip(&idx(0x08, &[65536, 28, 28], &[0; 784])),
    );
    assert_refused(
        &f.evaluate(),
        &[
            TEST_IMAGES,
            "dimensions need 51380224 bytes after the header, found 784",
        ],
    );
}

#[test]
fn idx_truncated_data_and_header() {
    let f = Fixture::new();
    let p = f.data().join(TEST_IMAGES);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
    assert_refused(
        &f.evaluate(),
        &[
            TEST_IMAGES,
            "truncated IDX data: dimensions need 39200 bytes after the header, found 39190",
        ],
    );
    // Cut inside the header: rank 3 needs 16 bytes.
    std::fs::write(&p, &bytes[..11]).unwrap();
    assert_refused(
        &f.evaluate(),
        &[
            TEST_IMAGES,
            "too short for an IDX header: 11 bytes, the header needs 16",
        ],
    );
}

#[test]
fn idx_trailing_garbage() {
    let f = Fixture::new();
    let mut bytes = idx_labels(&[3; 50]);
    bytes.extend_from_slice(b"garbage");
    f.put(TEST_LABELS, &format!("{TEST_LABELS}.gz"), &gzip(&bytes));
    assert_refused(
        &f.evaluate(),
        &[
            TEST_LABELS,
            "trailing bytes after IDX data: dimensions need 50 bytes after the header, found 57",
        ],
    );
}

#[test]
fn idx_label_outside_0_to_9() {
    let f = Fixture::new();
    let mut labels = vec![1u8; 200];
    labels[17] = 10;
    f.put(TRAIN_LABELS, TRAIN_LABELS, &idx_labels(&labels));
    assert_refused(
        &f.train(&[]),
        &[
            TRAIN_LABELS,
            "label 10 at index 17 (byte offset 25) is outside 0-9",
        ],
    );
}

#[test]
fn idx_image_and_label_counts_disagree() {
    let f = Fixture::new();
    f.put(TEST_LABELS, TEST_LABELS, &idx_labels(&[0; 49]));
    assert_refused(
        &f.evaluate(),
        &[TEST_IMAGES, TEST_LABELS, "50 images but 49 labels"],
    );
    // No samples at all.
    let f = Fixture::new();
    f.put(TEST_IMAGES, TEST_IMAGES, &idx(0x08, &[0, 28, 28], &[]));
    f.put(TEST_LABELS, TEST_LABELS, &idx_labels(&[]));
    assert_refused(&f.evaluate(), &[TEST_IMAGES, "holds no images"]);
}

#[test]
fn idx_corrupt_gzip_stream() {
    let f = Fixture::new();
    let good = gzip(&idx_images(&samples(20, 7).0));
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0xff;
    for (i, (bytes, says)) in [
        (b"not gzip at all".to_vec(), ""),
        (good[..good.len() - 6].to_vec(), ""),
        (good[..good.len() / 2].to_vec(), ""),
        (flipped, ""),
        (
            [good.clone(), b"junk".to_vec()].concat(),
            "neither a gzip member nor zero padding",
        ),
        (
            [good.clone(), vec![0; 9], b"junk".to_vec()].concat(),
            "non-zero data follows the zero padding after the gzip stream",
        ),
    ]
    .iter()
    .enumerate()
    {
        let p = f.put(TRAIN_IMAGES, &format!("{TRAIN_IMAGES}.gz"), bytes);
        let line = assert_refused(
            &f.train(&[]),
            &[&format!("corrupt gzip stream in {}", p.display()), says],
        );
        assert!(line.len() < 300, "case {i}: {line}");
    }
}

#[test]
fn idx_gzip_bomb_is_capped() {
    // 1 MiB + 1 of zeros compresses to about 1 kB; a label file may not exceed 1 MiB.
    let f = Fixture::new();
    let p = f.put(
        TEST_LABELS,
        &format!("{TEST_LABELS}.gz"),
        &gzip(&vec![0; (1 << 20) + 1]),
    );
    assert_refused(
        &f.evaluate(),
        &[
            &p.display().to_string(),
            "decompresses to more than the 1048576-byte limit",
        ],
    );
}

#[test]
fn idx_empty_files() {
    let f = Fixture::new();
    let p = f.put(TEST_IMAGES, TEST_IMAGES, b"");
    assert_refused(&f.evaluate(), &[&format!("{} is empty", p.display())]);
    let p = f.put(TEST_IMAGES, &format!("{TEST_IMAGES}.gz"), b"");
    assert_refused(&f.evaluate(), &[&format!("{} is empty", p.display())]);
    let p = f.put(TEST_IMAGES, &format!("{TEST_IMAGES}.gz"), &gzip(b""));
    assert_refused(
        &f.evaluate(),
        &[&format!("{} is empty once decompressed", p.display())],
    );
}

#[test]
fn idx_directory_where_a_file_is_expected() {
    let f = Fixture::new();
    let _ = std::fs::remove_file(f.data().join(TEST_LABELS));
    let _ = std::fs::remove_file(f.data().join(format!("{TEST_LABELS}.gz")));
    let p = f.data().join(TEST_LABELS);
    std::fs::create_dir(&p).unwrap();
    assert_refused(
        &f.evaluate(),
        &[&format!(
            "{} is a directory, expected the file {TEST_LABELS}",
            p.display()
        )],
    );
}

// A device where a file is expected: named as such, not read forever nor called empty.
#[cfg(target_os = "linux")]
#[test]
fn idx_device_where_a_file_is_expected() {
    let f = Fixture::new();
    let _ = std::fs::remove_file(f.data().join(TEST_LABELS));
    let _ = std::fs::remove_file(f.data().join(format!("{TEST_LABELS}.gz")));
    let p = f.data().join(TEST_LABELS);
    std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
    assert_refused(
        &f.evaluate(),
        &[&format!(
            "{} is not a regular file (a device, pipe or socket), expected the file {TEST_LABELS}",
            p.display()
        )],
    );
}

#[test]
fn idx_missing_file_says_which_and_where() {
    let f = Fixture::new();
    let _ = std::fs::remove_file(f.data().join(format!("{TRAIN_LABELS}.gz")));
    std::fs::remove_file(f.data().join(TRAIN_LABELS)).unwrap();
    let plain = f.data().join(TRAIN_LABELS);
    let looked = format!("looked for {} and {}.gz", plain.display(), plain.display());
    // Through FLASHNET_DATA, and through --data.
    assert_refused(
        &f.train(&[]),
        &[
            &format!("FLASHNET_DATA={}", f.data().display()),
            "lacks train-labels-idx1-ubyte",
            &looked,
        ],
    );
    let data = f.data().display().to_string();
    let model = f.path("model.safetensors").display().to_string();
    let o = flashnet(
        f.dir.path(),
        &[
            "train",
            "--offline",
            "--epochs",
            "1",
            "--data",
            &data,
            "--out",
            "x",
            "--history",
            "y",
            "--plots",
            "z",
        ],
        None,
    );
    assert_refused(
        &o,
        &[
            &format!("--data {data}"),
            "lacks train-labels-idx1-ubyte",
            &looked,
        ],
    );
    // A data directory that does not exist.
    let o = flashnet(
        f.dir.path(),
        &[
            "evaluate",
            "--offline",
            "--data",
            "/nonexistent/flashnet-data",
            "--model",
            &model,
        ],
        None,
    );
    assert_refused(
        &o,
        &["--data /nonexistent/flashnet-data", "cannot open directory"],
    );
    // Nothing given and downloading disabled: says where the cache is.
    let o = flashnet(
        f.dir.path(),
        &["evaluate", "--offline", "--model", &model],
        None,
    );
    assert_refused(
        &o,
        &[
            "MNIST data not found",
            "no-cache",
            "downloading is disabled",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Model files

fn f32_tensors() -> Vec<(&'static str, Dtype, &'static [usize])> {
    TENSORS.iter().map(|&(n, s)| (n, Dtype::F32, s)).collect()
}

#[test]
fn model_not_safetensors_empty_or_truncated() {
    let f = Fixture::new();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "text.safetensors",
            b"definitely not a safetensors file".to_vec(),
            "not a valid safetensors file: bytes 0-7 claim a",
        ),
        (
            "empty.safetensors",
            Vec::new(),
            "not a valid safetensors file: 0 bytes, too short for the 8-byte header length",
        ),
        ("short.safetensors", vec![1, 2, 3], "3 bytes, too short"),
        (
            "png.safetensors",
            digit_png(),
            "not a valid safetensors file",
        ),
        (
            "cut-data.safetensors",
            model_file(0.5)[..300_000].to_vec(),
            "the tensors' data offsets do not end at the end of the file (300000 bytes): truncated",
        ),
        (
            "cut-header.safetensors",
            model_file(0.5)[..100].to_vec(),
            "header, but only 92 bytes follow",
        ),
        (
            "extra.safetensors",
            [model_file(0.5), b"trailing".to_vec()].concat(),
            "bytes left over",
        ),
        (
            "not-json.safetensors",
            [8u64.to_le_bytes().to_vec(), b"not json".to_vec()].concat(),
            "invalid JSON in header",
        ),
    ];
    for (name, bytes, needle) in cases {
        let p = f.file(name, &bytes);
        assert_refused(&f.evaluate_model(&p), &[&format!("model file {p}"), needle]);
    }
}

#[test]
fn model_header_claiming_more_than_the_file() {
    let f = Fixture::new();
    // 2^62 and 99,999,999 (just under the crate's 100 MB header limit) claimed, 2 bytes there.
    for claim in [1u64 << 62, 99_999_999, u64::MAX] {
        let p = f.file(
            "claim.safetensors",
            &[claim.to_le_bytes().as_slice(), b"{}"].concat(),
        );
        assert_refused(
            &f.evaluate_model(&p),
            &[
                &p,
                &format!("bytes 0-7 claim a {claim}-byte header, but only 2 bytes follow"),
            ],
        );
    }
    // A header whose tensor shapes claim far more data than the file has.
    let header = br#"{"dense/kernel":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 16]);
    let p = f.file("shape-claim.safetensors", &bytes);
    assert_refused(&f.evaluate_model(&p), &[&p, "not a valid safetensors file"]);
}

#[test]
fn model_tensors_missing_extra_or_with_wrong_shapes_or_dtypes() {
    let f = Fixture::new();
    let good = f32_tensors();
    let mut missing = good.clone();
    missing.remove(1);
    let mut extra = good.clone();
    extra.push(("dense_2/kernel", Dtype::F32, &[10, 10]));
    let mut shape = good.clone();
    shape[2].2 = &[10, 128];
    let mut f16 = good.clone();
    f16[0].1 = Dtype::F16;
    let mut f64_ = good.clone();
    f64_[3].1 = Dtype::F64;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "missing",
            safetensors_file(&missing, 0.0, &[]),
            "tensor `dense/bias` [128] is missing",
        ),
        (
            "extra",
            safetensors_file(&extra, 0.0, &[]),
            "unexpected tensor `dense_2/kernel`",
        ),
        (
            "shape",
            safetensors_file(&shape, 0.0, &[]),
            "tensor `dense_1/kernel` has shape [10, 128], expected [128, 10]",
        ),
        (
            "f16",
            safetensors_file(&f16, 0.0, &[]),
            "tensor `dense/kernel` has dtype F16, expected F32",
        ),
        (
            "f64",
            safetensors_file(&f64_, 0.0, &[]),
            "tensor `dense_1/bias` has dtype F64, expected F32",
        ),
        (
            "none",
            safetensors_file(&[], 0.0, &[]),
            "tensor `dense/kernel` [784, 128] is missing",
        ),
    ];
    for (name, bytes, needle) in cases {
        let p = f.file(&format!("{name}.safetensors"), &bytes);
        assert_refused(&f.evaluate_model(&p), &[&p, needle]);
    }
}

#[test]
fn model_architecture_this_build_cannot_load() {
    let f = Fixture::new();
    let arch = "Input(28x28) > Flatten(784) > Dense(64) > Relu(64) > Dense(10) > Softmax(10)";
    let bytes = safetensors_file(
        &f32_tensors(),
        0.0,
        &[("format", "flashnet"), ("architecture", arch)],
    );
    let p = f.file("arch.safetensors", &bytes);
    assert_refused(
        &f.evaluate_model(&p),
        &[
            &p,
            &format!(
                "architecture `{arch}` cannot be loaded by this build, which runs `Input(28x28)"
            ),
        ],
    );
    // Control characters from the file cannot break the message onto several lines.
    let bytes = safetensors_file(
        &f32_tensors(),
        0.0,
        &[("architecture", "Conv2D\n\x1b[31mred")],
    );
    let p = f.file("arch-newline.safetensors", &bytes);
    assert_refused(
        &f.evaluate_model(&p),
        &[&p, r"architecture `Conv2D\n\u{1b}[31mred`"],
    );
}

#[test]
fn model_nan_infinite_or_huge_weights() {
    let f = Fixture::new();
    // Where `dense/kernel`'s data starts in the file: after the 8-byte length, the JSON header
    // and the tensors stored before it.
    let kernel_start = |b: &[u8]| {
        let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
        8 + n + header["dense/kernel"]["data_offsets"][0].as_u64().unwrap() as usize
    };
    let finite = "weights must be finite".to_string();
    let bounded = |at: usize| {
        format!("(byte offset {at}): weights must be within ±1e6, larger ones overflow")
    };
    for (value, shown, huge) in [
        (f32::NAN, "NaN", false),
        (f32::INFINITY, "inf", false),
        (f32::NEG_INFINITY, "-inf", false),
        // Finite, but the logits overflow to inf and every probability comes out NaN: before
        // this check, `predict` printed digit 0 with p = NaN and exited 0.
        (3e38, "3e38", true),
        (-2e6, "-2e6", true),
    ] {
        let mut bytes = model_file(0.01);
        // Flat index 5 of dense/kernel.
        let at = kernel_start(&bytes) + 4 * 5;
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
        let p = f.file("w.safetensors", &bytes);
        let what = format!("tensor `dense/kernel` holds {shown} at flat index 5");
        let why = if huge { bounded(at) } else { finite.clone() };
        assert_refused(&f.evaluate_model(&p), &[&p, &what, &why]);
        let digit = f.path("digit.png").display().to_string();
        let o = f.run(&["predict", "--model", &p, &digit]);
        assert_refused(&o, &[&p, &what, &why]);
    }
    // The largest weight accepted still gives finite outputs for the brightest input.
    let p = f.file("max.safetensors", &model_file(1e6));
    let white = f.file(
        "white.png",
        &png(&GrayImage::from_pixel(28, 28, Luma([255]))),
    );
    let o = f.run(&["predict", "--json", "--model", &p, &white]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let probs = v["predictions"][0]["probabilities"].as_array().unwrap();
    assert!(
        probs.iter().all(|p| p.as_f64().is_some_and(f64::is_finite)),
        "{v}"
    );
}

#[test]
fn model_path_missing_or_a_directory() {
    let f = Fixture::new();
    let missing = f.path("nope.safetensors").display().to_string();
    assert_refused(
        &f.evaluate_model(&missing),
        &[&format!("cannot read model file {missing}"), "No such file"],
    );
    let dir = f.path("adir").display().to_string();
    std::fs::create_dir(&dir).unwrap();
    assert_refused(
        &f.evaluate_model(&dir),
        &[&format!("cannot read model file {dir}")],
    );
}

// ---------------------------------------------------------------------------------------------
// Images for `predict`

#[test]
fn image_wrong_size_colour_or_depth() {
    let f = Fixture::new();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "wide.png",
            png(&GrayImage::new(32, 28)),
            "the image is 32x28; expected 28x28 8-bit grayscale",
        ),
        (
            "big.png",
            png(&GrayImage::new(280, 280)),
            "the image is 280x280",
        ),
        (
            "rgb.png",
            png(&ImageBuffer::<Rgb<u8>, _>::new(28, 28)),
            "the image is Rgb8 (28x28)",
        ),
        (
            "alpha.png",
            png(&ImageBuffer::<LumaA<u8>, _>::new(28, 28)),
            "the image is La8 (28x28)",
        ),
        (
            "deep.png",
            png(&ImageBuffer::<Luma<u16>, _>::new(28, 28)),
            "the image is L16 (28x28)",
        ),
        (
            "rgb.ppm",
            [b"P6\n28 28\n255\n".as_slice(), &[0; 28 * 28 * 3]].concat(),
            "a netpbm image of kind P6, not a PGM (P2/P5)",
        ),
        (
            "deep.pgm",
            [b"P5\n28 28\n65535\n".as_slice(), &[0; 28 * 28 * 2]].concat(),
            "the maximum value is 65535; expected 1 to 255",
        ),
        (
            "small.pgm",
            [b"P5\n27 28\n255\n".as_slice(), &[0; 27 * 28]].concat(),
            "the image is 27x28",
        ),
    ];
    for (name, bytes, needle) in cases {
        let p = f.file(name, &bytes);
        assert_refused(&f.predict(&p), &[&format!("image {p}"), needle]);
    }
}

#[test]
fn image_corrupt_empty_or_not_an_image() {
    let f = Fixture::new();
    let good = digit_png();
    let mut bad_crc = good.clone();
    bad_crc[30] ^= 0xff; // IHDR's CRC
    let mut bad_data = good.clone();
    let n = bad_data.len();
    bad_data[n - 20] ^= 0xff; // inside IDAT
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.png", Vec::new(), "the file is empty"),
        ("cut.png", good[..good.len() / 2].to_vec(), "cannot decode"),
        (
            "header-only.png",
            good[..20].to_vec(),
            "cannot read the image header",
        ),
        ("crc.png", bad_crc, "cannot read the image header"),
        ("data.png", bad_data, "cannot decode"),
        (
            "text.png",
            b"hello, not an image".to_vec(),
            "not a PNG or PGM file",
        ),
        (
            "jpeg.png",
            vec![0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F', 0],
            "Jpeg images are not accepted",
        ),
        (
            "cut.pgm",
            b"P5\n28 28\n255\n\x01\x02".to_vec(),
            "truncated: 2 of 784 pixel bytes",
        ),
        (
            "clamped.pgm",
            [b"P5\n28 28\n100\n".as_slice(), &[200; 784]].concat(),
            "pixel 0 is 200, above the maximum value 100",
        ),
        (
            "trailing.pgm",
            [b"P5\n28 28\n255\n".as_slice(), &[0; 790]].concat(),
            "6 bytes after the 784 pixels",
        ),
        (
            "garbage.pgm",
            b"P5\nxx yy\n255\n".to_vec(),
            "expected the width at byte 3",
        ),
    ];
    for (name, bytes, needle) in cases {
        let p = f.file(name, &bytes);
        assert_refused(&f.predict(&p), &[&format!("image {p}"), needle]);
    }
    let missing = f.path("missing.png").display().to_string();
    assert_refused(
        &f.predict(&missing),
        &[&format!("cannot read image {missing}")],
    );
    let dir = f.path("adir").display().to_string();
    std::fs::create_dir(&dir).unwrap();
    assert_refused(&f.predict(&dir), &[&format!("cannot read image {dir}")]);
}

#[test]
fn image_headers_claiming_huge_sizes() {
    // Refused from the header, before any pixel buffer: the old decoder allocated up to 16 MB
    // for a 4096×4096 claim and failed only then.
    let f = Fixture::new();
    let big_png = {
        let mut b = png(&GrayImage::new(28, 28));
        // IHDR width and height (bytes 16-23) set to 60000, CRC fixed up.
        b[16..20].copy_from_slice(&60000u32.to_be_bytes());
        b[20..24].copy_from_slice(&60000u32.to_be_bytes());
        let crc = crc32(&b[12..29]);
        b[29..33].copy_from_slice(&crc.to_be_bytes());
        b
    };
    let p = f.file("huge.png", &big_png);
    assert_refused(&f.predict(&p), &[&p, "the image is 60000x60000"]);
    let p = f.file("huge.pgm", b"P5\n100000 100000\n255\n\x00\x00");
    assert_refused(&f.predict(&p), &[&p, "the image is 100000x100000"]);
}

/// CRC-32 (PNG's), bitwise.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn image_good_one_is_accepted() {
    // The control for the cases above: the fixture's model and image work.
    let f = Fixture::new();
    let p = f.path("digit.png").display().to_string();
    let o = f.predict(&p);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

// ---------------------------------------------------------------------------------------------
// Arguments

#[test]
fn bad_arguments() {
    let f = Fixture::new();
    let model = f.path("model.safetensors").display().to_string();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["train", "--batch-size", "0"],
            &["--batch-size", "0 is outside 1..=256"],
        ),
        (
            &["train", "--batch-size", "257"],
            &["--batch-size", "257 is outside 1..=256"],
        ),
        (
            &["train", "--batch-size", "-3"],
            &["unexpected argument '-3'"],
        ),
        (
            &["train", "--batch-size", "99999999999999999999999"],
            &["--batch-size", "not a whole number"],
        ),
        (&["train", "--epochs", "0"], &["--epochs", "0"]),
        (&["train", "--epochs", "-1"], &["unexpected argument '-1'"]),
        (&["train", "--epochs", "1001"], &["--epochs", "1001"]),
        (
            &["train", "--learning-rate", "-0.001"],
            &["--learning-rate", "must be a finite number above 0"],
        ),
        (
            &["train", "--learning-rate", "0"],
            &["--learning-rate", "above 0"],
        ),
        (
            &["train", "--learning-rate", "NaN"],
            &["--learning-rate", "above 0"],
        ),
        (
            &["train", "--learning-rate", "inf"],
            &["--learning-rate", "above 0"],
        ),
        (
            &["train", "--learning-rate", "fast"],
            &["--learning-rate", "not a number"],
        ),
        (
            &["train", "--validation-split", "1"],
            &["--validation-split", "must be in [0, 1)"],
        ),
        (
            &["train", "--validation-split", "1.5"],
            &["--validation-split", "[0, 1)"],
        ),
        (
            &["train", "--validation-split", "-0.1"],
            &["--validation-split", "[0, 1)"],
        ),
        (
            &["train", "--validation-split", "NaN"],
            &["--validation-split", "[0, 1)"],
        ),
        (&["train", "--dropout", "1"], &["--dropout", "[0, 1)"]),
        (&["train", "--seed", "-1"], &["unexpected argument '-1'"]),
        (&["frobnicate"], &["unrecognized subcommand 'frobnicate'"]),
        (
            &["train", "--frobnicate"],
            &["unexpected argument '--frobnicate'"],
        ),
        (&["predict", "--model", "m"], &["required"]),
        (
            &["predict", "--model", "m", "--index", "-1"],
            &["unexpected argument '-1'"],
        ),
        (&[], &[]),
    ];
    for (args, needles) in cases {
        let o = flashnet(f.dir.path(), args, Some(&f.data()));
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if !args.is_empty() {
            assert_refused(&o, needles);
        }
    }
    // Checked after parsing: an index past the test set, a split that leaves nothing.
    let o = f.run(&["predict", "--offline", "--model", &model, "--index", "50"]);
    assert_refused(
        &o,
        &["--index 50 is out of range: the test set has 50 images"],
    );
    let o = f.run(&[
        "predict",
        "--offline",
        "--model",
        &model,
        "--index",
        "18446744073709551615",
    ]);
    assert_refused(&o, &["out of range"]);
    let o = f.train(&["--validation-split", "0.999"]);
    assert_refused(
        &o,
        &["--validation-split 0.999 leaves 0 of 200 samples for training"],
    );
}
