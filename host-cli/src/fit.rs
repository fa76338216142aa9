//! The training loop: epochs of shuffled mini-batches (Keras' `fit`), resumable at any step.
//!
//! Epoch `e` visits the samples in an order drawn from `(seed, e)` alone, and step `s` draws
//! its dropout from `(seed, s)` alone, so a run can stop anywhere and continue bit for bit from
//! a [`Position`] and the weights and optimizer state.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail, ensure};
use flashnet::init::shuffle;
use flashnet::mnist::Dataset;
use flashnet::noise::splitmix64;
use flashnet::tutorial::Model;
use flashnet::{EpochRecord, Metrics, Noise};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

use crate::checkpoint::{self, Settings};
use crate::parallel::{Batch, ParallelTrainer};
use crate::progress::EpochBar;

/// Most epochs a history holds.
pub const MAX_EPOCHS: usize = 1_000;
/// Per-epoch results.
pub type History = flashnet::History<MAX_EPOCHS>;

/// Where a run is: what a checkpoint records besides weights and optimizer state.
#[derive(Clone, Debug, Default)]
pub struct Position {
    /// Epochs completed.
    pub epochs_done: u32,
    /// Steps completed in the current epoch.
    pub steps_done: u64,
    /// Training loss and accuracy so far in the current epoch.
    pub running: Metrics<10>,
    /// Completed epochs.
    pub history: History,
}

/// How `fit` runs.
pub struct FitConfig<'a> {
    /// Total epochs (counting those already done).
    pub epochs: u32,
    /// Everything that decides the result (seed, batch size, …).
    pub settings: Settings,
    /// Where to keep the last good checkpoint, written at the end of every epoch and on
    /// interruption.
    pub checkpoint: Option<PathBuf>,
    /// Set (by a Ctrl-C handler) to stop after the current step.
    pub interrupt: Option<&'a AtomicBool>,
}

/// How `fit` ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// All epochs done.
    Finished,
    /// Interrupted after `step` steps of epoch `epoch`; the checkpoint holds this position.
    Interrupted { epoch: u32, step: u64 },
}

/// Trains from `pos` to `cfg.epochs` epochs over `train`, evaluating on `validation` after
/// each epoch. Call it inside [`crate::parallel::Workers::run`].
pub fn fit(
    model: &Model,
    trainer: &mut ParallelTrainer,
    cfg: &FitConfig<'_>,
    train: &Dataset<'_>,
    validation: &Dataset<'_>,
    pos: &mut Position,
) -> Result<Stop> {
    let n = train.len();
    let batch = cfg.settings.batch_size;
    ensure!(batch >= 1, "the batch size must be at least 1");
    let steps = n.div_ceil(batch) as u64;
    let mut order: Vec<u32> = Vec::with_capacity(n);
    // Whether `cfg.checkpoint` holds this run's state: resumed from it, or saved since (a file
    // there from another run does not count).
    let mut checkpointed = pos.epochs_done > 0 || pos.steps_done > 0;
    for epoch in pos.epochs_done + 1..=cfg.epochs {
        order.clear();
        order.extend(0..n as u32);
        shuffle(&mut order, &mut epoch_rng(cfg.settings.seed, epoch));
        let (images, labels) = (train.images.as_slice(), train.labels.as_slice());
        let mut bar = EpochBar::start(epoch, cfg.epochs, steps, pos.steps_done);
        // Each step picks its samples from the set; the trainer copies them together.
        for (step, picks) in order
            .chunks(batch)
            .enumerate()
            .skip(pos.steps_done as usize)
        {
            let global = u64::from(epoch - 1) * steps + step as u64;
            let noise = Noise::for_step(cfg.settings.seed, global);
            let stats = trainer.step(model, Batch::picked(images, labels, picks)?, noise)?;
            if !stats.loss_sum.is_finite() {
                bar.abandon();
                let kept = match &cfg.checkpoint {
                    Some(dir) if checkpointed => format!(
                        "the last good checkpoint, {}, is kept",
                        checkpoint::path(dir).display()
                    ),
                    _ => "no checkpoint had been written yet".to_string(),
                };
                bail!(
                    "the loss became {} at epoch {epoch}, step {} of {steps}: training diverged \
                     (try a lower --learning-rate); {kept}",
                    stats.loss_sum,
                    step + 1
                );
            }
            pos.running.add(stats.loss_sum, stats.correct, picks.len());
            pos.steps_done = step as u64 + 1;
            bar.update(pos.steps_done, pos.running.accuracy(), pos.running.loss());
            if cfg.interrupt.is_some_and(|f| f.load(Ordering::Relaxed)) && pos.steps_done < steps {
                bar.abandon();
                if let Some(dir) = &cfg.checkpoint {
                    checkpoint::save(dir, model, trainer, &cfg.settings, pos)?;
                }
                return Ok(Stop::Interrupted {
                    epoch,
                    step: pos.steps_done,
                });
            }
        }
        let val = trainer.evaluate(model, validation)?;
        let record = EpochRecord {
            loss: pos.running.loss(),
            accuracy: pos.running.accuracy(),
            validation: Some((val.loss(), val.accuracy())),
        };
        bar.finish(record.accuracy, record.loss, record.validation);
        if pos.history.push(record).is_err() {
            bail!("more than {MAX_EPOCHS} epochs");
        }
        pos.epochs_done = epoch;
        pos.steps_done = 0;
        pos.running = Metrics::default();
        if let Some(dir) = &cfg.checkpoint {
            checkpoint::save(dir, model, trainer, &cfg.settings, pos)?;
            checkpointed = true;
        }
        if cfg.interrupt.is_some_and(|f| f.load(Ordering::Relaxed)) && epoch < cfg.epochs {
            return Ok(Stop::Interrupted {
                epoch: epoch + 1,
                step: 0,
            });
        }
    }
    Ok(Stop::Finished)
}

/// The generator that shuffles epoch `epoch` (1-based) of a run seeded with `seed`.
pub fn epoch_rng(seed: u64, epoch: u32) -> Pcg32 {
    Pcg32::seed_from_u64(splitmix64(seed ^ splitmix64(u64::from(epoch))))
}
