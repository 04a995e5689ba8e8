//! Recycled dump files. Retention hands an evicted dump's file to the next upload into the same
//! folder instead of unlinking it — as PostgreSQL recycles WAL segments and RocksDB its logs
//! (`recycle_log_file_num`) — so that once a device holds `MAX_COREDUMPS` dumps an upload
//! neither allocates an inode nor frees one. On ext4 without a journal, allocating an inode right
//! after many were freed scans past every one freed in the last minute (`recently_deleted()`),
//! which cost a quarter of the machine's CPU at a thousand uploads a second
//! (docs/performance.md#uploads).
//!
//! The rule that keeps this safe: a file is only written while it has a temp name
//! ([`TEMP_PREFIX`](super::TEMP_PREFIX)), so a dump's own name always points at complete bytes
//! that never change. A reader that opened a dump just before it was evicted may see its bytes
//! change under the open handle; [`read_named`] and [`still_named`] detect that, and the reader
//! treats the dump as deleted, which it is. Spares are temp files, so start-up removes any left
//! by a crash, and the pool is memory only.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Spares kept per folder: one is enough at steady state (each upload evicts one, the next takes
/// it); a few more absorb concurrent uploads of the same device.
const PER_FOLDER: usize = 4;
/// Spares kept in all: bounds the memory of the pool and the disk it holds. When it is full, the
/// oldest spare (of a device that has not uploaded since) is removed to make room.
const IN_ALL: usize = 1024;

/// The pool of spare files, by folder.
#[derive(Debug)]
pub struct Spares {
    pool: Mutex<Pool>,
    /// Numbers the spares' names; never reused within a process.
    next: AtomicU64,
    /// Part of every spare's name, so that two processes on one data folder (an overlapping
    /// restart) never pick the same name.
    salt: u64,
}

impl Default for Spares {
    fn default() -> Spares {
        Spares {
            pool: Mutex::default(),
            next: AtomicU64::new(0),
            salt: rand::random(),
        }
    }
}

/// Spares by folder, and all of them in the order they were retired (by number).
#[derive(Debug, Default)]
struct Pool {
    by_folder: HashMap<PathBuf, Vec<u64>>,
    by_age: BTreeMap<u64, PathBuf>,
}

impl Pool {
    fn folder_is_full(&self, dir: &Path) -> bool {
        self.by_folder.get(dir).map_or(0, Vec::len) >= PER_FOLDER
    }

    /// Removes spare `n` from its folder's list (it is already out of `by_age`).
    fn unlist(&mut self, dir: &Path, n: u64) {
        if let Some(list) = self.by_folder.get_mut(dir) {
            list.retain(|&m| m != n);
            if list.is_empty() {
                self.by_folder.remove(dir);
            }
        }
    }
}

impl Spares {
    /// An empty pool.
    pub fn new() -> Spares {
        Spares::default()
    }

