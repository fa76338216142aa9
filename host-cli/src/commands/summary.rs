//! `flashnet summary`: the Keras-style model table.

use anyhow::Result;
use flashnet::{Layer, Params, tutorial};
use serde_json::json;

use crate::cli::SummaryArgs;
use crate::model_file::named_layers;
use crate::report;

pub fn run(args: &SummaryArgs) -> Result<()> {
    let model = tutorial::model(tutorial::DROPOUT);
    if args.json {
        let layers: Vec<_> = named_layers(&model)
            .into_iter()
            .map(|(name, l)| json!({"name": name, "type": l.kind, "output_shape": l.output_shape, "params": l.params}))
            .collect();
        super::print_json(&json!({
            "model": "sequential",
            "input_shape": [28, 28],
            "layers": layers,
            "total_params": <tutorial::Layers as Layer>::Params::COUNT,
        }))?;
    } else {
        crate::out_raw!("{}", report::summary(&model))?;
    }
    Ok(())
}
