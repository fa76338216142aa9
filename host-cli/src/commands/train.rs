//! `flashnet train`: the tutorial end to end (summary, fit, evaluate, save, plot).

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use flashnet::tutorial;
use flashnet::{Adam, Metrics};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;
use serde_json::{Value, json};

use crate::checkpoint::{self, Settings};
use crate::cli::TrainArgs;
use crate::fit::{FitConfig, History, Position, Stop, fit};
use crate::interrupt::{self, Interrupted};
use crate::mnist::{Mnist, Parts};
use crate::parallel::{ParallelTrainer, Workers, default_threads};
use crate::{atomic, model_file, outputs, plots, report};

/// The plots `train` writes into `--plots`.
const PLOTS: [&str; 3] = ["accuracy.png", "loss.png", "confusion.png"];

pub fn run(args: &TrainArgs) -> Result<()> {
    let checkpoint_dir = (args.checkpoint.clone())
        .or_else(|| args.resume.clone())
        .unwrap_or_else(|| {
            args.out
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join("checkpoint")
        });
    // Every file this run writes, checked before the data is even loaded.
    let plot_files = PLOTS.map(|name| args.plots.join(name));
    let checkpoint_file = checkpoint::path(&checkpoint_dir);
    let mut files = vec![
        ("--out", args.out.as_path()),
        ("--history", args.history.as_path()),
    ];
    files.extend(plot_files.iter().map(|p| ("--plots", p.as_path())));
    files.push(("--checkpoint", checkpoint_file.as_path()));
    outputs::check(&files, &[])?;

    let loading = Instant::now();
    let mnist = Mnist::locate_and_load(&args.data, Parts::TrainAndTest)?;
    outputs::check_data(&files, &mnist.dir)?;
    crate::say!(
        "MNIST from {} ({}), loaded in {} ms",
        mnist.dir.display(),
        mnist.source,
        loading.elapsed().as_millis()
    );
    let (full, test) = (mnist.train()?, mnist.test()?);

    // Keras' validation_split: the last fraction of the training set, before any shuffling.
    let (train, validation, validation_name) = if args.validation_split > 0.0 {
        let at = (full.len() as f64 * (1.0 - args.validation_split)).floor() as usize;
        ensure!(
            at > 0 && at < full.len(),
            "--validation-split {} leaves {} of {} samples for training: nothing to train or validate on",
            args.validation_split,
            at,
            full.len()
        );
        (
            full.slice(0..at),
            full.slice(at..full.len()),
            format!("last {} training samples", full.len() - at),
        )
    } else {
        (full, test, "test set".to_string())
    };

    let model = tutorial::model(args.dropout);
    crate::say_raw!("{}", report::summary(&model));
    let settings = Settings {
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        dropout: args.dropout,
        seed: args.seed,
        validation_split: args.validation_split,
        train_samples: train.len(),
        labels_fnv: checkpoint::fnv1a(train.labels.as_slice()),
    };
    let workers = Workers::new(args.threads.map_or_else(default_threads, |t| t as usize))?;
    let mut trainer = ParallelTrainer::new(
        Adam::with_learning_rate(args.learning_rate),
        workers.threads(),
    );
    let mut pos = match &args.resume {
        Some(dir) => {
            let pos = checkpoint::load(dir, &model, &mut trainer, &settings)?;
            crate::say!(
                "Resuming from {} after {} epochs and {} steps",
                checkpoint::path(dir).display(),
                pos.epochs_done,
                pos.steps_done
            );
            ensure!(
                pos.epochs_done < args.epochs
                    || (pos.epochs_done == args.epochs && pos.steps_done == 0),
                "the checkpoint is already past --epochs {}",
                args.epochs
            );
            pos
        }
        None => {
            trainer.init(&model, &mut Pcg32::seed_from_u64(args.seed));
            Position::default()
        }
    };
    let checkpoint_dir = Some(checkpoint_dir);
    let cfg = FitConfig {
        epochs: args.epochs,
        settings,
        checkpoint: checkpoint_dir.clone(),
        interrupt: Some(interrupt::flag()),
    };
    crate::say!(
        "Training on {} samples, validating on {} ({validation_name}); batch {}, {} epochs, seed {}, {} threads, {} kernels",
        train.len(),
        validation.len(),
        args.batch_size,
        args.epochs,
        args.seed,
        workers.threads(),
        flashnet::kernels::active()
    );

    let started = Instant::now();
    let stop = workers.run(|| fit(&model, &mut trainer, &cfg, &train, &validation, &mut pos))?;
    let train_seconds = started.elapsed().as_secs_f64();
    if let Stop::Interrupted { epoch, step } = stop {
        let how = match &checkpoint_dir {
            Some(dir) => format!(
                "checkpoint written to {}; continue with the same options plus --resume {}",
                checkpoint::path(dir).display(),
                dir.display()
            ),
            None => "no --checkpoint directory was given, so nothing was saved".to_string(),
        };
        return Err(
            Interrupted(format!("interrupted at epoch {epoch}, step {step}: {how}")).into(),
        );
    }
    let history = pos.history;

    let eval_start = Instant::now();
    let test_metrics = workers.run(|| trainer.evaluate(&model, &test))?;
    crate::say!(
        "{} test images in {:.0} ms - test_accuracy: {:.4} - test_loss: {:.4}",
        test_metrics.count,
        eval_start.elapsed().as_secs_f64() * 1e3,
        test_metrics.accuracy(),
        test_metrics.loss()
    );
    crate::say_raw!("{}", report::confusion(&test_metrics.confusion));

    let settings = json!({
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "dropout": args.dropout,
        "seed": args.seed,
        "validation_split": args.validation_split,
        "optimizer": "adam",
        "loss": "sparse_categorical_crossentropy",
    });
    let history_json = history_json(
        &history,
        &validation_name,
        &test_metrics,
        &settings,
        train_seconds,
    );
    let facts = json!({
        "settings": settings,
        "test_accuracy": test_metrics.accuracy(),
        "test_loss": test_metrics.loss(),
        "train_samples": train.len(),
    });
    model_file::save(&args.out, &model, trainer.params(), &facts)?;
    let text = serde_json::to_string_pretty(&history_json).context("cannot encode the history")?;
    atomic::write(&args.history, text.as_bytes())?;
    let plot_files = write_plots(args, &history, &test_metrics)?;
    crate::say!("Model: {}", args.out.display());
    crate::say!("History: {}", args.history.display());
    for p in &plot_files {
        crate::say!("Plot: {}", p.display());
    }
    if args.json {
        let mut out = history_json;
        out["model_file"] = super::path_json(&args.out);
        out["history_file"] = super::path_json(&args.history);
        out["plots"] = plot_files.iter().map(|p| super::path_json(p)).collect();
        super::print_json(&out)?;
    } else {
        crate::out!(
            "test_accuracy: {:.4} - test_loss: {:.4}",
            test_metrics.accuracy(),
            test_metrics.loss()
        )?;
    }
    Ok(())
}

