//! [`Engine`]: the one front door to the decoder for every caller — the parse workers, the
//! `crashbox sidecar` server and `crashbox decode`. It owns what they must agree on: the size
//! limits of dumps and ELFs, the time budget of one decode, how a chip name is read, the
//! symbolizer cache and the ROM ELF set.
//!
//! This file also reads dump and ELF files with those limits (the decoder itself never touches
//! the file system).

use super::symbols::ElfData;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    Analysis, Chip, DecodeError, Options, RomElfProvider, Symbolizer, SymbolizerCache,
    rom_elfs_from_dir,
};

/// Largest core dump read: full flash partitions of the biggest chips fit.
pub const MAX_DUMP_BYTES: u64 = 64 << 20;
/// Largest app ELF read (from a file or out of a firmware bundle).
pub const MAX_ELF_BYTES: u64 = 256 << 20;
/// Time one decode may take before its backtraces are cut short (the result is then partial,
/// with a warning).
pub const DECODE_BUDGET: Duration = Duration::from_secs(30);
/// Memory the cached symbolizers may take together.
pub const CACHE_BYTES: usize = 128 << 20;

/// Why a file could not be read for decoding.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file does not exist.
    #[error("cannot open {path}: {source}")]
    NotFound {
        /// The file asked for.
        path: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// Opening or reading failed otherwise.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file asked for.
        path: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// The file is larger than the limit.
    #[error("{path} is larger than {limit} bytes")]
    TooLarge {
        /// The file asked for.
        path: String,
        /// The limit in bytes.
        limit: u64,
    },
}

/// Reads at most `limit` bytes from `r`; more is [`ReadError::TooLarge`]. `size_hint` (a
/// file's length, capped by `limit`) is reserved up front, sparing the growing buffer's copies.
fn read_limited(
    r: impl Read,
    limit: u64,
    path: &str,
    size_hint: u64,
) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::with_capacity(usize::try_from(size_hint.min(limit)).unwrap_or(0) + 1);
    r.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|source| ReadError::Io {
            path: path.to_string(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: path.to_string(),
            limit,
        });
    }
    Ok(buf)
}

/// An I/O error on `path`, "not found" told apart.
fn io_error(path: &str, source: std::io::Error) -> ReadError {
    let path = path.to_string();
    if source.kind() == std::io::ErrorKind::NotFound {
        ReadError::NotFound { path, source }
    } else {
        ReadError::Io { path, source }
    }
}

fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let shown = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| io_error(&shown, e))?;
    let size_hint = f.metadata().map(|m| m.len()).unwrap_or(0);
    read_limited(f, limit, &shown, size_hint)
}

/// Reads a core dump file (any container) up to [`MAX_DUMP_BYTES`]; `-` is standard input.
pub fn read_dump(path: &Path) -> Result<Vec<u8>, ReadError> {
    if path.as_os_str() == "-" {
        return read_limited(std::io::stdin().lock(), MAX_DUMP_BYTES, "standard input", 0);
    }
    read_file(path, MAX_DUMP_BYTES)
}

/// Reads an app ELF file up to [`MAX_ELF_BYTES`].
pub fn read_elf(path: &Path) -> Result<Vec<u8>, ReadError> {
    read_file(path, MAX_ELF_BYTES)
}

/// Opens an app ELF file of at most [`MAX_ELF_BYTES`] for one decode, mapped rather than read
/// (see [`ElfData::map`]).
pub fn map_elf(path: &Path) -> Result<ElfData, ReadError> {
    let shown = path.display().to_string();
    let io = |e| io_error(&shown, e);
    let f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    // A pipe (`--elf <(unzip -p fw.zip app.elf)`) or a device cannot be mapped: read it.
    if !meta.is_file() {
        return read_limited(f, MAX_ELF_BYTES, &shown, 0).map(ElfData::Heap);
    }
    if meta.len() > MAX_ELF_BYTES {
        return Err(ReadError::TooLarge {
            path: shown.clone(),
            limit: MAX_ELF_BYTES,
        });
    }
    match ElfData::map(&f) {
        Ok(elf) => Ok(elf),
        // A file system that does not map files: read it.
        Err(_) => read_limited(f, MAX_ELF_BYTES, &shown, meta.len()).map(ElfData::Heap),
    }
}

