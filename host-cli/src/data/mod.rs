//! Where the MNIST files live and how to read them.
//!
//! The four standard IDX files may sit in a directory plain or gzip-compressed (`<name>.gz`).
//! [`locate`] finds a directory holding all four (`--data`, then `FLASHNET_DATA`, then the
//! cache, downloading into the cache if allowed) and [`read`] returns one file's decompressed
//! bytes. Directories given by the user are not checksummed, so look-alike data sets with the
//! same file names (Fashion-MNIST, KMNIST) work too; only downloads are verified. The file names,
//! the cache directory and [`read`] are shared with the firmware's build script
//! ([`flashnet_files::mnist_files`], re-exported here); finding a directory is the CLI's.

pub use flashnet_files::mnist_files::*;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Where a data directory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The `--data DIR` command-line flag.
    Flag,
    /// The `FLASHNET_DATA` environment variable.
    Env,
    /// The cache directory, already populated.
    Cache,
    /// The cache directory, populated by downloading just now.
    Downloaded,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Flag => "--data",
            Source::Env => DATA_ENV,
            Source::Cache => "cache",
            Source::Downloaded => "download",
        })
    }
}

/// A directory holding the four standard files, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    /// The directory.
    pub path: PathBuf,
    /// Where it came from.
    pub source: Source,
}

/// Finds the MNIST directory.
///
/// Resolution order: `flag` (`--data DIR`), then env `FLASHNET_DATA`, then the cache dir; if
/// none holds the four files and `allow_download`, download into the cache.
/// A `--data` or `FLASHNET_DATA` directory that is given but lacks files is an error (it does
/// not fall through to the cache): the message names each missing file and where it looked.
pub fn locate(flag: Option<&Path>, allow_download: bool) -> Result<DataDir> {
    let env = std::env::var_os(DATA_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    locate_with(
        flag,
        env,
        cache_dir,
        allow_download,
        crate::download::download_all,
    )
}

/// [`locate`] with its inputs injected: `env` is the value of `FLASHNET_DATA`, `cache` yields
/// the cache directory (only called when needed) and `download` fills a directory.
fn locate_with(
    flag: Option<&Path>,
    env: Option<PathBuf>,
    cache: impl FnOnce() -> Result<PathBuf>,
    allow_download: bool,
    download: impl FnOnce(&Path) -> Result<()>,
) -> Result<DataDir> {
    if let Some(dir) = flag {
        return given_dir(dir, Source::Flag, &format!("--data {}", dir.display()));
    }
    if let Some(dir) = env {
        let what = format!("{DATA_ENV}={}", dir.display());
        return given_dir(&dir, Source::Env, &what);
    }
    let cache = cache()?;
    let missing = missing_files(&cache);
    if missing.is_empty() {
        return Ok(DataDir {
            path: cache,
            source: Source::Cache,
        });
    }
    if !allow_download {
        bail!(
            "MNIST data not found: the cache {} {}; downloading is disabled, \
             so pass --data DIR or set {DATA_ENV}",
            cache.display(),
            describe_missing(&cache, &missing),
        );
    }
    download(&cache).with_context(|| format!("cannot download MNIST into {}", cache.display()))?;
    let missing = missing_files(&cache);
    if !missing.is_empty() {
        bail!(
            "after downloading, the cache {} {}",
            cache.display(),
            describe_missing(&cache, &missing)
        );
    }
    Ok(DataDir {
        path: cache,
        source: Source::Downloaded,
    })
}

/// Checks a directory the user named (`what` says how, e.g. `--data /x`).
fn given_dir(dir: &Path, source: Source, what: &str) -> Result<DataDir> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{what}: not a directory"),
        Err(e) => bail!("{what}: cannot open directory: {e}"),
    }
    let missing = missing_files(dir);
    if !missing.is_empty() {
        bail!("{what}: the directory {}", describe_missing(dir, &missing));
    }
    Ok(DataDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// The standard files that `dir` holds neither plain nor as `.gz`.
pub(crate) fn missing_files(dir: &Path) -> Vec<&'static str> {
    FILES
        .into_iter()
        .filter(|name| candidates(dir, name).iter().all(|p| !present(p)))
        .collect()
}

/// "lacks X (looked for /d/X and /d/X.gz)", for an error message.
fn describe_missing(dir: &Path, missing: &[&str]) -> String {
    if let [name] = missing {
        let [plain, gz] = candidates(dir, name);
        return format!(
            "lacks {name} (looked for {} and {})",
            plain.display(),
            gz.display()
        );
    }
    let [plain, gz] = candidates(dir, "<name>");
    format!(
        "lacks {} (looked for each as {} and {})",
        missing.join(", "),
        plain.display(),
        gz.display()
    )
}

#[cfg(test)]
mod tests;
