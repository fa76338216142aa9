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
    assert!(format!("{:#}", cache_dir_from(None, None).unwrap_err()).contains("FLASHNET_CACHE"));
}

#[test]
fn source_display() {
    let shown: Vec<String> = [Source::Flag, Source::Env, Source::Cache, Source::Downloaded]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(shown, ["--data", "FLASHNET_DATA", "cache", "download"]);
}
