//! One module per subcommand.

pub mod download;
pub mod evaluate;
pub mod predict;
pub mod quantize;
pub mod summary;
pub mod train;

/// Prints `value` as the one JSON object of a `--json` run.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}
