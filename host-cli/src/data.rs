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
mod tests {
    use super::*;
    use crate::gunzip::gzip;

    /// A directory with all four files, alternating plain and gzip.
    fn complete_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (i, name) in FILES.iter().enumerate() {
            let content = format!("content of {name}");
            if i % 2 == 0 {
                fs::write(dir.path().join(name), content).unwrap();
            } else {
                fs::write(
                    dir.path().join(format!("{name}.gz")),
                    gzip(content.as_bytes()),
                )
                .unwrap();
            }
        }
        dir
    }

    fn no_cache() -> Result<PathBuf> {
        panic!("the cache must not be consulted")
    }

    fn no_download(_: &Path) -> Result<()> {
        panic!("nothing must be downloaded")
    }

    #[test]
    fn read_round_trips_plain_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(TRAIN_LABELS), [0, 0, 8, 1, 7, 2]).unwrap();
        fs::write(
            dir.path().join(format!("{TEST_LABELS}.gz")),
            gzip(&[0, 0, 8, 1, 3]),
        )
        .unwrap();
        assert_eq!(read(dir.path(), TRAIN_LABELS).unwrap(), [0, 0, 8, 1, 7, 2]);
        assert_eq!(read(dir.path(), TEST_LABELS).unwrap(), [0, 0, 8, 1, 3]);
    }

    #[test]
    fn read_prefers_the_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(TEST_IMAGES), b"plain").unwrap();
        fs::write(dir.path().join(format!("{TEST_IMAGES}.gz")), gzip(b"gz")).unwrap();
        assert_eq!(read(dir.path(), TEST_IMAGES).unwrap(), b"plain");
    }

    #[test]
    fn read_reads_concatenated_gzip_members() {
        let dir = tempfile::tempdir().unwrap();
        let mut both = gzip(b"first ");
        both.extend(gzip(b"second"));
        fs::write(dir.path().join(format!("{TEST_LABELS}.gz")), both).unwrap();
        assert_eq!(read(dir.path(), TEST_LABELS).unwrap(), b"first second");
    }

    #[test]
    fn read_ignores_zero_padding_and_names_other_trailing_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{TEST_LABELS}.gz"));
        fs::write(&path, [gzip(b"labels"), vec![0; 1000]].concat()).unwrap();
        assert_eq!(read(dir.path(), TEST_LABELS).unwrap(), b"labels");
        fs::write(&path, [gzip(b"labels"), b"junk".to_vec()].concat()).unwrap();
        let msg = format!("{:#}", read(dir.path(), TEST_LABELS).unwrap_err());
        assert!(
            msg.contains(&format!("corrupt gzip stream in {}", path.display()))
                && msg.contains("neither a gzip member nor zero padding"),
            "{msg}"
        );
    }

    #[test]
    fn read_missing_file_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let msg = format!("{:#}", read(dir.path(), TRAIN_IMAGES).unwrap_err());
        assert!(msg.contains("train-images-idx3-ubyte not found"), "{msg}");
        assert!(
            msg.contains(&format!("{}.gz", dir.path().join(TRAIN_IMAGES).display())),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn read_names_a_symlink_loop_instead_of_missing_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let looped = dir.path().join(TRAIN_LABELS);
        std::os::unix::fs::symlink(TRAIN_LABELS, &looped).unwrap();
        assert!(missing_files(dir.path()).iter().all(|&f| f != TRAIN_LABELS));
        let msg = format!("{:#}", read(dir.path(), TRAIN_LABELS).unwrap_err());
        assert!(
            msg.contains(&format!("cannot read {}", looped.display())),
            "{msg}"
        );
        assert!(msg.contains("symbolic links"), "{msg}");
    }

    #[test]
    fn read_directory_in_place_of_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(TRAIN_IMAGES)).unwrap();
        let msg = format!("{:#}", read(dir.path(), TRAIN_IMAGES).unwrap_err());
        assert!(
            msg.contains("train-images-idx3-ubyte is a directory"),
            "{msg}"
        );
    }

    #[test]
    fn read_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(TRAIN_LABELS), b"").unwrap();
        fs::write(dir.path().join(format!("{TEST_LABELS}.gz")), b"").unwrap();
        fs::write(dir.path().join(format!("{TEST_IMAGES}.gz")), gzip(b"")).unwrap();
        for (name, what) in [
            (TRAIN_LABELS, "train-labels-idx1-ubyte is empty"),
            (TEST_LABELS, "t10k-labels-idx1-ubyte.gz is empty"),
            (
                TEST_IMAGES,
                "t10k-images-idx3-ubyte.gz is empty once decompressed",
            ),
        ] {
            let msg = format!("{:#}", read(dir.path(), name).unwrap_err());
            assert!(msg.contains(what), "{msg}");
        }
    }

    #[test]
    fn read_corrupt_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let good = gzip(&[7u8; 1000]);
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 0xff;
        let cases = [
            (TRAIN_LABELS, b"this is not gzip".to_vec()),
            (TEST_LABELS, good[..good.len() - 6].to_vec()),
            (TEST_IMAGES, flipped),
            (TRAIN_IMAGES, good[..good.len() / 2].to_vec()),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join(format!("{name}.gz"));
            fs::write(&path, bytes).unwrap();
            let msg = format!("{:#}", read(dir.path(), name).unwrap_err());
            let want = format!("corrupt gzip stream in {}: ", path.display());
            assert!(msg.starts_with(&want), "{name}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn read_caps_decompressed_size() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = gzip(&vec![0u8; MAX_LABELS_BYTES as usize + 1]);
        assert!(bomb.len() < 10_000);
        fs::write(dir.path().join(format!("{TRAIN_LABELS}.gz")), bomb).unwrap();
        let msg = format!("{:#}", read(dir.path(), TRAIN_LABELS).unwrap_err());
        assert!(msg.contains("decompresses to more than"), "{msg}");
        assert!(msg.contains("train-labels-idx1-ubyte.gz"), "{msg}");
        fs::write(
            dir.path().join(TEST_LABELS),
            vec![0u8; MAX_LABELS_BYTES as usize + 1],
        )
        .unwrap();
        let msg = format!("{:#}", read(dir.path(), TEST_LABELS).unwrap_err());
        assert!(msg.contains("more than the"), "{msg}");
    }

    #[test]
    fn locate_flag_dir_complete() {
        let dir = complete_dir();
        let env = Some(PathBuf::from("/nonexistent/env"));
        let found = locate_with(Some(dir.path()), env, no_cache, true, no_download).unwrap();
        assert_eq!(
            found,
            DataDir {
                path: dir.path().to_path_buf(),
                source: Source::Flag
            }
        );
    }

    #[test]
    fn locate_flag_dir_missing_a_file_is_an_error() {
        let dir = complete_dir();
        fs::remove_file(dir.path().join(format!("{TRAIN_LABELS}.gz"))).unwrap();
        let cache = complete_dir();
        let cache_path = cache.path().to_path_buf();
        let err = locate_with(Some(dir.path()), None, || Ok(cache_path), true, no_download);
        let msg = format!("{:#}", err.unwrap_err());
        assert!(msg.starts_with("--data "), "{msg}");
        assert!(
            msg.contains("lacks train-labels-idx1-ubyte (looked for"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("{}.gz", dir.path().join(TRAIN_LABELS).display())),
            "{msg}"
        );
        for present in [TRAIN_IMAGES, TEST_IMAGES, TEST_LABELS] {
            assert!(!msg.contains(present), "{msg}");
        }
    }

    #[test]
    fn locate_flag_that_is_not_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let msg = format!(
            "{:#}",
            locate_with(Some(&missing), None, no_cache, true, no_download).unwrap_err()
        );
        assert!(msg.contains("cannot open directory"), "{msg}");
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        let msg = format!(
            "{:#}",
            locate_with(Some(&file), None, no_cache, true, no_download).unwrap_err()
        );
        assert!(msg.contains("not a directory"), "{msg}");
    }

    #[test]
    fn locate_env_dir() {
        let dir = complete_dir();
        let found =
            locate_with(None, Some(dir.path().into()), no_cache, true, no_download).unwrap();
        assert_eq!(found.source, Source::Env);
        let empty = tempfile::tempdir().unwrap();
        let err = locate_with(None, Some(empty.path().into()), no_cache, true, no_download);
        let msg = format!("{:#}", err.unwrap_err());
        assert!(msg.starts_with("FLASHNET_DATA="), "{msg}");
        for name in FILES {
            assert!(msg.contains(name), "{msg}");
        }
    }

    #[test]
    fn locate_uses_a_complete_cache() {
        let cache = complete_dir();
        let path = cache.path().to_path_buf();
        let found = locate_with(None, None, || Ok(path), false, no_download).unwrap();
        assert_eq!(
            found,
            DataDir {
                path: cache.path().to_path_buf(),
                source: Source::Cache
            }
        );
    }

    #[test]
    fn locate_downloads_into_an_incomplete_cache() {
        let base = tempfile::tempdir().unwrap();
        let cache = base.path().join("flashnet").join("mnist");
        let fill = |dir: &Path| {
            for name in FILES {
                crate::atomic::write(&dir.join(name), b"x")?;
            }
            Ok(())
        };
        let found = locate_with(None, None, || Ok(cache.clone()), true, fill).unwrap();
        assert_eq!(
            found,
            DataDir {
                path: cache.clone(),
                source: Source::Downloaded
            }
        );

        let msg = format!(
            "{:#}",
            locate_with(None, None, || Ok(base.path().into()), false, no_download).unwrap_err()
        );
        assert!(msg.contains("downloading is disabled"), "{msg}");
        assert!(msg.contains(TEST_LABELS), "{msg}");

        let failing = |_: &Path| Err(anyhow!("no network"));
        let msg = format!(
            "{:#}",
            locate_with(None, None, || Ok(base.path().into()), true, failing).unwrap_err()
        );
        assert!(
            msg.contains("cannot download MNIST into") && msg.contains("no network"),
            "{msg}"
        );
    }

    #[test]
    fn cache_dir_resolution() {
        let env = Some(PathBuf::from("/custom/cache"));
        assert_eq!(
            cache_dir_from(env, None).unwrap(),
            Path::new("/custom/cache")
        );
        let platform = Some(PathBuf::from("/home/u/.cache"));
        assert_eq!(
            cache_dir_from(Some(PathBuf::new()), platform).unwrap(),
            Path::new("/home/u/.cache/flashnet/mnist")
        );
        assert!(
            format!("{:#}", cache_dir_from(None, None).unwrap_err()).contains("FLASHNET_CACHE")
        );
    }

    #[test]
    fn source_display() {
        let shown: Vec<String> = [Source::Flag, Source::Env, Source::Cache, Source::Downloaded]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(shown, ["--data", "FLASHNET_DATA", "cache", "download"]);
    }
}
