//! Training checkpoints: weights, Adam's moments and step count, the position in the run
//! (epochs done, steps done in the current epoch, the running epoch metrics) and the history,
//! in one safetensors file written atomically. Shuffles and dropout derive from the seed and
//! the step number, so this is everything a resumed run needs to continue bit for bit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use flashnet::{Params, tutorial};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::atomic;
use crate::fit::{History, Position};
use crate::model_file::{self, FORMAT_KEY};
use crate::parallel::ParallelTrainer;

const FORMAT: &str = "flashnet-checkpoint";
const STATE_KEY: &str = "state";
const FILE: &str = "checkpoint.safetensors";

/// Everything that decides the result of a run; a resumed run must match it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    pub batch_size: usize,
    pub learning_rate: f32,
    pub dropout: f32,
    pub seed: u64,
    pub validation_split: f64,
    pub train_samples: usize,
    /// FNV-1a of the training labels: catches resuming on other data.
    pub labels_fnv: u64,
}

/// One epoch of the history, as stored.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
struct Epoch {
    loss: f64,
    accuracy: f64,
    val_loss: Option<f64>,
    val_accuracy: Option<f64>,
}

#[derive(Serialize, Deserialize, Debug)]
struct State {
    settings: Settings,
    epochs_done: u32,
    steps_done: u64,
    loss_sum: f64,
    correct: u64,
    count: u64,
    adam_iterations: u64,
    history: Vec<Epoch>,
}

/// The checkpoint file inside `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// FNV-1a, 64-bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes the checkpoint atomically (temp file, fsync, rename): a crash leaves the previous
/// checkpoint or this one. Refuses to write non-finite weights.
pub fn save(
    dir: &Path,
    model: &tutorial::Model,
    t: &mut ParallelTrainer,
    settings: &Settings,
    pos: &Position,
) -> Result<()> {
    use flashnet::Params as _;
    let (params, adam) = t.state();
    ensure!(
        params.all_finite(),
        "refusing to checkpoint non-finite weights"
    );
    let state = State {
        settings: settings.clone(),
        epochs_done: pos.epochs_done,
        steps_done: pos.steps_done,
        loss_sum: pos.running.loss_sum,
        correct: pos.running.correct,
        count: pos.running.count,
        adam_iterations: adam.iterations,
        history: pos
            .history
            .epochs
            .iter()
            .map(|e| Epoch {
                loss: e.loss,
                accuracy: e.accuracy,
                val_loss: e.validation.map(|v| v.0),
                val_accuracy: e.validation.map(|v| v.1),
            })
            .collect(),
    };
    let mut meta = HashMap::new();
    meta.insert(FORMAT_KEY.to_string(), FORMAT.to_string());
    meta.insert(STATE_KEY.to_string(), serde_json::to_string(&state)?);
    let bytes = model_file::encode(
        model,
        &[("", params), ("adam/m/", &adam.m), ("adam/v/", &adam.v)],
        meta,
    )?;
    atomic::write(&path(dir), &bytes)
}

/// Loads the checkpoint in `dir` into `t` and returns its position. The run's `settings` must
/// be those the checkpoint was made with.
pub fn load(
    dir: &Path,
    model: &tutorial::Model,
    t: &mut ParallelTrainer,
    settings: &Settings,
) -> Result<Position> {
    let file = path(dir);
    let bytes = model_file::read_capped(&file, 3 * model_file::MAX_FILE_BYTES)
        .with_context(|| format!("cannot read checkpoint {}", file.display()))?;
    parse(&bytes, model, t, settings).with_context(|| format!("checkpoint {}", file.display()))
}

