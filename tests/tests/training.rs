//! Parallel training is deterministic: the same model for any thread count, and a run stopped
//! anywhere and resumed from its checkpoint ends bit for bit where an uninterrupted run does.

mod support;

use std::sync::atomic::AtomicBool;

use flashnet::init::shuffle;
use flashnet::mnist::{Dataset, Images, Labels};
use flashnet::tutorial;
use flashnet::{Adam, Noise, Params};
use flashnet_cli::checkpoint::{self, Settings};
use flashnet_cli::fit::{FitConfig, Position, Stop, epoch_rng, fit};
use flashnet_cli::parallel::{Batch, ParallelTrainer, Workers};
use rand_core::SeedableRng;

fn flat(p: &tutorial::Params) -> Vec<u32> {
    let mut v = Vec::new();
    p.visit(&mut |t| v.extend(t.iter().map(|x| x.to_bits())));
    v
}

fn settings(train: &Dataset<'_>, batch_size: usize) -> Settings {
    Settings {
        batch_size,
        learning_rate: 0.002,
        dropout: 0.2,
        seed: 11,
        validation_split: 0.0,
        train_samples: train.len(),
        labels_fnv: checkpoint::fnv1a(train.labels.as_slice()),
    }
}

/// Trains `epochs` epochs from scratch (or from `pos`/`trainer` as given) with `threads`.
fn run(
    threads: usize,
    trainer: &mut ParallelTrainer,
    cfg: &FitConfig<'_>,
    train: &Dataset<'_>,
    val: &Dataset<'_>,
    pos: &mut Position,
) -> Stop {
    let model = tutorial::model(cfg.settings.dropout);
    Workers::new(threads)
        .unwrap()
        .run(|| fit(&model, trainer, cfg, train, val, pos))
        .unwrap()
}

/// A trainer with fresh weights, its first layer split between `threads` threads.
fn fresh(cfg: &FitConfig<'_>, threads: usize) -> ParallelTrainer {
    let mut t = ParallelTrainer::new(
        Adam::with_learning_rate(cfg.settings.learning_rate),
        threads,
    );
    let model = tutorial::model(cfg.settings.dropout);
    t.init(
        &model,
        &mut rand_pcg::Pcg32::seed_from_u64(cfg.settings.seed),
    );
    t
}

#[test]
fn same_model_for_any_thread_count_and_batch_shape() {
    let (img, lab) = support::idx_files(700, 3);
    let train = Dataset::new(Images::parse(&img).unwrap(), Labels::parse(&lab).unwrap()).unwrap();
    let val = train.slice(0..100);
    // 700 = 14 batches of 48 (3 shards each) + one of 28 (2 shards, the last one partial).
    let cfg = FitConfig {
        epochs: 2,
        settings: settings(&train, 48),
        checkpoint: None,
        interrupt: None,
    };
    let mut results = Vec::new();
    // 1, 2 and 3 threads split the first layer's columns as 128, 64 + 64 and 48 + 48 + 32.
    for threads in [1, 2, 3] {
        let mut t = fresh(&cfg, threads);
        let mut pos = Position::default();
        assert_eq!(
            run(threads, &mut t, &cfg, &train, &val, &mut pos),
            Stop::Finished
        );
        let (params, adam) = t.state();
        results.push((flat(params), flat(&adam.m), pos.history.epochs.clone()));
    }
    assert!(results[0] == results[1], "1 and 2 threads differ");
    assert!(results[0] == results[2], "1 and 3 threads differ");
    let acc = results[0].2.last().unwrap().accuracy;
    assert!(
        acc > 0.8,
        "the synthetic task should be learnt, accuracy {acc}"
    );
}

