//! The training loop: epochs of shuffled mini-batches, Keras' `fit`.

use anyhow::{Result, bail};
use flashnet::init::shuffle;
use flashnet::mnist::{Dataset, to_input};
use flashnet::tutorial::{AdamTrainer, Model};
use flashnet::{Adam, EpochRecord, Metrics};
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
    pub batch_size: usize,
    pub optimizer: Adam,
}

/// Trains `trainer` for `cfg.epochs` epochs over `train` (reshuffled every epoch with `rng`),
/// evaluating on `validation` after each epoch.
pub fn fit(
    model: &Model,
    trainer: &mut AdamTrainer,
    cfg: &FitConfig,
    train: &Dataset<'_>,
    validation: &Dataset<'_>,
    rng: &mut Pcg32,
) -> Result<History> {
    let n = train.len();
    let steps = n.div_ceil(cfg.batch_size) as u64;
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut history = History::new();
    let (images, labels) = (train.images.as_slice(), train.labels.as_slice());
    for epoch in 1..=cfg.epochs {
        shuffle(&mut order, rng);
        let bar = EpochBar::start(epoch, cfg.epochs, steps);
        let mut metrics = Metrics::<10>::default();
        for (step, batch) in order.chunks(cfg.batch_size).enumerate() {
            let b = batch.len();
            for (i, &s) in batch.iter().enumerate() {
                to_input(&images[s as usize], &mut trainer.ws.input[i]);
                trainer.ws.labels[i] = labels[s as usize];
            }
            let stats = trainer.step(model, &cfg.optimizer, b, rng)?;
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
