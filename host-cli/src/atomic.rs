//! Crash-safe file writes: a temp file beside the target, fsync, rename, fsync the directory.
//! A reader (or a crash) sees either the old file or the new one, never a torn one.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

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
    let (mut f, tmp) = create_temp(dir, &short)
        .with_context(|| format!("cannot write {}: no temp file", path.display()))?;
    let result = (|| -> std::io::Result<()> {
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

/// A new temp file `.{short}.{pid}.{n}.tmp` in `dir`, for the first `n` whose name is free.
/// `create_new` (`O_EXCL`) neither opens an existing file nor follows a symlink, so a file or
/// link planted at a predictable name is skipped, never written through.
fn create_temp(dir: &Path, short: &str) -> std::io::Result<(File, PathBuf)> {
    let pid = std::process::id();
    let mut last = None;
    for n in 0..TEMP_ATTEMPTS {
        let tmp = dir.join(format!(".{short}.{pid}.{n}.tmp"));
        match File::create_new(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| ErrorKind::AlreadyExists.into()))
}

/// How many temp names to try: enough for every thread of this process writing the same file
/// at once, and for leftovers of a crashed run with the same pid.
const TEMP_ATTEMPTS: u32 = 64;

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

    #[cfg(unix)]
    #[test]
    fn symlinks_planted_at_temp_names_are_skipped_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let victim = d.join("victim");
        fs::write(&victim, b"precious").unwrap();
        let pid = std::process::id();
        for n in 0..3 {
            std::os::unix::fs::symlink(&victim, d.join(format!(".m.bin.{pid}.{n}.tmp"))).unwrap();
        }
        let p = d.join("m.bin");
        write(&p, b"model").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"model");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        // The planted links are not ours to remove; our temp file is gone.
        assert_eq!(fs::read_dir(d).unwrap().count(), 5);
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