#[test]
fn resumed_run_is_bitwise_identical_to_an_uninterrupted_one() {
    let (img, lab) = support::idx_files(500, 5);
    let train = Dataset::new(Images::parse(&img).unwrap(), Labels::parse(&lab).unwrap()).unwrap();
    let val = train.slice(400..500);
    let dir = tempfile::tempdir().unwrap();
    let base = FitConfig {
        epochs: 3,
        settings: settings(&train, 32),
        checkpoint: None,
        interrupt: None,
    };

    let mut straight = fresh(&base, 2);
    let mut straight_pos = Position::default();
    run(2, &mut straight, &base, &train, &val, &mut straight_pos);

    // Stop after the first step of epoch 1, then twice more, each time resuming from disk.
    let stop_now = AtomicBool::new(true);
    let cfg = FitConfig {
        checkpoint: Some(dir.path().to_path_buf()),
        interrupt: Some(&stop_now),
        ..FitConfig {
            epochs: 3,
            settings: base.settings.clone(),
            checkpoint: None,
            interrupt: None,
        }
    };
    let mut t = fresh(&cfg, 1);
    let mut pos = Position::default();
    assert_eq!(
        run(1, &mut t, &cfg, &train, &val, &mut pos),
        Stop::Interrupted { epoch: 1, step: 1 }
    );
    let model = tutorial::model(cfg.settings.dropout);
    let mut stops = 0;
    loop {
        stops += 1;
        let threads = if stops % 2 == 0 { 1 } else { 2 };
        let mut t = ParallelTrainer::new(
            Adam::with_learning_rate(cfg.settings.learning_rate),
            threads,
        );
        let mut pos = checkpoint::load(dir.path(), &model, &mut t, &cfg.settings).unwrap();
        // Let later runs go further before stopping: interrupt only on the first two resumes.
        let keep_going = AtomicBool::new(false);
        let cfg = FitConfig {
            interrupt: Some(if stops > 2 { &keep_going } else { &stop_now }),
            ..clone(&cfg)
        };
        match run(threads, &mut t, &cfg, &train, &val, &mut pos) {
            Stop::Finished => {
                let (params, adam) = t.state();
                let (straight_params, straight_adam) = straight.state();
                assert!(
                    flat(params) == flat(straight_params),
                    "weights differ after resuming"
                );
                assert!(
                    flat(&adam.m) == flat(&straight_adam.m)
                        && flat(&adam.v) == flat(&straight_adam.v),
                    "Adam state differs"
                );
                assert_eq!(adam.iterations, straight_adam.iterations);
                assert_eq!(pos.history.epochs, straight_pos.history.epochs);
                break;
            }
            Stop::Interrupted { .. } => assert!(stops < 10, "never finished"),
        }
    }
}

fn clone<'a>(c: &FitConfig<'a>) -> FitConfig<'a> {
    FitConfig {
        epochs: c.epochs,
        settings: c.settings.clone(),
        checkpoint: c.checkpoint.clone(),
        interrupt: c.interrupt,
    }
}

#[test]
fn checkpoint_refuses_other_settings() {
    let (img, lab) = support::idx_files(100, 7);
    let train = Dataset::new(Images::parse(&img).unwrap(), Labels::parse(&lab).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = FitConfig {
        epochs: 1,
        settings: settings(&train, 32),
        checkpoint: Some(dir.path().into()),
        interrupt: None,
    };
    let mut t = fresh(&cfg, 1);
    run(1, &mut t, &cfg, &train, &train, &mut Position::default());
    let model = tutorial::model(0.2);
    let mut other = cfg.settings.clone();
    other.batch_size = 64;
    let mut t2 = ParallelTrainer::new(Adam::default(), 1);
    let err = checkpoint::load(dir.path(), &model, &mut t2, &other)
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("--batch-size 32 in the checkpoint, 64 now"),
        "{err:#}"
    );
    std::fs::write(checkpoint::path(dir.path()), b"garbage").unwrap();
    let err = checkpoint::load(dir.path(), &model, &mut t2, &cfg.settings)
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("not a valid safetensors file"),
        "{err:#}"
    );
}

