//! End-to-end tests of the `flashnet` binary on small synthetic MNIST-format data.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{idx_labels, json_line, write_dataset};
use serde_json::Value;

/// Runs `flashnet args` (in a temporary directory) with `FLASHNET_DATA` set to `data` or unset.
fn flashnet(args: &[&str], data: Option<&Path>) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    common::flashnet(cwd.path(), args, data)
}

/// A refusal whose one `error:` line contains `needle` (see [`common::assert_refused`]).
#[track_caller]
fn assert_fails(o: &Output, needle: &str) {
    common::assert_refused(o, &[needle]);
}

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        write_dataset(&dir.path().join("data"), 600, 100);
        Run { dir }
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    fn train(&self, tag: &str, extra: &[&str]) -> Value {
        let (out, hist, plots) = (
            self.path(&format!("{tag}.safetensors")),
            self.path(&format!("{tag}.json")),
            self.path(tag),
        );
        let mut args = vec![
            "train",
            "--epochs",
            "3",
            "--json",
            "--out",
            &out,
            "--history",
            &hist,
            "--plots",
            &plots,
        ];
        args.extend_from_slice(extra);
        json_line(&flashnet(&args, Some(&self.data())))
    }
}

#[test]
fn train_evaluate_predict_round_trip() {
    let run = Run::new();
    let res = run.train("m", &["--seed", "7"]);
    let acc = res["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "synthetic data is easy, got {acc}");
    for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        assert_eq!(res[key].as_array().unwrap().len(), 3, "{key}");
    }
    let hist: Value = serde_json::from_slice(&std::fs::read(run.path("m.json")).unwrap()).unwrap();
    assert_eq!(hist["accuracy"], res["accuracy"]);
    for p in ["accuracy.png", "loss.png", "confusion.png"] {
        let bytes = std::fs::read(run.dir.path().join("m").join(p)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{p}");
    }

    // The saved model evaluates to exactly what training reported.
    let model = run.path("m.safetensors");
    let ev = json_line(&flashnet(
        &["evaluate", "--model", &model, "--json"],
        Some(&run.data()),
    ));
    assert_eq!(ev["test_accuracy"], res["test_accuracy"]);
    assert_eq!(ev["test_loss"], res["test_loss"]);
    assert_eq!(ev["confusion_matrix"], res["confusion_matrix"]);

    let pr = json_line(&flashnet(
        &["predict", "--model", &model, "--index", "3", "--json"],
        Some(&run.data()),
    ));
    let p = &pr["predictions"][0];
    assert_eq!(p["label"], 3);
    let probs: Vec<f64> = p["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    assert_eq!(p["logits"].as_array().unwrap().len(), 10);
}

#[test]
fn same_seed_same_bytes_other_seed_other_model() {
    let run = Run::new();
    run.train("a", &["--seed", "5", "--epochs", "1", "--threads", "1"]);
    run.train("b", &["--seed", "5", "--epochs", "1", "--threads", "2"]);
    run.train("c", &["--seed", "6", "--epochs", "1"]);
    let read = |n: &str| std::fs::read(run.path(n)).unwrap();
    assert!(
        read("a.safetensors") == read("b.safetensors"),
        "same seed, different model files (1 and 2 threads)"
    );
    assert!(
        read("a.safetensors") != read("c.safetensors"),
        "different seeds, same model file"
    );
}

#[test]
fn validation_split_and_odd_batch_sizes() {
    let run = Run::new();
    // 600 samples, last 10% held out: 540 train in batches of 7 (the last one has 1 sample).
    let res = run.train(
        "v",
        &[
            "--validation-split",
            "0.1",
            "--batch-size",
            "7",
            "--epochs",
            "1",
        ],
    );
    assert_eq!(res["validation_data"], "last 60 training samples");
    assert_eq!(res["val_accuracy"].as_array().unwrap().len(), 1);
}

#[test]
fn summary_is_keras_shaped() {
    let o = flashnet(&["summary"], None);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("Total params: 101,770"), "{s}");
    let j = json_line(&flashnet(&["summary", "--json"], None));
    assert_eq!(j["total_params"], 101_770);
}

#[test]
fn bad_arguments_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (&["train", "--batch-size", "0"], "--batch-size"),
        (&["train", "--batch-size", "100000"], "at most 256"),
        (&["train", "--epochs", "0"], "--epochs"),
        (&["train", "--learning-rate", "-1"], "above 0"),
        (&["train", "--learning-rate", "NaN"], "above 0"),
        (&["train", "--validation-split", "1.5"], "[0, 1)"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        assert_fails(&flashnet(args, None), needle);
    }
}

