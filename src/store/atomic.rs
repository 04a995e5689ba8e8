//! Atomic, durable file writes: a temp file in the target's own folder, fsync, rename, fsync
//! of the folder. After `write` returns, the file survives a power cut.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempPath};

/// Writes `bytes` to `target` atomically and durably. The parent folder is created if needed.
pub fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(target, |f| f.write_all(bytes))
}

/// Like [`write`], with the content produced by `fill` (e.g. a streaming copy).
pub fn write_with(target: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    commit(target, fill, Replace::Yes, None)
}

/// Like [`write`], but fails with `AlreadyExists` instead of replacing an existing file; and
/// writes into `spare` (a recycled file of the target's folder, see [`spares`](super::spares))
/// instead of a new temp file when it is given and still there. The spare is consumed either
/// way: renamed into place, or removed on failure.
pub fn write_new_into(target: &Path, bytes: &[u8], spare: Option<PathBuf>) -> io::Result<()> {
    commit(target, |f| f.write_all(bytes), Replace::No, spare)
}

#[derive(PartialEq)]
enum Replace {
    Yes,
    No,
}

/// Temp file in the target's folder (a new one, or the `spare` overwritten from its start and
/// cut to length), `fill`, fsync, rename (or link without replacing), fsync of the folder. The
/// temp file is removed on every failure path (tempfile's drop).
fn commit(
    target: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
    replace: Replace,
    spare: Option<PathBuf>,
) -> io::Result<()> {
    let dir = target.parent().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "target has no parent folder")
    })?;
    let recycled = spare.and_then(reopen);
    let cut_to_length = recycled.is_some();
    let mut tmp = match recycled {
        Some(tmp) => tmp,
        None => {
            std::fs::create_dir_all(dir)?;
            tempfile::Builder::new()
                .prefix(super::TEMP_PREFIX)
                .suffix(".tmp")
                .tempfile_in(dir)?
        }
    };
    fill(tmp.as_file_mut())?;
    if cut_to_length {
        // A recycled file may be longer than what was written.
        let len = tmp.as_file_mut().stream_position()?;
        tmp.as_file().set_len(len)?;
    }
    tmp.as_file().sync_all()?;
    match replace {
        Replace::Yes => tmp.persist(target).map_err(|e| e.error)?,
        Replace::No => tmp.persist_noclobber(target).map_err(|e| e.error)?,
    };
    sync_dir(dir)
}

/// Opens a spare for overwriting, as a temp file that is removed unless persisted; `None` (and
/// the spare left to start-up's clean-up) when it is gone or cannot be opened.
fn reopen(spare: PathBuf) -> Option<NamedTempFile> {
    let file = OpenOptions::new().write(true).open(&spare).ok()?;
    let path = TempPath::try_from_path(spare).ok()?;
    Some(NamedTempFile::from_parts(file, path))
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

    #[test]
    fn a_spare_is_overwritten_cut_to_length_and_renamed_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let spare = dir.path().join(".tmp-spare-1.tmp");
        std::fs::write(&spare, b"a much longer old dump").unwrap();
        let target = dir.path().join("new.dmp");
        super::write_new_into(&target, b"new", Some(spare.clone())).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert!(!spare.exists());

        // A spare that is gone (its folder was emptied) falls back to a new temp file.
        let other = dir.path().join("other.dmp");
        super::write_new_into(&other, b"two", Some(spare.clone())).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"two");

        // A clash consumes the spare and leaves the existing file alone.
        std::fs::write(&spare, b"old").unwrap();
        let err = super::write_new_into(&target, b"clash", Some(spare.clone())).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "the spare must be consumed");
    }
}
