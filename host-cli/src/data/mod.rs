//! Where the MNIST files live and how to read them.
//!
//! The four standard IDX files may sit in a directory plain or gzip-compressed (`<name>.gz`).
//! [`locate`] finds a directory holding all four (`--data`, then `FLASHNET_DATA`, then the
//! cache, downloading into the cache if allowed) and [`read`] returns one file's decompressed
//! bytes. Directories given by the user are not checksummed, so look-alike data sets with the
//! same file names (Fashion-MNIST, KMNIST) work too; only downloads are verified.

use std::fmt;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::gunzip::Gunzip;

/// Training images, 60000 × 28 × 28.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Training labels, 60000.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Test images, 10000 × 28 × 28.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Test labels, 10000.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// The four standard files, in the order they are checked and downloaded.
pub const FILES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// Environment variable naming a data directory (used when `--data` is not given).
pub const DATA_ENV: &str = "FLASHNET_DATA";
/// Environment variable overriding the cache directory.
pub const CACHE_ENV: &str = "FLASHNET_CACHE";

/// Largest decompressed image file accepted (the MNIST training images are 47 MB).
const MAX_IMAGES_BYTES: u64 = 64 << 20;
/// Largest decompressed label file accepted (the MNIST training labels are 60 kB).
const MAX_LABELS_BYTES: u64 = 1 << 20;

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

/// The cache: env `FLASHNET_CACHE` if set, else `dirs::cache_dir()/flashnet/mnist`
/// (like Keras' `~/.keras/datasets`).
pub fn cache_dir() -> Result<PathBuf> {
    cache_dir_from(
        std::env::var_os(CACHE_ENV).map(PathBuf::from),
        dirs::cache_dir(),
    )
}

/// [`cache_dir`] with the environment value and the platform cache directory injected.
fn cache_dir_from(env: Option<PathBuf>, platform: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = env.filter(|d| !d.as_os_str().is_empty()) {
        return Ok(dir);
    }
    let base = platform.ok_or_else(|| {
        anyhow!("this platform has no cache directory; set {CACHE_ENV} or pass --data DIR")
    })?;
    Ok(base.join("flashnet").join("mnist"))
}

/// Whether something is at `path`: a file, or an entry we cannot follow (a symlink loop, no
/// permission), which [`read`] then reports as what it is instead of "not found". A dangling
/// symlink counts as absent.
fn present(path: &Path) -> bool {
    !matches!(path.try_exists(), Ok(false))
}

/// Every path [`read`] may take a standard file from in `dir` (plain and `.gz`, present or
/// not): no output may go there, over a file or in front of one (the plain name would hide the
/// `.gz`).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    FILES
        .iter()
        .flat_map(|name| candidates(dir, name))
        .collect()
}

/// The two places a standard file may be: `dir/name` and `dir/name.gz`, in order of preference.
fn candidates(dir: &Path, name: &str) -> [PathBuf; 2] {
    [dir.join(name), dir.join(format!("{name}.gz"))]
}

/// The largest decompressed size accepted for a file (a guard against decompression bombs).
pub(crate) fn max_size(name: &str) -> u64 {
    if name.contains("labels") {
        MAX_LABELS_BYTES
    } else {
        MAX_IMAGES_BYTES
    }
}

/// Whole decompressed bytes of one standard file from `dir` (prefers the plain file, then
/// `.gz`). Errors name the file: missing, a directory, empty, too large, or corrupt gzip.
pub fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let [plain, gz] = candidates(dir, name);
    let (path, compressed) = if present(&plain) {
        (plain, false)
    } else if present(&gz) {
        (gz, true)
    } else {
        bail!(
            "{name} not found in {} (looked for {} and {})",
            dir.display(),
            plain.display(),
            gz.display()
        );
    };
    let meta = fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        bail!(
            "{} is a directory, expected the file {name}",
            path.display()
        );
    }
    if !meta.is_file() {
        bail!(
            "{} is not a regular file (a device, pipe or socket), expected the file {name}",
            path.display()
        );
    }
    if meta.len() == 0 {
        bail!("{} is empty", path.display());
    }
    let cap = max_size(name);
    if !compressed && meta.len() > cap {
        bail!(
            "{} is {} bytes, more than the {cap}-byte limit for {name}",
            path.display(),
            meta.len()
        );
    }
    let file = File::open(&path).map_err(|e| anyhow!("cannot open {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    if compressed {
        Gunzip::new(BufReader::new(file))
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow!("corrupt gzip stream in {}: {e}", path.display()))?;
        if bytes.len() as u64 > cap {
            bail!(
                "{} decompresses to more than the {cap}-byte limit for {name}",
                path.display()
            );
        }
        if bytes.is_empty() {
            bail!("{} is empty once decompressed", path.display());
        }
    } else {
        BufReader::new(file)
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
