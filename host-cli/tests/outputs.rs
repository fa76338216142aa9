//! Output files through the real `flashnet` binary: a run whose outputs collide with each other
//! or with its inputs (model, images, the MNIST files), or cannot be written, is refused before
//! any work and leaves every file as it was; paths that are not UTF-8 are reported in `--json`,
//! not a panic; a closed stdout or a full stderr is an error or ignored, never a panic.

mod common;

use std::path::Path;

use common::*;

/// A temp dir with synthetic data in `data/`, a model and a digit image.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(&dir.path().join("data"), 200, 50);
    std::fs::write(dir.path().join("model.safetensors"), model_file(0.01)).unwrap();
    std::fs::write(dir.path().join("digit.png"), digit_png()).unwrap();
    dir
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn colliding_or_unwritable_outputs_are_refused_before_any_work() {
    let dir = fixture();
    let d = dir.path();
    std::fs::write(d.join("plots-file"), b"not a directory").unwrap();
    std::fs::create_dir(d.join("a-dir")).unwrap();
    let data = d.join("data");
    fn train<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["train", "--epochs", "1", "--offline"];
        args.extend_from_slice(extra);
        args
    }
    let mut cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            train(&["--out", "x.st", "--history", "x.st"]),
            &["--history x.st and --out x.st are the same file"],
        ),
        (
            train(&["--out", "p/loss.png", "--plots", "p"]),
            &["--plots p/loss.png and --out p/loss.png are the same file"],
        ),
        (
            train(&["--out", "m.st", "--plots", "plots-file"]),
            &[
                "--plots plots-file/accuracy.png",
                "plots-file is not a directory",
            ],
        ),
        (train(&["--out", "a-dir"]), &["--out a-dir is a directory"]),
        (
            vec![
                "predict",
                "--model",
                "model.safetensors",
                "--index",
                "0",
                "--plot",
                "model.safetensors",
            ],
            &["--plot model.safetensors would overwrite the --model file"],
        ),
        (
            vec![
                "predict",
                "--model",
                "model.safetensors",
                "digit.png",
                "--plot",
                "./digit.png",
            ],
            &["--plot ./digit.png would overwrite the image file digit.png"],
        ),
        (
            vec![
                "quantize",
                "--model",
                "model.safetensors",
                "--out",
                "model.safetensors",
            ],
            &["--out model.safetensors would overwrite the --model file"],
        ),
    ];
    // The MNIST files themselves, plain or gzipped, by any path (found once the data is).
    cases.extend([
        (
            train(&["--out", "data/t10k-images-idx3-ubyte"]),
            &["--out data/t10k-images-idx3-ubyte is where MNIST is read from"][..],
        ),
        // Only the .gz is there: a file under the plain name would be read instead.
        (
            train(&["--out", "data/t10k-labels-idx1-ubyte"]),
            &["--out data/t10k-labels-idx1-ubyte is where MNIST is read from"],
        ),
        (
            train(&["--history", "./data/../data/t10k-labels-idx1-ubyte.gz"]),
            &["--history ./data/../data/t10k-labels-idx1-ubyte.gz is where MNIST is read from"],
        ),
        (
            vec![
                "predict",
                "--model",
                "model.safetensors",
                "--index",
                "0",
                "--plot",
                "data/train-labels-idx1-ubyte",
            ],
            &["--plot data/train-labels-idx1-ubyte is where MNIST is read from"],
        ),
        (
            vec![
                "quantize",
                "--offline",
                "--model",
                "model.safetensors",
                "--out",
                "data/train-images-idx3-ubyte.gz",
            ],
            &["--out data/train-images-idx3-ubyte.gz is where MNIST is read from"],
        ),
    ]);
    // Not even root may create files in Linux's /proc.
    #[cfg(target_os = "linux")]
    cases.push((
        train(&["--out", "/proc/flashnet-test/m.st"]),
        &["cannot create files in /proc"],
    ));
    let before = snapshot(d);
    for (args, needles) in cases {
        let o = flashnet(d, &args, Some(&data));
        let line = assert_refused(&o, needles);
        // Refused up front: no summary, no training, no progress printed before the error.
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("Epoch"), "{args:?} trained first: {line}");
        assert_eq!(snapshot(d), before, "{args:?} changed a file");
    }
}

// Linux file systems take any bytes in a name; macOS's refuse what is not UTF-8.
#[cfg(target_os = "linux")]
#[test]
fn paths_that_are_not_utf8_are_reported_lossily_in_json() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = fixture();
    let d = dir.path();
    let name = OsStr::from_bytes(b"m\xff.safetensors");
    std::fs::copy(d.join("model.safetensors"), d.join(name)).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_flashnet"))
        .args([
            OsStr::new("evaluate"),
            OsStr::new("--json"),
            OsStr::new("--model"),
            name,
        ])
        .current_dir(d)
        .env("FLASHNET_DATA", d.join("data"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["model"], "m\u{fffd}.safetensors");
}

/// `flashnet train … | head -1` once `head` has gone, or with stderr on a full disk: the
/// trained model is written either way; a result that cannot be printed is an error naming
/// stdout (exit 1), lost progress lines are ignored, and nothing panics (exit 101).
#[cfg(target_os = "linux")]
#[test]
fn a_closed_stdout_or_a_full_stderr_never_panics_or_loses_the_model() {
    use std::process::{Command, Stdio};
    let dir = fixture();
    let d = dir.path();
    let run = |out: &str, stdout: Stdio, stderr: Stdio| {
        let o = Command::new(env!("CARGO_BIN_EXE_flashnet"))
            .args(["train", "--epochs", "1", "--offline", "--out", out])
            .current_dir(d)
            .env("FLASHNET_DATA", d.join("data"))
            .stdout(stdout)
            .stderr(stderr)
            .output()
            .unwrap();
        assert!(d.join(out).is_file(), "{out} not written");
        o
    };

    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = run("a.safetensors", writer.into(), Stdio::piped());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: writing the result to stdout: Broken pipe"),
        "{err}"
    );

    // predict: every plot is written before the failed print is reported.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_flashnet"))
        .args(["predict", "--offline", "--model", "model.safetensors"])
        .args(["--index", "0", "--plot", "p.png"])
        .current_dir(d)
        .env("FLASHNET_DATA", d.join("data"))
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("error: writing the result to stdout"), "{err}");
    assert!(d.join("p.png").is_file(), "{err}");

    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = run("b.safetensors", Stdio::piped(), full.into());
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("test_accuracy: "), "{out}");
}
