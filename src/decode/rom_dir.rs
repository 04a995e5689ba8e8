//! The only file-system code of the decoder: a [`RomElfProvider`] over a directory of
//! esp-rom-elfs files (`--rom-elf-dir`, `ESP_ROM_ELF_DIR`). Files are parsed on first use and
//! kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::chip::Chip;
use super::rom::{RomElfProvider, parse_rom_elf_name, select_rev};
use super::symbols::Symbolizer;

/// Parsed ROM ELFs by (chip, revision); `None` records a file that failed to load.
type Loaded = HashMap<(Chip, u32), Option<Arc<Symbolizer>>>;

/// ROM ELFs in a directory, loaded lazily.
pub struct RomElfDir {
    files: HashMap<(Chip, u32), PathBuf>,
    loaded: Mutex<Loaded>,
}

/// Indexes the esp-rom-elfs files in `dir` (names like `esp32c3_rev3_rom.elf`).
pub fn rom_elfs_from_dir(dir: &Path) -> std::io::Result<RomElfDir> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(key) = name.to_str().and_then(parse_rom_elf_name) {
            files.insert(key, entry.path());
        }
    }
    Ok(RomElfDir {
        files,
        loaded: Mutex::new(HashMap::new()),
    })
}

impl RomElfDir {
    /// Number of ROM ELF files found.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the directory holds no ROM ELF file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl RomElfProvider for RomElfDir {
    fn rom_elf(&self, chip: Chip, rev: u32) -> Option<Arc<Symbolizer>> {
        let rev = select_rev(self.files.keys().copied(), chip, rev)?;
        let path = self.files.get(&(chip, rev))?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded
            .entry((chip, rev))
            .or_insert_with(|| {
                let bytes = std::fs::read(path).ok()?;
                Symbolizer::new(bytes).ok().map(Arc::new)
            })
            .clone()
    }
}
