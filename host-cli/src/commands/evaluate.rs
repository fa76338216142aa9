//! `flashnet evaluate`: test loss, accuracy and confusion matrix of a saved model.

use anyhow::Result;
use flashnet::tutorial::{self, InferenceWorkspace};
use serde_json::json;

use crate::cli::EvaluateArgs;
use crate::eval::evaluate;
use crate::mnist::{Mnist, Parts};
use crate::{model_file, report};

pub fn run(args: &EvaluateArgs) -> Result<()> {
    let loaded = model_file::load(&args.model)?;
    let mnist = Mnist::locate_and_load(&args.data, Parts::Test)?;
    let test = mnist.test()?;
    let model = tutorial::model(tutorial::DROPOUT);
    let mut ws: Box<InferenceWorkspace<256>> = bytemuck::zeroed_box();
    let m = evaluate(&model, &loaded.params, &mut ws, &test)?;
    eprint!("{}", report::confusion(&m.confusion));
    if args.json {
        super::print_json(&json!({
            "model": args.model,
            "test_accuracy": m.accuracy(),
            "test_loss": m.loss(),
            "samples": m.count,
            "confusion_matrix": m.confusion.counts,
        }));
    } else {
        println!(
            "test_accuracy: {:.4} - test_loss: {:.4} ({} images)",
            m.accuracy(),
            m.loss(),
            m.count
        );
    }
    Ok(())
}
