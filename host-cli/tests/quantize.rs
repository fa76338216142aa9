//! `flashnet quantize` end to end on small synthetic MNIST-format data: train, quantize,
//! evaluate and predict with the int8 model, and refuse broken int8 files cleanly.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// A learnable synthetic "MNIST": digit d is a bright square at a d-dependent spot plus noise.
fn write_dataset(dir: &Path, train: usize, test: usize) {
    let mut seed = 777u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut write = |n: usize, images: &str, labels: &str| {
        let mut img = vec![0, 0, 8, 3];
        for d in [n as u32, 28, 28] {
            img.extend(d.to_be_bytes());
        }
        let mut lab = vec![0, 0, 8, 1];
        lab.extend((n as u32).to_be_bytes());
        for i in 0..n {
            let d = i % 10;
            let (r0, c0) = (2 + (d / 5) * 12, 2 + (d % 5) * 5);
            let mut px = [0u8; 784];
            for r in r0..r0 + 6 {
                for c in c0..c0 + 6 {
                    px[r * 28 + c] = 200 + (next() % 56) as u8;
                }
            }
            for _ in 0..20 {
                px[(next() % 784) as usize] = (next() % 256) as u8;
            }
            img.extend_from_slice(&px);
            lab.push(d as u8);
        }
        std::fs::write(dir.join(images), img).unwrap();
        std::fs::write(dir.join(labels), lab).unwrap();
    };
    write(train, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
    write(test, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
}

fn flashnet(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flashnet"))
        .args(args)
        .env("FLASHNET_DATA", data)
        .env("FLASHNET_CACHE", "/nonexistent/flashnet-test-cache")
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "failed: {s}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(s.trim().lines().count(), 1, "one JSON line: {s}");
    serde_json::from_str(s.trim()).unwrap()
}

fn assert_fails(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
}

#[test]
fn quantize_evaluate_predict_and_refuse_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_dataset(&data, 600, 100);
    let p = |n: &str| dir.path().join(n).display().to_string();
    let (f32_model, q1, q2) = (p("m.safetensors"), p("q1.safetensors"), p("q2.safetensors"));
    json(&flashnet(
        &[
            "train",
            "--epochs",
            "2",
            "--json",
            "--out",
            &f32_model,
            "--history",
            &p("h.json"),
            "--plots",
            &p("plots"),
        ],
        &data,
    ));

    // Quantize twice: same bytes; int8 accuracy close to f32.
    let q = json(&flashnet(
        &[
            "quantize",
            "--model",
            &f32_model,
            "--out",
            &q1,
            "--calibration",
            "64",
            "--json",
        ],
        &data,
    ));
    assert_eq!(q["calibration_images"], 64);
    let (fa, qa) = (
        q["f32_test_accuracy"].as_f64().unwrap(),
        q["int8_test_accuracy"].as_f64().unwrap(),
    );
    assert!(fa > 0.9 && qa >= fa - 0.03, "f32 {fa}, int8 {qa}");
    assert_eq!(q["hidden"]["zero_point"], -128);
    json(&flashnet(
        &[
            "quantize",
            "--model",
            &f32_model,
            "--out",
            &q2,
            "--calibration",
            "64",
            "--json",
        ],
        &data,
    ));
    assert_eq!(std::fs::read(&q1).unwrap(), std::fs::read(&q2).unwrap());

    // Evaluate: the same keys as an f32 model, and the int8 numbers.
    let e = json(&flashnet(&["evaluate", "--model", &q1, "--json"], &data));
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    let f = json(&flashnet(
        &["evaluate", "--model", &f32_model, "--json"],
        &data,
    ));
    assert_eq!(keys, f.as_object().unwrap().keys().collect::<Vec<_>>());
    assert_eq!(e["test_accuracy"].as_f64().unwrap(), qa);
    assert_eq!(e["samples"], 100);
    let l = json(&flashnet(
        &[
            "evaluate",
            "--model",
            &q1,
            "--json",
            "--limit",
            "7",
            "--outputs",
        ],
        &data,
    ));
    assert_eq!(l["samples"], 7);
    assert_eq!(l["predictions"].as_array().unwrap().len(), 7);
    assert_eq!(l["output_checksum"].as_str().unwrap().len(), 8);
    let fl = json(&flashnet(
        &[
            "evaluate",
            "--model",
            &f32_model,
            "--json",
            "--limit",
            "7",
            "--outputs",
        ],
        &data,
    ));
    assert_eq!(fl["predictions"].as_array().unwrap().len(), 7);
    assert!(fl.get("output_checksum").is_none());

    // Predict: dequantized logits, probabilities from them, the int8 logits too.
    let pr = json(&flashnet(
        &["predict", "--model", &q1, "--index", "3", "--json"],
        &data,
    ));
    let r = &pr["predictions"][0];
    assert_eq!(r["label"], 3);
    let probs: Vec<f64> = r["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    let int8: Vec<i64> = r["int8_logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(int8.len(), 10);
    let best = (0..10).fold(0, |b, i| if int8[i] > int8[b] { i } else { b });
    assert_eq!(r["prediction"], best);

    // Broken int8 files: one clear line, never a panic.
    let bytes = std::fs::read(&q1).unwrap();
    let broken = p("broken.safetensors");
    std::fs::write(&broken, &bytes[..bytes.len() - 100]).unwrap();
    for cmd in [
        vec!["evaluate", "--model", &broken],
        vec!["predict", "--model", &broken, "--index", "0"],
    ] {
        assert_fails(&flashnet(&cmd, &data), "broken.safetensors");
    }
    // A corrupted zero point (the header is JSON; flip the int8 metadata's tensors instead).
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let off = header["dense_1/output_zero_point"]["data_offsets"][0]
        .as_u64()
        .unwrap() as usize;
    let mut bad = bytes.clone();
    bad[8 + n + off..8 + n + off + 4].copy_from_slice(&1000i32.to_le_bytes());
    std::fs::write(&broken, &bad).unwrap();
    assert_fails(
        &flashnet(&["evaluate", "--model", &broken], &data),
        "an int8 zero point must be in -128..=127",
    );
    // A tiny (allowed) output scale: the dequantized logits differ by ~1e-20, their softmax is
    // flat, and the digit is still the integer logits' argmax, as `evaluate` takes it.
    let off = header["dense_1/output_scale"]["data_offsets"][0]
        .as_u64()
        .unwrap() as usize;
    let mut tiny = bytes.clone();
    tiny[8 + n + off..8 + n + off + 4].copy_from_slice(&1e-20f32.to_le_bytes());
    std::fs::write(&broken, &tiny).unwrap();
    let ev = json(&flashnet(
        &[
            "evaluate",
            "--model",
            &broken,
            "--limit",
            "10",
            "--outputs",
            "--json",
        ],
        &data,
    ));
    for i in 0..10 {
        let pr = json(&flashnet(
            &[
                "predict",
                "--model",
                &broken,
                "--index",
                &i.to_string(),
                "--json",
            ],
            &data,
        ));
        assert_eq!(
            pr["predictions"][0]["prediction"], ev["predictions"][i],
            "image {i}"
        );
    }
    assert_fails(
        &flashnet(&["quantize", "--model", &q1, "--out", &p("x")], &data),
        "already quantized",
    );
    assert_fails(
        &flashnet(
            &[
                "quantize",
                "--model",
                &f32_model,
                "--out",
                &p("x"),
                "--calibration",
                "601",
            ],
            &data,
        ),
        "more than the 600 training images",
    );
}
