//! `flashnet predict`: the digit, its 10 probabilities and logits, and the image.

use std::path::PathBuf;

use anyhow::{Context, Result};
use flashnet::mnist::to_input;
use flashnet::tutorial::{self, InferenceWorkspace};
use serde_json::json;

use crate::cli::PredictArgs;
use crate::mnist::{Mnist, Parts};
use crate::{image_file, model_file, outputs, plots, quant_file, report};

/// Logits, probabilities, and the int8 logits of an int8 model.
type Outputs = ([f32; 10], [f32; 10], Option<[i8; 10]>);

/// The model behind `--model`: f32, or int8 run with integers only (its logits dequantized
/// for display, probabilities computed from those).
enum Runner {
    F32 {
        params: Box<tutorial::Params>,
        ws: Box<InferenceWorkspace<1>>,
    },
    Int8 {
        model: Box<quant_file::QuantizedModel>,
        core: Box<flashnet::quant::tutorial::Model>,
        scratch: Box<flashnet::quant::tutorial::Scratch>,
    },
}

impl Runner {
    fn load(path: &std::path::Path) -> Result<Self> {
        let (bytes, quantized) = quant_file::sniff(path)?;
        if quantized {
            let model = quant_file::parse(&bytes)
                .with_context(|| format!("int8 model file {}", path.display()))?;
            let core = model.to_core()?;
            return Ok(Runner::Int8 {
                model: Box::new(model),
                core,
                scratch: bytemuck::zeroed_box(),
            });
        }
        let loaded =
            model_file::parse(&bytes).with_context(|| format!("model file {}", path.display()))?;
        Ok(Runner::F32 {
            params: loaded.params,
            ws: bytemuck::zeroed_box(),
        })
    }

    /// Logits, probabilities, and the int8 logits of an int8 model.
    fn run(&mut self, pixels: &[u8; 784]) -> Result<Outputs> {
        match self {
            Runner::F32 { params, ws } => {
                let model = tutorial::model(tutorial::DROPOUT);
                to_input(pixels, &mut ws.input[0]);
                let probs = model.predict(params, ws, 1)?[0];
                Ok((ws.logits[0], probs, None))
            }
            Runner::Int8 {
                model,
                core,
                scratch,
            } => {
                let q = core.predict(pixels, scratch);
                let logits = model.dequantize_logits(&q);
                let mut probs = [0f32; 10];
                flashnet::kernels::softmax(10, &logits, &mut probs);
                Ok((logits, probs, Some(q)))
            }
        }
    }
}

struct Sample {
    name: String,
    pixels: [u8; 784],
    label: Option<u8>,
}

pub fn run(args: &PredictArgs) -> Result<()> {
    let mut runner = Runner::load(&args.model)?;
    // The plots, checked before the data is located (and possibly downloaded).
    let count = if args.index.is_some() {
        1
    } else {
        args.images.len()
    };
    let plot_files: Vec<_> = match &args.plot {
        None => Vec::new(),
        Some(plot) if count == 1 => vec![plot.clone()],
        Some(plot) => (0..count).map(|i| numbered(plot, i)).collect(),
    };
    let plots: Vec<_> = plot_files.iter().map(|f| ("--plot", f.as_path())).collect();
    let mut inputs = vec![("--model", args.model.as_path())];
    inputs.extend(args.images.iter().map(|p| ("image", p.as_path())));
    outputs::check(&plots, &inputs)?;
    let (samples, data_dir) = samples(args)?;
    if let Some(dir) = &data_dir {
        outputs::check_data(&plots, dir)?;
    }
    // A failed print (a closed stdout) is reported at the end, once every plot is written.
    let mut printed = Ok(());
    let mut results = Vec::new();
    for s in &samples {
        let (logits, probs, int8_logits) = runner.run(&s.pixels)?;
        // An int8 model's digit is its integer logits' argmax, as `evaluate` and the firmware
        // take it (the dequantized floats can tie where the integers do not).
        let digit = match &int8_logits {
            Some(q) => flashnet::quant::tutorial::argmax(q),
            None => flashnet::top_k::<10, 1>(&probs)[0].0,
        };
        let text = format!(
            "{}\n{}predicted: {digit} (p = {:.4}){}\n{}",
            s.name,
            report::digit(&s.pixels),
            probs[usize::from(digit)],
            s.label.map(|l| format!(", label: {l}")).unwrap_or_default(),
            table(&logits, &probs)
        );
        if args.json {
            crate::say_raw!("{text}");
        } else if printed.is_ok() {
            printed = crate::out_raw!("{text}");
        }
        if let Some(path) = plot_files.get(results.len()) {
            plots::prediction(path, &s.pixels, &logits, &probs, s.label)?;
            crate::say!("Plot: {}", path.display());
        }
        let mut r = json!({
            "input": s.name, "label": s.label, "prediction": digit,
            "probabilities": probs, "logits": logits,
        });
        if let (Some(q), Some(o)) = (int8_logits, r.as_object_mut()) {
            o.insert("int8_logits".into(), json!(q));
        }
        results.push(r);
    }
    if args.json {
        super::print_json(
            &json!({"model": super::path_json(&args.model), "predictions": results}),
        )?;
    }
    printed
}

/// The images to predict, and the MNIST directory when they come from the test set.
fn samples(args: &PredictArgs) -> Result<(Vec<Sample>, Option<PathBuf>)> {
    if let Some(i) = args.index {
        let mnist = Mnist::locate_and_load(&args.data, Parts::Test)?;
        let test = mnist.test()?;
        let pixels = *test.images.get(i).with_context(|| {
            format!(
                "--index {i} is out of range: the test set has {} images (0..{})",
                test.len(),
                test.len()
            )
        })?;
        let label = test.labels.as_slice()[i];
        let sample = Sample {
            name: format!("test image {i}"),
            pixels,
            label: Some(label),
        };
        return Ok((vec![sample], Some(mnist.dir)));
    }
    let samples = args
        .images
        .iter()
        .map(|p| {
            Ok(Sample {
                name: p.display().to_string(),
                pixels: image_file::load(p, args.invert)?,
                label: None,
            })
        })
        .collect::<Result<_>>()?;
    Ok((samples, None))
}

fn table(logits: &[f32; 10], probs: &[f32; 10]) -> String {
    let mut s = String::from("digit   probability      logit\n");
    for d in 0..10 {
        s += &format!("{d:>5}   {:>11.6}  {:>9.4}\n", probs[d], logits[d]);
    }
    s
}

/// `plot.png` → `plot-3.png` for the fourth of several images.
fn numbered(path: &std::path::Path, i: usize) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-{i}{ext}"))
}
