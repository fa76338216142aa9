use super::*;
use crate::gunzip::gzip;
use anyhow::anyhow;

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
    let found = locate_with(None, Some(dir.path().into()), no_cache, true, no_download).unwrap();
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
fn source_display() {
    let shown: Vec<String> = [Source::Flag, Source::Env, Source::Cache, Source::Downloaded]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(shown, ["--data", "FLASHNET_DATA", "cache", "download"]);
}
