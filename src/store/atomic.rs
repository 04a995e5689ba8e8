//! Atomic, durable file writes: a temp file in the target's own folder, fsync, rename, fsync
//! of the folder. After `write` returns, the file survives a power cut.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `target` atomically and durably. The parent folder is created if needed.
pub fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(target, |f| f.write_all(bytes))
}

/// Like [`write`], with the content produced by `fill` (e.g. a streaming copy).
pub fn write_with(target: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    commit(target, fill, Replace::Yes)
}

/// Like [`write`], but fails with `AlreadyExists` instead of replacing an existing file.
pub fn write_new(target: &Path, bytes: &[u8]) -> io::Result<()> {
    commit(target, |f| f.write_all(bytes), Replace::No)
}

#[derive(PartialEq)]
enum Replace {
    Yes,
    No,
}

/// Temp file in the target's folder, `fill`, fsync, rename (or link without replacing), fsync of
/// the folder. The temp file is removed on every failure path (tempfile's drop).
fn commit(
    target: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
    replace: Replace,
) -> io::Result<()> {
    let dir = target.parent().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "target has no parent folder")
    })?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(super::TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    match replace {
        Replace::Yes => tmp.persist(target).map_err(|e| e.error)?,
        Replace::No => tmp.persist_noclobber(target).map_err(|e| e.error)?,
    };
    sync_dir(dir)
}

/// fsyncs a folder so that a rename or unlink in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/x.bin");
        super::write(&target, b"one").unwrap();
        super::write(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(names.len(), 1, "temp files left behind");
    }
}
