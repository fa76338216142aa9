//! The MNIST files in a directory: their names, the cache directory the CLI downloads them to,
//! and [`read`], which returns one file's decompressed bytes (plain or gzip-compressed
//! `<name>.gz`, regular files only, capped in size). Finding a directory holding all four, and
//! downloading, is the CLI's (`flashnet_cli::data`).

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use flashnet::mnist::{Dataset, Images, Labels};

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
pub fn present(path: &Path) -> bool {
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
pub fn candidates(dir: &Path, name: &str) -> [PathBuf; 2] {
    [dir.join(name), dir.join(format!("{name}.gz"))]
}

/// The largest decompressed size accepted for a file (a guard against decompression bombs).
pub fn max_size(name: &str) -> u64 {
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

/// The images and labels of one pair of files (`img_name` and `lab_name` in `dir`, as
/// [`read`] gave them), parsed and checked by the core: the same size, and not empty. Errors
/// name the file.
pub fn dataset<'a>(
    dir: &Path,
    img: &'a [u8],
    img_name: &str,
    lab: &'a [u8],
    lab_name: &str,
) -> Result<Dataset<'a>> {
    let where_ = |name: &str| format!("{name} in {}", dir.display());
    let images = Images::parse(img).with_context(|| where_(img_name))?;
    let labels = Labels::parse(lab).with_context(|| where_(lab_name))?;
    let set = Dataset::new(images, labels)
        .with_context(|| format!("{img_name} and {lab_name} in {}", dir.display()))?;
    anyhow::ensure!(!set.is_empty(), "{} holds no images", where_(img_name));
    Ok(set)
}

#[cfg(test)]
mod tests;
