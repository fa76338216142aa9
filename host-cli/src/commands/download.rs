//! `flashnet download`: fetch MNIST into the cache (or a directory), verified.

use anyhow::Result;
use serde_json::json;

use crate::cli::DownloadArgs;
use crate::{data, download};

pub fn run(args: &DownloadArgs) -> Result<()> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => data::cache_dir()?,
    };
    download::download_all(&dir)?;
    if args.json {
        super::print_json(&json!({"dir": super::path_json(&dir), "files": data::FILES}))?;
    } else {
        crate::out!("MNIST is in {}", dir.display())?;
    }
    Ok(())
}
