//! The training loop: epochs of shuffled mini-batches, Keras' `fit`.

use anyhow::{Result, bail};
use flashnet::init::shuffle;
use flashnet::mnist::{Dataset, to_input};
use flashnet::noise::splitmix64;
use flashnet::tutorial::{AdamTrainer, Model};
use flashnet::{Adam, EpochRecord, Metrics, Noise};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

use crate::eval::evaluate;
use crate::progress::EpochBar;

/// Most epochs a history holds.
pub const MAX_EPOCHS: usize = 1_000;
/// Per-epoch results.
pub type History = flashnet::History<MAX_EPOCHS>;

/// What `fit` needs besides data and state.
pub struct FitConfig {
    pub epochs: u32,
    /// Seeds the shuffles and dropout (the weights are initialized by the caller).
    pub seed: u64,
    pub batch_size: usize,
    pub optimizer: Adam,
}

/// Trains `trainer` for `cfg.epochs` epochs over `train`, evaluating on `validation` after each
/// epoch. Epoch `e` visits the samples in an order drawn from `(seed, e)` alone and step `s`
/// draws its dropout from `(seed, s)` alone, so any epoch can be replayed from a checkpoint.
pub fn fit(
    model: &Model,
    trainer: &mut AdamTrainer,
    cfg: &FitConfig,
    train: &Dataset<'_>,
    validation: &Dataset<'_>,
) -> Result<History> {
    let n = train.len();
    let steps = n.div_ceil(cfg.batch_size) as u64;
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut history = History::new();
    let (images, labels) = (train.images.as_slice(), train.labels.as_slice());
    for epoch in 1..=cfg.epochs {
        order.clear();
        order.extend(0..n as u32);
        shuffle(&mut order, &mut epoch_rng(cfg.seed, epoch));
        let bar = EpochBar::start(epoch, cfg.epochs, steps);
        let mut metrics = Metrics::<10>::default();
        for (step, batch) in order.chunks(cfg.batch_size).enumerate() {
            let b = batch.len();
            for (i, &s) in batch.iter().enumerate() {
                to_input(&images[s as usize], &mut trainer.ws.input[i]);
                trainer.ws.labels[i] = labels[s as usize];
            }
            let global_step = u64::from(epoch - 1) * steps + step as u64;
            let stats = trainer.step(
                model,
                &cfg.optimizer,
                b,
                Noise::for_step(cfg.seed, global_step),
            )?;
            if !stats.loss_sum.is_finite() {
                bar.finish(metrics.accuracy(), f64::NAN, None);
                bail!(
                    "loss became {} at epoch {epoch}, step {} of {steps}: training diverged (try a lower --learning-rate)",
                    stats.loss_sum,
                    step + 1
                );
            }
            metrics.add(stats.loss_sum, stats.correct, b);
            bar.update(step as u64 + 1, metrics.accuracy(), metrics.loss());
        }
        let val = evaluate(model, &trainer.params, &mut trainer.ws, validation)?;
        let record = EpochRecord {
            loss: metrics.loss(),
            accuracy: metrics.accuracy(),
            validation: Some((val.loss(), val.accuracy())),
        };
        bar.finish(record.accuracy, record.loss, record.validation);
        if history.push(record).is_err() {
            bail!("more than {MAX_EPOCHS} epochs");
        }
    }
    Ok(history)
}

/// The generator that shuffles epoch `epoch` (1-based) of a run seeded with `seed`.
pub fn epoch_rng(seed: u64, epoch: u32) -> Pcg32 {
    Pcg32::seed_from_u64(splitmix64(seed ^ splitmix64(u64::from(epoch))))
}