#[test]
fn picked_batches_train_as_their_samples_copied_out() {
    let (img, lab) = support::idx_files(200, 5);
    let set = Dataset::new(Images::parse(&img).unwrap(), Labels::parse(&lab).unwrap()).unwrap();
    let (images, labels) = (set.images.as_slice(), set.labels.as_slice());
    let model = tutorial::model(0.2);
    let fresh = || {
        let mut t = ParallelTrainer::new(Adam::default(), 2);
        t.init(&model, &mut rand_pcg::Pcg32::seed_from_u64(4));
        t
    };
    let (mut picked, mut copied) = (fresh(), fresh());
    // Batches of 32, 32 and 8 picked out of order, the last one with a repeat (173 is pick 64).
    let picks: Vec<u32> = (0..71).map(|i| (i * 37 + 5) % 200).chain([173]).collect();
    assert_eq!(picks[64], 173);
    let workers = Workers::new(2).unwrap();
    workers.run(|| {
        for (i, p) in picks.chunks(32).enumerate() {
            let noise = Noise::for_step(3, i as u64);
            let a = picked.step(&model, Batch::picked(images, labels, p).unwrap(), noise);
            let x: Vec<_> = p.iter().map(|&j| images[j as usize]).collect();
            let y: Vec<_> = p.iter().map(|&j| labels[j as usize]).collect();
            let b = copied.step(&model, Batch::new(&x, &y).unwrap(), noise);
            assert_eq!(a.unwrap(), b.unwrap(), "step {i}");
        }
    });
    assert_eq!(flat(picked.params()), flat(copied.params()));
    // A copy in another order is another batch: the test above can fail.
    let mut reversed = fresh();
    workers.run(|| {
        let p = &picks[..32];
        let x: Vec<_> = p.iter().rev().map(|&j| images[j as usize]).collect();
        let y: Vec<_> = p.iter().rev().map(|&j| labels[j as usize]).collect();
        let noise = Noise::for_step(3, 0);
        reversed
            .step(&model, Batch::new(&x, &y).unwrap(), noise)
            .unwrap();
    });
    let mut first = fresh();
    workers.run(|| {
        let batch = Batch::picked(images, labels, &picks[..32]).unwrap();
        first.step(&model, batch, Noise::for_step(3, 0)).unwrap();
    });
    assert_ne!(flat(first.params()), flat(reversed.params()));
}

#[test]
fn fit_takes_each_epoch_in_its_shuffled_order() {
    let (img, lab) = support::idx_files(150, 8);
    let train = Dataset::new(Images::parse(&img).unwrap(), Labels::parse(&lab).unwrap()).unwrap();
    let cfg = FitConfig {
        epochs: 2,
        settings: settings(&train, 32),
        checkpoint: None,
        interrupt: None,
    };
    let mut fitted = fresh(&cfg, 2);
    run(
        2,
        &mut fitted,
        &cfg,
        &train,
        &train,
        &mut Position::default(),
    );
    // The same steps by hand: each epoch's order shuffled by `epoch_rng`, cut into batches of
    // 32 (the last one 22), each copied out of the set.
    let model = tutorial::model(cfg.settings.dropout);
    let mut by_hand = fresh(&cfg, 2);
    let (images, labels) = (train.images.as_slice(), train.labels.as_slice());
    let seed = cfg.settings.seed;
    let mut step = 0;
    Workers::new(2).unwrap().run(|| {
        for epoch in 1..=cfg.epochs {
            let mut order: Vec<u32> = (0..train.len() as u32).collect();
            shuffle(&mut order, &mut epoch_rng(seed, epoch));
            for picks in order.chunks(32) {
                let x: Vec<_> = picks.iter().map(|&j| images[j as usize]).collect();
                let y: Vec<_> = picks.iter().map(|&j| labels[j as usize]).collect();
                let batch = Batch::new(&x, &y).unwrap();
                by_hand
                    .step(&model, batch, Noise::for_step(seed, step))
                    .unwrap();
                step += 1;
            }
        }
    });
    assert_eq!(step, 10);
    assert_eq!(flat(fitted.params()), flat(by_hand.params()));
}

#[test]
fn fit_refuses_a_zero_batch_size() {
    let (img, lab) = support::idx_files(40, 2);
    let train = Dataset::new(Images::parse(&img).unwrap(), Labels::parse(&lab).unwrap()).unwrap();
    let cfg = FitConfig {
        epochs: 1,
        settings: settings(&train, 0),
        checkpoint: None,
        interrupt: None,
    };
    let model = tutorial::model(cfg.settings.dropout);
    let mut t = fresh(&cfg, 1);
    let mut pos = Position::default();
    let err = Workers::new(1)
        .unwrap()
        .run(|| fit(&model, &mut t, &cfg, &train, &train, &mut pos))
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("batch size must be at least 1"),
        "{err:#}"
    );
}
