//! Walking the blob folders into the archive and reading the archive's entries back: the one
//! place that maps between disk paths and archive paths, refusing anything but plain names.

use std::path::{Component, Path, PathBuf};

use super::{BackupError, ManifestFile, io};
use crate::coredump::MAX_COREDUMP_SIZE;
use crate::store::{TEMP_PREFIX, is_plain_name, spares};

/// Deepest nesting below a blob folder (`<device_key>/<file>`, `<model>/<file>`).
const MAX_DEPTH: usize = 4;

/// Appends every regular file under `root` to `tar` as `<top>/<relative path>`, skipping temp
/// files of atomic writes and the files derived from firmware bundles; returns what was
/// appended.
pub fn append_tree(
    tar: &mut tar::Builder<std::fs::File>,
    top: &str,
    root: &Path,
) -> Result<Vec<ManifestFile>, BackupError> {
    let mut out = Vec::new();
    // Only dump files are recycled (store::spares).
    let recycled = top == super::COREDUMPS;
    if root.exists() {
        walk(tar, root, top, 0, recycled, &mut out)?;
    }
    Ok(out)
}

fn walk(
    tar: &mut tar::Builder<std::fs::File>,
    dir: &Path,
    prefix: &str,
    depth: usize,
    recycled: bool,
    out: &mut Vec<ManifestFile>,
) -> Result<(), BackupError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(io(format!("cannot list {}", dir.display())))?;
    let mut names: Vec<_> = entries.flatten().collect();
    names.sort_by_key(|e| e.file_name());
    for entry in names {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        // Indexes and unpacked ELFs are rebuilt from the bundles at start-up.
        if name.starts_with(TEMP_PREFIX)
            || !is_plain_name(&name)
            || crate::store::Layout::is_derived_firmware_file_name(&name)
        {
            continue;
        }
        let path = entry.path();
        let archived = format!("{prefix}/{name}");
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(tar, &path, &archived, depth + 1, recycled, out)?;
        } else if kind.is_file() {
            // A file removed since the listing (retention) is simply not in the backup.
            let Ok(mut file) = std::fs::File::open(&path) else {
                continue;
            };
            let Some(size) = append_file(tar, &archived, &path, &mut file, recycled)
                .map_err(io(format!("cannot archive {}", path.display())))?
            else {
                continue;
            };
            out.push(ManifestFile {
                path: archived,
                size,
            });
        }
    }
    Ok(())
}

/// Appends the open `file` as `archived`; returns its size, or `None` when it was removed (by
/// retention) while it was read. In a folder whose files retention `recycled` (the dumps'), a
/// file is read whole and then checked to still be named `path`: an evicted dump's file is
/// reused for a later upload ([`spares`]), so bytes read from a handle opened before the
/// eviction could be another dump's. Headers are written in the builder's deterministic mode.
fn append_file(
    tar: &mut tar::Builder<std::fs::File>,
    archived: &str,
    path: &Path,
    file: &mut std::fs::File,
    recycled: bool,
) -> std::io::Result<Option<u64>> {
    let meta = file.metadata()?;
    let limit = MAX_COREDUMP_SIZE as u64;
    if !recycled || meta.len() > limit {
        tar.append_file(archived, file)?;
        return Ok(Some(meta.len()));
    }
    let Some(bytes) = spares::read_whole_named(file, path, limit + 1)? else {
        return Ok(None);
    };
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
    header.set_size(bytes.len() as u64);
    tar.append_data(&mut header, archived, bytes.as_slice())?;
    Ok(Some(bytes.len() as u64))
}

/// The disk path an archive entry goes to: `coredumps/…` under `coredumps_dir`, `assets/…`
/// under `assets_dir`; `None` for anything else, or for a path with `..`, a root or an odd
/// name.
pub fn target(archived: &Path, coredumps_dir: &Path, assets_dir: &Path) -> Option<PathBuf> {
    let mut parts = archived.components();
    let root = match parts.next()? {
        Component::Normal(n) if n == super::COREDUMPS => coredumps_dir,
        Component::Normal(n) if n == super::ASSETS => assets_dir,
        _ => return None,
    };
    let mut out = root.to_path_buf();
    let mut depth = 0;
    for part in parts {
        match part {
            Component::Normal(n) if n.to_str().is_some_and(is_plain_name) => out.push(n),
            _ => return None,
        }
        depth += 1;
    }
    (depth > 0 && depth <= MAX_DEPTH).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_stay_inside_their_folder() {
        let (c, a) = (Path::new("/d/c"), Path::new("/d/a"));
        assert_eq!(
            target(Path::new("coredumps/k/x.dmp"), c, a),
            Some(PathBuf::from("/d/c/k/x.dmp"))
        );
        assert_eq!(
            target(Path::new("assets/m/f.zip"), c, a),
            Some(PathBuf::from("/d/a/m/f.zip"))
        );
        for bad in ["coredumps/../x", "/coredumps/x", "other/x", "coredumps"] {
            assert_eq!(target(Path::new(bad), c, a), None, "{bad}");
        }
    }
}