#[test]
fn missing_and_broken_data_is_named() {
    let run = Run::new();
    let data = run.data();
    std::fs::remove_file(data.join("t10k-images-idx3-ubyte")).unwrap();
    assert_fails(
        &flashnet(&["train", "--offline"], Some(&data)),
        "t10k-images-idx3-ubyte",
    );
    assert_fails(
        &flashnet(&["train", "--data", "/nonexistent-dir"], None),
        "/nonexistent-dir",
    );

    // A label outside 0-9.
    let run = Run::new();
    let mut labels = idx_labels(&[1, 2, 3]);
    labels[9] = 12;
    std::fs::write(run.data().join("t10k-labels-idx1-ubyte.gz"), b"").unwrap();
    std::fs::remove_file(run.data().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    std::fs::write(run.data().join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    assert_fails(
        &flashnet(&["train"], Some(&run.data())),
        "label 12 at index 1",
    );

    // Truncated images.
    let run = Run::new();
    let p = run.data().join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
    assert_fails(&flashnet(&["train"], Some(&run.data())), "truncated");
}

fn tensor_file(tensors: &[(&str, Vec<usize>)], meta: Option<(&str, &str)>) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, s)| vec![0u8; s.iter().product::<usize>() * 4])
        .collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&data)
        .map(|((n, s), d)| (*n, TensorView::new(Dtype::F32, s.clone(), d).unwrap()))
        .collect();
    let meta = meta.map(|(k, v)| [(k.to_string(), v.to_string())].into_iter().collect());
    safetensors::serialize(views, meta).unwrap()
}

#[test]
fn keras_exports_load_and_bad_models_are_refused() {
    let run = Run::new();
    let good = [
        ("dense/kernel", vec![784, 128]),
        ("dense/bias", vec![128]),
        ("dense_1/kernel", vec![128, 10]),
        ("dense_1/bias", vec![10]),
    ];
    // What Python's `safetensors.numpy.save_file` writes from Keras weights: no metadata.
    let keras = run.path("keras.safetensors");
    std::fs::write(&keras, tensor_file(&good, None)).unwrap();
    let ev = json_line(&flashnet(
        &["evaluate", "--model", &keras, "--json"],
        Some(&run.data()),
    ));
    assert_eq!(ev["samples"], 100);

    let mut wrong_shape = good.clone();
    wrong_shape[2].1 = vec![10, 128];
    let mut missing = good.to_vec();
    missing.pop();
    let mut extra = good.to_vec();
    extra.push(("dense_2/kernel", vec![10, 10]));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            tensor_file(&wrong_shape, None),
            "`dense_1/kernel` has shape [10, 128], expected [128, 10]",
        ),
        (
            tensor_file(&missing, None),
            "`dense_1/bias` [10] is missing",
        ),
        (
            tensor_file(&extra, None),
            "unexpected tensor `dense_2/kernel`",
        ),
        (
            tensor_file(&good, Some(("architecture", "Conv2D(3x3)"))),
            "cannot be loaded by this build",
        ),
        (
            b"definitely not safetensors".to_vec(),
            "not a valid safetensors file",
        ),
        (
            tensor_file(&good, None)[..1000].to_vec(),
            "not a valid safetensors file",
        ),
    ];
    for (i, (bytes, needle)) in cases.iter().enumerate() {
        let p = run.path(&format!("bad{i}.safetensors"));
        std::fs::write(&p, bytes).unwrap();
        assert_fails(
            &flashnet(&["evaluate", "--model", &p], Some(&run.data())),
            needle,
        );
    }
    assert_fails(
        &flashnet(
            &["evaluate", "--model", &run.path("nope.safetensors")],
            Some(&run.data()),
        ),
        "nope.safetensors",
    );
}

