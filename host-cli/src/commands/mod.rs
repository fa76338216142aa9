//! One module per subcommand.

pub mod download;
pub mod evaluate;
pub mod predict;
pub mod quantize;
pub mod summary;
pub mod train;

/// A path as a JSON string (lossy where it is not UTF-8: a report, not a handle).
pub fn path_json(path: &std::path::Path) -> serde_json::Value {
    path.to_string_lossy().into()
}

/// Prints `value` as the one JSON object of a `--json` run.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    crate::out!("{value}")
}