    /// Takes `path` — a dump file no row refers to any more — out of sight: it becomes a spare
    /// of its folder under a temp name, or is removed when the folder has enough spares.
    pub fn retire(&self, path: &Path) {
        let Some(dir) = path.parent() else {
            return super::remove_quietly(path);
        };
        if self.lock().folder_is_full(dir) {
            return super::remove_quietly(path);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let spare = dir.join(format!(
            "{}spare-{:016x}-{n}.tmp",
            super::TEMP_PREFIX,
            self.salt
        ));
        match std::fs::rename(path, &spare) {
            Ok(()) => self.put(dir, n, spare),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => super::remove_quietly(path),
        }
    }

    /// A spare of `dir` to write the next file into, if there is one. The caller owns it: it
    /// either renames it into place or removes it.
    pub fn take(&self, dir: &Path) -> Option<PathBuf> {
        let mut pool = self.lock();
        let list = pool.by_folder.get_mut(dir)?;
        let n = list.pop()?;
        if list.is_empty() {
            pool.by_folder.remove(dir);
        }
        pool.by_age.remove(&n)
    }

    /// Removes every spare of `dir` (all of a device's dumps were deleted: no evicted bytes
    /// stay behind). Spares already taken become new dumps or are removed by their writer.
    pub fn forget(&self, dir: &Path) {
        let mut pool = self.lock();
        let numbers = pool.by_folder.remove(dir).unwrap_or_default();
        let files: Vec<PathBuf> = numbers
            .iter()
            .filter_map(|n| pool.by_age.remove(n))
            .collect();
        drop(pool);
        for file in files {
            super::remove_quietly(&file);
        }
    }

    /// How many spares the pool holds.
    pub fn len(&self) -> usize {
        self.lock().by_age.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn put(&self, dir: &Path, n: u64, spare: PathBuf) {
        let mut pool = self.lock();
        if pool.folder_is_full(dir) {
            drop(pool);
            return super::remove_quietly(&spare);
        }
        pool.by_folder.entry(dir.to_path_buf()).or_default().push(n);
        pool.by_age.insert(n, spare);
        let oldest = if pool.by_age.len() > IN_ALL {
            pool.by_age.pop_first()
        } else {
            None
        };
        if let Some((m, old)) = oldest {
            if let Some(old_dir) = old.parent() {
                pool.unlist(old_dir, m);
            }
            drop(pool);
            super::remove_quietly(&old);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        // The pool holds no invariant a panic could break half-way.
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reads a stored dump whole, and checks that its name still points at the file read: a dump
/// evicted (and its file recycled) while it was being read is `NotFound`, never another dump's
/// bytes.
pub fn read_named(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    read_whole_named(&mut file, path, u64::MAX)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "the dump was deleted while it was read",
        )
    })
}

/// Reads the open `file` (at most `limit` bytes), then checks that `path` still names it;
/// `None` when it no longer does (the bytes read may be another dump's).
pub fn read_whole_named(file: &mut File, path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    Read::by_ref(file).take(limit).read_to_end(&mut bytes)?;
    Ok(still_named(file, path)?.then_some(bytes))
}

/// Whether `path` still names the file `file` has open (call it after reading).
pub fn still_named(file: &File, path: &Path) -> io::Result<bool> {
    let held = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(named) => Ok((held.dev(), held.ino()) == (named.dev(), named.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evicted_file_becomes_its_folders_spare_and_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let spares = Spares::new();
        let dump = dir.path().join("coredump_a.dmp");
        std::fs::write(&dump, b"old").unwrap();
        spares.retire(&dump);
        assert!(!dump.exists(), "the dump's name must be gone");
        let spare = spares.take(dir.path()).expect("a spare");
        assert!(super::super::Layout::is_temp_file_name(
            &spare.file_name().unwrap().to_string_lossy()
        ));
        assert_eq!(std::fs::read(&spare).unwrap(), b"old");
        assert_eq!(spares.take(dir.path()), None);
        assert!(spares.take(Path::new("/elsewhere")).is_none());
    }

    #[test]
    fn a_full_folder_removes_instead_of_keeping() {
        let dir = tempfile::tempdir().unwrap();
        let spares = Spares::new();
        for i in 0..PER_FOLDER + 2 {
            let dump = dir.path().join(format!("d{i}.dmp"));
            std::fs::write(&dump, b"x").unwrap();
            spares.retire(&dump);
            assert!(!dump.exists());
        }
        assert_eq!(spares.len(), PER_FOLDER);
        let left = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(
            left, PER_FOLDER,
            "files beyond the folder's spares are removed"
        );
    }

    #[test]
    fn a_full_pool_removes_its_oldest_spare() {
        let dir = tempfile::tempdir().unwrap();
        let spares = Spares::new();
        let folder = |i: usize| dir.path().join(format!("dev{i}"));
        for i in 0..=IN_ALL {
            std::fs::create_dir(folder(i)).unwrap();
            let dump = folder(i).join("d.dmp");
            std::fs::write(&dump, b"x").unwrap();
            spares.retire(&dump);
        }
        assert_eq!(spares.len(), IN_ALL);
        assert_eq!(
            std::fs::read_dir(folder(0)).unwrap().count(),
            0,
            "the oldest spare is removed"
        );
        assert_eq!(spares.take(&folder(0)), None);
        assert!(spares.take(&folder(IN_ALL)).is_some(), "the newest is kept");
        assert!(spares.take(&folder(1)).is_some());
        assert_eq!(spares.len(), IN_ALL - 2);
    }

    #[test]
    fn forgetting_a_folder_removes_its_spares_only() {
        let dir = tempfile::tempdir().unwrap();
        let spares = Spares::new();
        for folder in ["a", "b"] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
            let dump = dir.path().join(folder).join("d.dmp");
            std::fs::write(&dump, b"x").unwrap();
            spares.retire(&dump);
        }
        spares.forget(&dir.path().join("a"));
        assert_eq!(std::fs::read_dir(dir.path().join("a")).unwrap().count(), 0);
        assert_eq!(spares.take(&dir.path().join("a")), None);
        assert!(spares.take(&dir.path().join("b")).is_some());
    }

    #[test]
    fn a_file_gone_before_retiring_is_no_spare() {
        let dir = tempfile::tempdir().unwrap();
        let spares = Spares::new();
        spares.retire(&dir.path().join("never.dmp"));
        assert!(spares.is_empty());
    }

    #[test]
    fn a_read_that_races_an_eviction_reports_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("coredump_a.dmp");
        std::fs::write(&dump, b"dump a").unwrap();
        assert_eq!(read_named(&dump).unwrap(), b"dump a");

        // Opened before the eviction, checked after it: the name no longer points at the file.
        let file = File::open(&dump).unwrap();
        let spares = Spares::new();
        spares.retire(&dump);
        assert!(!still_named(&file, &dump).unwrap());
        // And once the spare is a new dump under another name, the old name is still gone.
        let spare = spares.take(dir.path()).unwrap();
        std::fs::rename(&spare, dir.path().join("coredump_b.dmp")).unwrap();
        assert!(!still_named(&file, &dump).unwrap());
        assert_eq!(
            read_named(&dump).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
