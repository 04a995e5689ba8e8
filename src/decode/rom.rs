//! ROM ELFs (Espressif's esp-rom-elfs, e.g. `esp32c3_rev3_rom.elf`): the caller supplies them
//! through [`RomElfProvider`]; the decoder never touches the file system for them (see
//! `rom_dir.rs` for the one directory-backed provider).

use std::collections::HashMap;
use std::sync::Arc;

use super::chip::Chip;
use super::error::DecodeError;
use super::symbols::Symbolizer;

/// Supplies the ROM ELF of a chip revision, as esp-coredump (esp-pylib `get_rom_elf_path`)
/// picks it: `<target>_rev<chip_rev>_rom.elf`, or else the highest revision below `chip_rev`
/// (esp-rom-elfs "choosing the ROM ELF file").
pub trait RomElfProvider: Send + Sync {
    /// The ROM ELF for `chip` at revision `rev` (major×100 + minor), if available.
    fn rom_elf(&self, chip: Chip, rev: u32) -> Option<Arc<Symbolizer>>;
}

/// The revision to use among `available` for `chip` at `rev`: exact, else the highest lower.
pub(crate) fn select_rev(
    available: impl Iterator<Item = (Chip, u32)>,
    chip: Chip,
    rev: u32,
) -> Option<u32> {
    available
        .filter(|&(c, r)| c == chip && r <= rev)
        .map(|(_, r)| r)
        .max()
}

/// Parses an esp-rom-elfs file name: `esp32c3_rev3_rom.elf` → (esp32c3, 3).
pub fn parse_rom_elf_name(name: &str) -> Option<(Chip, u32)> {
    let stem = name.strip_suffix("_rom.elf")?;
    let (target, rev) = stem.rsplit_once("_rev")?;
    Some((Chip::from_name(target)?, rev.parse().ok()?))
}

/// An in-memory set of ROM ELFs.
#[derive(Default)]
pub struct RomElfSet {
    elfs: HashMap<(Chip, u32), Arc<Symbolizer>>,
}

impl RomElfSet {
    /// An empty set.
    pub fn new() -> RomElfSet {
        RomElfSet::default()
    }

    /// Adds a ROM ELF for `chip` revision `rev`.
    pub fn insert(&mut self, chip: Chip, rev: u32, elf: Vec<u8>) -> Result<(), DecodeError> {
        let s = Symbolizer::new(elf)?;
        self.elfs.insert((chip, rev), Arc::new(s));
        Ok(())
    }

    /// Number of ROM ELFs in the set.
    pub fn len(&self) -> usize {
        self.elfs.len()
    }

    /// Whether the set holds no ROM ELF.
    pub fn is_empty(&self) -> bool {
        self.elfs.is_empty()
    }
}

impl RomElfProvider for RomElfSet {
    fn rom_elf(&self, chip: Chip, rev: u32) -> Option<Arc<Symbolizer>> {
        let r = select_rev(self.elfs.keys().copied(), chip, rev)?;
        self.elfs.get(&(chip, r)).cloned()
    }
}