fn parse(
    bytes: &[u8],
    model: &tutorial::Model,
    t: &mut ParallelTrainer,
    settings: &Settings,
) -> Result<Position> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow::anyhow!("not a valid safetensors file: {e}"))?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow::anyhow!("not a valid safetensors file: {e}"))?;
    let meta = header.metadata().clone().unwrap_or_default();
    ensure!(
        meta.get(FORMAT_KEY).map(String::as_str) == Some(FORMAT),
        "not a flashnet checkpoint"
    );
    if let Some(arch) = meta.get(model_file::ARCHITECTURE_KEY) {
        let ours = model_file::architecture(model);
        ensure!(
            *arch == ours,
            "architecture `{arch}` differs from this build's `{ours}`"
        );
    }
    let state: State = serde_json::from_str(meta.get(STATE_KEY).map_or("", String::as_str))
        .context("unreadable training state in the metadata")?;
    if state.settings != *settings {
        bail!(
            "it was made with different settings: {}; resume with the same options as the interrupted run",
            describe_difference(&state.settings, settings)
        );
    }
    // A position inside the run these settings describe, with consistent running totals.
    let steps = settings.train_samples.div_ceil(settings.batch_size.max(1)) as u64;
    ensure!(
        state.steps_done < steps,
        "it is {} steps into an epoch of {steps}",
        state.steps_done
    );
    // Checkpoints are written inside an epoch only before its last step, so every step done
    // had a full batch.
    ensure!(
        state.correct <= state.count
            && state.count == state.steps_done * settings.batch_size as u64
            && state.loss_sum.is_finite()
            && state.loss_sum >= 0.0,
        "inconsistent running totals (loss sum {}, {} correct of {} after {} steps)",
        state.loss_sum,
        state.correct,
        state.count,
        state.steps_done
    );
    // One Adam update per step: its bias correction depends on this count.
    let done = u64::from(state.epochs_done) * steps + state.steps_done;
    ensure!(
        state.adam_iterations == done,
        "Adam has taken {} steps, but the position is {done} steps into the run",
        state.adam_iterations
    );
    model_file::check_names(&st, model, &["", "adam/m/", "adam/v/"])?;
    let (params, adam) = t.state_mut();
    *params = *model_file::read_params(&st, model, "")?;
    adam.m = *model_file::read_params(&st, model, "adam/m/")?;
    adam.v = *model_file::read_params(&st, model, "adam/v/")?;
    adam.iterations = state.adam_iterations;
    // Adam's second moments are running means of squares.
    for i in 0..tutorial::Params::TENSORS {
        if let Some(v) = adam.v.tensor(i).iter().find(|v| v.is_nan() || **v < 0.0) {
            bail!("Adam's second moment holds {v}: it must be zero or positive");
        }
    }
    let mut history = History::new();
    for e in &state.history {
        let validation = e.val_loss.zip(e.val_accuracy);
        let record = flashnet::EpochRecord {
            loss: e.loss,
            accuracy: e.accuracy,
            validation,
        };
        ensure!(
            history.push(record).is_ok(),
            "history longer than {} epochs",
            History::CAPACITY
        );
    }
    ensure!(
        history.epochs.len() == state.epochs_done as usize,
        "history and epoch count disagree"
    );
    let running = flashnet::Metrics {
        loss_sum: state.loss_sum,
        correct: state.correct,
        count: state.count,
        ..Default::default()
    };
    Ok(Position {
        epochs_done: state.epochs_done,
        steps_done: state.steps_done,
        running,
        history,
    })
}

/// A setting as the user typed it: an `f32` (the learning rate, 0.001) as `f32`, not as the
/// `f64` it widens to (0.0010000000474974513).
fn shown(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if v.is_f64() && f64::from(f as f32) == f => (f as f32).to_string(),
        _ => v.to_string(),
    }
}

fn describe_difference(saved: &Settings, now: &Settings) -> String {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(saved), serde_json::to_value(now))
    else {
        return "unreadable settings".to_string();
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| {
            // Settings named after options read as the option; the rest are facts of the data.
            let name = match k.as_str() {
                "train_samples" | "labels_fnv" => k.replace('_', " "),
                _ => format!("--{}", k.replace('_', "-")),
            };
            format!(
                "{name} {} in the checkpoint, {} now",
                shown(v),
                shown(b.get(k).unwrap_or(&Value::Null))
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_read_as_typed() {
        let a = Settings {
            batch_size: 32,
            learning_rate: 0.001,
            dropout: 0.2,
            seed: 1,
            validation_split: 0.1,
            train_samples: 54_000,
            labels_fnv: 7,
        };
        let b = Settings {
            learning_rate: 0.002,
            validation_split: 0.2,
            ..a
        };
        assert_eq!(
            describe_difference(&a, &b),
            "--learning-rate 0.001 in the checkpoint, 0.002 now, \
             --validation-split 0.1 in the checkpoint, 0.2 now"
        );
    }
}
