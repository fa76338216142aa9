//! Crash-safe file writes: a temp file beside the target, fsync, rename, fsync the directory.
//! A reader (or a crash) sees either the old file or the new one, never a torn one.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Atomically replaces `path` with `bytes`.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// The directory `path` goes in (`.` for a bare file name).
pub fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Atomically replaces `path` with what `fill` writes into the temp file. A symlink at `path`
/// is replaced by the file, not written through: following it would let whoever owns the link
/// (say, in a shared `/tmp`) choose which of our files gets replaced.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let dir = dir_of(path);
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    // At most the name's first 100 bytes: a longer one could push the temp name past the
    // file system's limit (255 bytes) when the target's own name is within it.
    let mut short = String::new();
    for c in name.to_string_lossy().chars() {
        if short.len() + c.len_utf8() > 100 {
            break;
        }
        short.push(c);
    }
    let tmp = dir.join(format!(".{short}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn long_names_and_symlinks_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("n".repeat(250));
        write(&long, b"long").unwrap();
        assert_eq!(fs::read(&long).unwrap(), b"long");
        let wide = dir.path().join("😀".repeat(63)); // 252 bytes in 63 characters
        write(&wide, b"wide").unwrap();
        assert_eq!(fs::read(&wide).unwrap(), b"wide");
        #[cfg(unix)]
        {
            // A symlink is replaced, its target left alone.
            let target = dir.path().join("target.json");
            let link = dir.path().join("link.json");
            fs::write(&target, b"old").unwrap();
            std::os::unix::fs::symlink(&target, &link).unwrap();
            write(&link, b"new").unwrap();
            assert!(fs::symlink_metadata(&link).unwrap().file_type().is_file());
            assert_eq!(fs::read(&link).unwrap(), b"new");
            assert_eq!(fs::read(&target).unwrap(), b"old");
        }
    }

    #[test]
    fn failed_fill_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write(&p, b"good").unwrap();
        let err = write_with(&p, |_| Err(std::io::Error::other("boom"))).unwrap_err();
        assert!(format!("{err:#}").contains("boom"));
        assert_eq!(fs::read(&p).unwrap(), b"good");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