/// Keras' `History.history` keys, plus the test results and the settings.
fn history_json(
    history: &History,
    validation: &str,
    test: &Metrics<10>,
    settings: &Value,
    seconds: f64,
) -> Value {
    let col = |f: &dyn Fn(&flashnet::EpochRecord) -> Option<f64>| -> Vec<Option<f64>> {
        history.epochs.iter().map(f).collect()
    };
    json!({
        "loss": col(&|e| Some(e.loss)),
        "accuracy": col(&|e| Some(e.accuracy)),
        "val_loss": col(&|e| e.validation.map(|v| v.0)),
        "val_accuracy": col(&|e| e.validation.map(|v| v.1)),
        "validation_data": validation,
        "test_loss": test.loss(),
        "test_accuracy": test.accuracy(),
        "confusion_matrix": test.confusion.counts,
        "settings": settings,
        "train_seconds": seconds,
    })
}

fn write_plots(
    args: &TrainArgs,
    history: &History,
    test: &Metrics<10>,
) -> Result<Vec<std::path::PathBuf>> {
    let e = &history.epochs;
    let acc: Vec<f64> = e.iter().map(|r| r.accuracy).collect();
    let val_acc: Vec<f64> = e.iter().filter_map(|r| r.validation.map(|v| v.1)).collect();
    let loss: Vec<f64> = e.iter().map(|r| r.loss).collect();
    let val_loss: Vec<f64> = e.iter().filter_map(|r| r.validation.map(|v| v.0)).collect();
    let files = PLOTS.map(|name| args.plots.join(name));
    plots::accuracy(&files[0], &acc, &val_acc)?;
    plots::loss(&files[1], &loss, &val_loss)?;
    let title = "Confusion matrix: MNIST test set";
    plots::confusion(&files[2], &test.confusion.counts, title)?;
    Ok(files.to_vec())
}
