//! Crash-safe file writes: a temp file beside the target, fsync, rename, fsync the directory.
//! A reader (or a crash) sees either the old file or the new one, never a torn one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Atomically replaces `path` with `bytes`.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |f| f.write_all(bytes))
}

/// Atomically replaces `path` with what `fill` writes into the temp file. A symlink is written
/// through (its target replaced), not replaced by a file.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let resolved = follow_symlinks(path)?;
    let path = resolved.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    // The name's first 64 characters: a longer one could push the temp name past the
    // file system's limit (255 bytes) when the target's own name is within it.
    let short: String = name.to_string_lossy().chars().take(64).collect();
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

/// Where writing `path` lands: the file at the end of its chain of symlinks (which need not
/// exist yet), or `path` itself.
fn follow_symlinks(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        if !fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Ok(p);
        }
        let target = fs::read_link(&p)
            .with_context(|| format!("cannot read the symlink {}", p.display()))?;
        p = match p.parent() {
            Some(dir) => dir.join(target), // `join` keeps an absolute target as it is
            None => target,
        };
    }
    anyhow::bail!(
        "cannot write {}: too many levels of symlinks",
        path.display()
    )
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
    fn long_names_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("n".repeat(250));
        write(&long, b"long").unwrap();
        assert_eq!(fs::read(&long).unwrap(), b"long");
        #[cfg(unix)]
        {
            let target = dir.path().join("target.json");
            let link = dir.path().join("link.json");
            fs::write(&target, b"old").unwrap();
            std::os::unix::fs::symlink(&target, &link).unwrap();
            write(&link, b"new").unwrap();
            assert!(
                fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            assert_eq!(fs::read(&target).unwrap(), b"new");
            // A symlink to a file not there yet (relative to the link's directory).
            let dangling = dir.path().join("dangling.json");
            std::os::unix::fs::symlink("new/x.json", &dangling).unwrap();
            write(&dangling, b"x").unwrap();
            assert_eq!(fs::read(dir.path().join("new/x.json")).unwrap(), b"x");
            let looped = dir.path().join("loop");
            std::os::unix::fs::symlink("loop", &looped).unwrap();
            let e = format!("{:#}", write(&looped, b"x").unwrap_err());
            assert!(e.contains("too many levels of symlinks"), "{e}");
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