/// Reads a chip name given by a person or a device (`esp32c3`, `ESP32-C3`): empty means "not
/// given" (`Ok(None)`), an unknown name is an error listing the known ones. What to do with the
/// error is the caller's: a command line or a sidecar request rejects it; the parse workers log
/// it and decode without the hint (a device's `chip` is free text, and the dump usually records
/// its chip anyway).
pub fn parse_chip(name: &str) -> Result<Option<Chip>, String> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    name.parse::<Chip>().map(Some)
}

/// The decoder with its limits, symbolizer cache and ROM ELFs; one per process, shared by
/// reference (it is `Sync`).
pub struct Engine {
    cache: SymbolizerCache,
    rom_elfs: Option<Arc<dyn RomElfProvider>>,
    budget: Duration,
    stack_scan: bool,
}

impl Engine {
    /// An engine without ROM ELFs (ROM frames stay unnamed; RISC-V walks go past ROM code by
    /// stack scanning).
    pub fn new() -> Engine {
        Engine {
            cache: SymbolizerCache::new(CACHE_BYTES),
            rom_elfs: None,
            budget: DECODE_BUDGET,
            stack_scan: true,
        }
    }

    /// The same engine with RISC-V stack scanning on or off (off: walks stop at ROM code
    /// without a ROM ELF, as gdb's do, so reports match gdb's frame for frame).
    pub fn with_stack_scan(mut self, on: bool) -> Engine {
        self.stack_scan = on;
        self
    }

    /// An engine with the ROM ELFs of `dir` (esp-coredump's `<chip>_rev<n>_rom.elf` names),
    /// or none when `dir` is `None`. An unreadable folder is an error.
    pub fn with_rom_dir(dir: Option<&Path>) -> Result<Engine, ReadError> {
        let mut engine = Engine::new();
        if let Some(dir) = dir {
            let roms = rom_elfs_from_dir(dir).map_err(|source| ReadError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            engine.rom_elfs = Some(Arc::new(roms));
        }
        Ok(engine)
    }

    /// The symbolizer of an app ELF, from the cache or built (and cached). `sha256` is the
    /// ELF's SHA-256 when the caller already knows it, which spares hashing it again.
    pub fn symbolizer(
        &self,
        elf: &[u8],
        sha256: Option<&[u8; 32]>,
    ) -> Result<Arc<Symbolizer>, DecodeError> {
        if let Some(s) = sha256.and_then(|h| self.cache.get(h)) {
            return Ok(s);
        }
        self.cache.get_or_build(elf)
    }

    /// Decodes one dump within the time budget. `chip` is the hint for dumps that do not
    /// record their chip.
    pub fn decode(
        &self,
        dump: &[u8],
        symbolizer: Option<&Symbolizer>,
        chip: Option<Chip>,
    ) -> Result<Analysis, DecodeError> {
        let opts = Options {
            chip,
            rom_elfs: self.rom_elfs.clone(),
            deadline: Some(Instant::now() + self.budget),
            stack_scan: self.stack_scan,
            ..Options::default()
        };
        super::decode(dump, symbolizer, &opts)
    }

    /// Symbolizers cached now.
    pub fn cached_symbolizers(&self) -> usize {
        self.cache.len()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_names() {
        assert_eq!(parse_chip("").unwrap(), None);
        assert_eq!(parse_chip(" ESP32-C3 ").unwrap(), Some(Chip::Esp32c3));
        let err = parse_chip("esp8266").unwrap_err();
        assert!(
            err.contains("unknown chip") && err.contains("esp32c3"),
            "{err}"
        );
    }

    #[test]
    fn reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(read_file(&small, 3).unwrap(), b"abc");
        assert!(matches!(
            read_file(&small, 2),
            Err(ReadError::TooLarge { limit: 2, .. })
        ));
        assert!(matches!(
            read_elf(&dir.path().join("missing")),
            Err(ReadError::NotFound { .. })
        ));
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        let engine = Engine::new();
        assert!(engine.decode(b"not a core dump", None, None).is_err());
        assert!(engine.symbolizer(b"not an elf", None).is_err());
        assert_eq!(engine.cached_symbolizers(), 0);
    }
}