#[test]
fn ctrl_c_checkpoints_and_resume_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Big enough that training is still running when the signal arrives: 8 epochs of 1,250
    // steps take well over a second here, the signal comes 50 ms into the first.
    write_dataset(&data, 20_000, 100);
    let p = |n: &str| dir.path().join(n).display().to_string();
    let common = [
        "train",
        "--epochs",
        "8",
        "--batch-size",
        "16",
        "--seed",
        "3",
        "--offline",
    ];
    let args = |tag: &str, extra: &[String]| -> Vec<String> {
        let mut a: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        for (k, v) in [
            ("--out", p(&format!("{tag}.safetensors"))),
            ("--history", p(&format!("{tag}.json"))),
            ("--plots", p(tag)),
        ] {
            a.push(k.into());
            a.push(v);
        }
        a.extend_from_slice(extra);
        a
    };
    let run_ok = |a: &[String]| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = flashnet(&a, Some(&data));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run_ok(&args("straight", &[]));

    // Interrupt the same run during its first epoch.
    let ckpt = p("ckpt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flashnet"))
        .args(args("resumed", &["--checkpoint".into(), ckpt.clone()]))
        .env("FLASHNET_DATA", &data)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.starts_with("Epoch 1/") {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let ok = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
        line.clear();
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("--resume"), "{seen}");
    assert!(
        std::path::Path::new(&ckpt)
            .join("checkpoint.safetensors")
            .exists(),
        "{seen}"
    );

    // Resume: same options, then the model must be byte for byte the uninterrupted one.
    run_ok(&args(
        "resumed",
        &[
            "--resume".into(),
            ckpt.clone(),
            "--threads".into(),
            "1".into(),
        ],
    ));
    let read = |n: &str| std::fs::read(p(n)).unwrap();
    assert!(
        read("straight.safetensors") == read("resumed.safetensors"),
        "resumed model differs"
    );
    let h = |n: &str| -> Value { serde_json::from_slice(&read(n)).unwrap() };
    assert_eq!(
        h("straight.json")["val_accuracy"],
        h("resumed.json")["val_accuracy"]
    );

    // Resuming with other settings is refused.
    let mut bad = args("bad", &["--resume".into(), ckpt.clone()]);
    bad[4] = "32".into();
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    assert_fails(
        &flashnet(&bad, Some(&data)),
        "--batch-size 16 in the checkpoint, 32 now",
    );

    // A checkpoint whose position, totals or Adam state cannot be is refused.
    let file = std::path::Path::new(&ckpt).join("checkpoint.safetensors");
    let good = std::fs::read(&file).unwrap();
    let cases: [(&Tamper, &str); 5] = [
        (
            &|s, _, _| s["steps_done"] = 10_000.into(),
            "steps into an epoch of",
        ),
        (
            // Three steps done, one sample short of their three full batches.
            &|s, _, _| {
                let batch = s["settings"]["batch_size"].as_u64().unwrap();
                s["steps_done"] = 3.into();
                s["count"] = (3 * batch - 1).into();
                s["correct"] = 0.into();
            },
            "inconsistent running totals",
        ),
        (
            &|s, _, _| s["adam_iterations"] = 0.into(),
            "Adam has taken 0 steps, but the position is",
        ),
        (
            &|s, _, _| s["correct"] = (s["count"].as_u64().unwrap() + 1).into(),
            "inconsistent running totals",
        ),
        (
            &|_, data, at| data[at..at + 4].copy_from_slice(&(-1.0f32).to_le_bytes()),
            "Adam's second moment holds -1",
        ),
    ];
    for (tamper, needle) in cases {
        std::fs::write(&file, tampered(&good, tamper)).unwrap();
        let resume = args("tampered", &["--resume".into(), ckpt.clone()]);
        let resume: Vec<&str> = resume.iter().map(String::as_str).collect();
        assert_fails(&flashnet(&resume, Some(&data)), needle);
    }
}

