use super::*;
use crate::gunzip::gzip;

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
    assert!(present(&looped));
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
