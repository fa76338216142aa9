//! Real MNIST, found through the CLI's own lookup (`--data`, `FLASHNET_DATA`, cache, download):
//! a short training run must learn, and a saved model must reload to the same predictions.

use flashnet::tutorial::{self, InferenceWorkspace};
use flashnet::{Adam, Params};
use flashnet_cli::checkpoint::{Settings, fnv1a};
use flashnet_cli::cli::DataArgs;
use flashnet_cli::fit::{FitConfig, Position, Stop, fit};
use flashnet_cli::mnist::{Mnist, Parts};
use flashnet_cli::parallel::{ParallelTrainer, Workers};
use flashnet_cli::{eval, model_file};
use rand_core::SeedableRng;

#[test]
fn one_epoch_on_half_of_mnist_learns_and_round_trips() {
    let args = DataArgs {
        data: None,
        offline: false,
    };
    let mnist = Mnist::locate_and_load(&args, Parts::TrainAndTest).expect(
        "MNIST not found: set FLASHNET_DATA to a directory with the four IDX files, or go online",
    );
    let (train, test) = (mnist.train().unwrap(), mnist.test().unwrap());
    assert_eq!((train.len(), test.len()), (60_000, 10_000));

    let model = tutorial::model(tutorial::DROPOUT);
    let mut t = ParallelTrainer::new(Adam::default(), 2);
    t.init(&model, &mut rand_pcg::Pcg32::seed_from_u64(42));
    let subset = train.slice(0..30_000);
    let settings = Settings {
        batch_size: 32,
        learning_rate: 0.001,
        dropout: tutorial::DROPOUT,
        seed: 42,
        validation_split: 0.0,
        train_samples: subset.len(),
        labels_fnv: fnv1a(subset.labels.as_slice()),
    };
    let cfg = FitConfig {
        epochs: 1,
        settings,
        checkpoint: None,
        interrupt: None,
    };
    let validation = test.slice(0..1_000);
    let workers = Workers::new(2).unwrap();
    let mut pos = Position::default();
    let stop = workers
        .run(|| fit(&model, &mut t, &cfg, &subset, &validation, &mut pos))
        .unwrap();
    assert_eq!(stop, Stop::Finished);
    assert_eq!(pos.history.epochs.len(), 1);

    let m = workers.run(|| t.evaluate(&model, &test)).unwrap();
    assert!(
        m.accuracy() > 0.93,
        "1 epoch on 30k images should pass 93%, got {}",
        m.accuracy()
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model_file::save(
        &path,
        &model,
        t.params(),
        &serde_json::json!({"test": true}),
    )
    .unwrap();
    let loaded = model_file::load(&path).unwrap();
    let flat = |p: &tutorial::Params| {
        let mut v = Vec::new();
        p.visit(&mut |t| v.extend_from_slice(t));
        v
    };
    assert!(
        flat(&loaded.params) == flat(t.params()),
        "weights changed in the round trip"
    );
    // The single-threaded evaluator agrees with the parallel one.
    let mut ws: Box<InferenceWorkspace<256>> = bytemuck::zeroed_box();
    let again = eval::evaluate(&model, &loaded.params, &mut ws, &test).unwrap();
    assert_eq!(again.confusion, m.confusion);
    assert_eq!(again.correct, m.correct);
}