#[test]
fn divergence_after_a_resume_names_the_checkpoint_it_keeps() {
    let run = Run::new();
    let ckpt = run.path("ckpt");
    let out = run.path("d.safetensors");
    run.train("first", &["--epochs", "1", "--checkpoint", &ckpt]);
    // Adam's first moment of the first kernel set to -3e38 (finite, so the resume accepts it):
    // the first resumed step sends those weights to +inf, and the next step's loss is NaN.
    let file = std::path::Path::new(&ckpt).join("checkpoint.safetensors");
    let mut bad = std::fs::read(&file).unwrap();
    let (_, m) = tensor_bytes(&bad, "adam/m/dense/kernel");
    for w in bad[m].chunks_exact_mut(4) {
        w.copy_from_slice(&(-3e38f32).to_le_bytes());
    }
    std::fs::write(&file, &bad).unwrap();
    let o = flashnet(
        &["train", "--epochs", "2", "--resume", &ckpt, "--out", &out],
        Some(&run.data()),
    );
    assert_fails(&o, "the loss became");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("at epoch 2, step 2 of "), "{err}");
    let kept = format!("the last good checkpoint, {}, is kept", file.display());
    assert!(err.contains(&kept), "{err}");
    assert!(
        std::fs::read(&file).unwrap() == bad,
        "the checkpoint resumed from changed"
    );
    assert!(
        !std::path::Path::new(&out).exists(),
        "no model is written from a diverged run"
    );
}

/// The header of a safetensors file, and where tensor `name`'s bytes lie in the file.
fn tensor_bytes(file: &[u8], name: &str) -> (Value, std::ops::Range<usize>) {
    let (header, data) = safetensors_header(file);
    let [from, to] =
        [0, 1].map(|k| data + header[name]["data_offsets"][k].as_u64().unwrap() as usize);
    (header, from..to)
}

/// A safetensors file's JSON header, and the offset in the file where its data starts.
fn safetensors_header(file: &[u8]) -> (Value, usize) {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&file[8..8 + n]).unwrap(), 8 + n)
}

/// Edits a checkpoint's training state (JSON) and data bytes, given the data offset of
/// `adam/v/dense/kernel`.
type Tamper = dyn Fn(&mut Value, &mut Vec<u8>, usize);

/// `bytes` (a checkpoint) with its training state and data passed through `f`, which also gets
/// the data offset of `adam/v/dense/kernel`.
fn tampered(bytes: &[u8], f: &Tamper) -> Vec<u8> {
    let (mut header, data_start) = safetensors_header(bytes);
    let at = header["adam/v/dense/kernel"]["data_offsets"][0]
        .as_u64()
        .unwrap() as usize;
    let mut data = bytes[data_start..].to_vec();
    let mut state: Value =
        serde_json::from_str(header["__metadata__"]["state"].as_str().unwrap()).unwrap();
    f(&mut state, &mut data, at);
    header["__metadata__"]["state"] = state.to_string().into();
    let mut text = header.to_string().into_bytes();
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(data);
    out
}

#[test]
fn divergence_stops_with_the_epoch_and_step_and_keeps_the_checkpoint() {
    let run = Run::new();
    let ckpt = run.path("ckpt");
    let out = run.path("d.safetensors");
    // Another run's checkpoint in the same place: not this run's, so not "kept".
    run.train("other", &["--epochs", "1", "--checkpoint", &ckpt]);
    let other = std::fs::read(std::path::Path::new(&ckpt).join("checkpoint.safetensors")).unwrap();
    let o = flashnet(
        &[
            "train",
            "--epochs",
            "2",
            "--learning-rate",
            "1e38",
            "--checkpoint",
            &ckpt,
            "--out",
            &out,
        ],
        Some(&run.data()),
    );
    assert_fails(&o, "the loss became");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("at epoch 1, step "), "{err}");
    assert!(err.contains("no checkpoint had been written yet"), "{err}");
    let after = std::fs::read(std::path::Path::new(&ckpt).join("checkpoint.safetensors")).unwrap();
    assert!(other == after, "the other run's checkpoint changed");
    assert!(
        !std::path::Path::new(&out).exists(),
        "no model is written from a diverged run"
    );
}
