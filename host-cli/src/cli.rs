//! Command-line arguments (clap). Each subcommand's options are checked here, so a command
//! never starts with a value it cannot use.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use flashnet::tutorial::MAX_BATCH;

use crate::fit;

/// flashnet: train, evaluate and run the TensorFlow beginner-tutorial MNIST model.
#[derive(Parser, Debug)]
#[command(name = "flashnet", version, about, long_about = None, propagate_version = true, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train the tutorial model on MNIST, evaluate it, write the model, history and plots.
    Train(TrainArgs),
    /// Test loss, accuracy and confusion matrix of a saved model.
    Evaluate(EvaluateArgs),
    /// Classify test image N or image files; show probabilities, logits and the image.
    Predict(PredictArgs),
    /// Print the model summary (layers, output shapes, parameters), Keras style.
    Summary(SummaryArgs),
    /// Download MNIST into the cache (or --dir), verifying SHA-256.
    Download(DownloadArgs),
    /// Quantize a trained model to int8 (full-integer, TensorFlow Lite style) for microcontrollers.
    Quantize(QuantizeArgs),
}

/// Where the MNIST files come from.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Directory holding the four MNIST IDX files (.gz or not). Default: $FLASHNET_DATA, then
    /// the cache (~/.cache/flashnet/mnist), downloading there if needed.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Never download: fail if the files are not found.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Passes over the training set.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=fit::MAX_EPOCHS as i64))]
    pub epochs: u32,
    /// Samples per gradient step (the last batch of an epoch may be smaller).
    #[arg(long, default_value_t = 32, value_parser = batch_size)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.001, value_parser = learning_rate, allow_negative_numbers = true)]
    pub learning_rate: f32,
    /// Dropout rate of the Dropout layer.
    #[arg(long, default_value_t = flashnet::tutorial::DROPOUT, value_parser = unit_interval::<f32>, allow_negative_numbers = true)]
    pub dropout: f32,
    /// Seed for weights, shuffling and dropout: same seed, same model, bit for bit.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hold out the last fraction F of the training set for validation (Keras semantics: taken
    /// before shuffling). With 0, the test set is used as validation data.
    #[arg(long, default_value_t = 0.0, value_name = "F", value_parser = unit_interval::<f64>, allow_negative_numbers = true)]
    pub validation_split: f64,
    /// Where to write the trained model (safetensors).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "runs/mnist/model.safetensors"
    )]
    pub out: PathBuf,
    /// Where to write the training history (JSON, Keras History keys plus test results).
    #[arg(long, value_name = "FILE", default_value = "runs/mnist/history.json")]
    pub history: PathBuf,
    /// Directory for accuracy.png, loss.png and confusion.png.
    #[arg(long, value_name = "DIR", default_value = "runs/mnist")]
    pub plots: PathBuf,
    /// Worker threads (default: the available cores). Results are identical for any count.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: Option<u32>,
    /// Keep the last good checkpoint here, written at the end of every epoch and on Ctrl-C
    /// (default: `checkpoint/` beside --out, or the --resume directory).
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Continue the run checkpointed in DIR (give the same options as the first run); the
    /// result is bit for bit that of an uninterrupted run.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The model file (safetensors, from `flashnet train` or exported from Keras, or an int8
    /// model from `flashnet quantize`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Evaluate only the first N test images.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Also report each image's predicted digit (and, for int8 models, a checksum of the int8
    /// logits, as the firmware prints it).
    #[arg(long)]
    pub outputs: bool,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The model file.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Classify test image N (0-based) of MNIST's test set.
    #[arg(long, value_name = "N", conflicts_with = "images")]
    pub index: Option<usize>,
    /// Image files: 28×28 8-bit grayscale PNG or PGM (P2/P5), white digit on black like MNIST.
    #[arg(value_name = "IMAGE", required_unless_present = "index")]
    pub images: Vec<PathBuf>,
    /// The images are dark digits on a light background: invert them first.
    #[arg(long)]
    pub invert: bool,
    /// Also write a picture of the image with its logits and probabilities (PNG).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct QuantizeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The f32 model to quantize (safetensors).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Where to write the int8 model (safetensors).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Number of training images that calibrate the activation ranges (evenly spaced).
    #[arg(long, value_name = "N", default_value_t = crate::quantize::DEFAULT_CALIBRATION as u64,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub calibration: u64,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DownloadArgs {
    /// Download into this directory instead of the cache.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn batch_size(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if n == 0 || n > MAX_BATCH {
        return Err(format!(
            "{n} is outside 1..={MAX_BATCH} (the training workspace is built for at most {MAX_BATCH} samples a step)"
        ));
    }
    Ok(n)
}

fn learning_rate(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("{s} must be a finite number above 0"));
    }
    Ok(v)
}

fn unit_interval<T: std::str::FromStr + PartialOrd + From<u8> + Copy>(
    s: &str,
) -> Result<T, String> {
    let v: T = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    // NaN fails both comparisons, so it is rejected too.
    if v >= T::from(0) && v < T::from(1) {
        Ok(v)
    } else {
        Err(format!("{s} must be in [0, 1)"))
    }
}
