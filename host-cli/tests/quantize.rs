//! `flashnet quantize` end to end on small synthetic MNIST-format data: train, quantize,
//! evaluate and predict with the int8 model, and refuse broken int8 files cleanly.

mod common;

use std::path::Path;
use std::process::Output;

use common::{json_line as json, write_dataset};
use serde_json::Value;

/// Runs `flashnet args` in a temporary directory with `FLASHNET_DATA` set to `data`.
fn flashnet(args: &[&str], data: &Path) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    common::flashnet(cwd.path(), args, Some(data))
}

/// A refusal whose one `error:` line contains `needle` (see [`common::assert_refused`]).
#[track_caller]
fn assert_fails(o: &Output, needle: &str) {
    let line = common::assert_refused(o, &[needle]);
    assert_eq!(o.status.code(), Some(1), "{line}");
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
