//! The built-in decoder step of a parse job (issue 5, item 6): decodes the dump in-process with
//! `crate::decode`, on the worker thread, with a time budget. One [`Native`] per pool holds the
//! symbolizer cache (keyed by the ELF's SHA-256, memory-bounded), so the second dump of a
//! firmware version does not parse DWARF again.
//!
//! The job (`crate::worker::job`) calls [`Native::decode`] after finding the ELF, stores
//! `analysis` in both modes, and, without a sidecar, turns `report` into `PARSED` (the text) or
//! `ERROR` (`Unable to parse coredump: <reason>`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::elf_cache::Elf;
use crate::config::Config;
use crate::decode::{self, Chip, Options, SymbolizerCache};

/// Memory the cached symbolizers may take (as `crashbox sidecar`).
const CACHE_BYTES: usize = 128 << 20;
/// Time one decode may take before the result is cut short (as `crashbox sidecar`).
const BUDGET: Duration = Duration::from_secs(30);

/// What the built-in decoder made of one dump.
#[derive(Debug, Clone)]
pub struct NativeOutcome {
    /// The structured analysis as JSON (stored in `coredumps.analysis`).
    pub analysis: Option<String>,
    /// The text report (`info_corefile` layout), or why the dump could not be decoded.
    pub report: Result<String, String>,
}

/// The built-in decoder as the workers share it.
pub struct Native {
    cache: SymbolizerCache,
    rom_elfs: Option<Arc<dyn decode::RomElfProvider>>,
}

impl Native {
    pub fn new(config: &Config) -> Native {
        let rom_elfs = config.rom_elf_dir.as_ref().and_then(|dir| {
            match decode::rom_elfs_from_dir(dir) {
                Ok(d) => Some(Arc::new(d) as Arc<dyn decode::RomElfProvider>),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot read the ROM ELF dir; ROM frames stay unnamed");
                    None
                }
            }
        });
        Native {
            cache: SymbolizerCache::new(CACHE_BYTES),
            rom_elfs,
        }
    }

    /// Decodes `dump` against `elf` (the app ELF of the dump's firmware version, if found);
    /// `chip` is the device's report, used when the dump does not record it.
    pub fn decode(&self, dump: &[u8], elf: Option<&Elf>, chip: &str) -> NativeOutcome {
        let symbolizer = elf.map(|e| match self.cache.get(&e.sha256) {
            Some(s) => Ok(s),
            None => self.cache.get_or_build(&e.bytes),
        });
        let symbolizer = match symbolizer.transpose() {
            Ok(s) => s,
            Err(e) => {
                return NativeOutcome {
                    analysis: None,
                    report: Err(e.to_string()),
                };
            }
        };
        let opts = Options {
            chip: Chip::from_name(chip),
            rom_elfs: self.rom_elfs.clone(),
            deadline: Some(Instant::now() + BUDGET),
            ..Options::default()
        };
        match decode::decode(dump, symbolizer.as_deref(), &opts) {
            Ok(a) => NativeOutcome {
                analysis: serde_json::to_string(&a).ok(),
                report: Ok(a.report_text()),
            },
            Err(e) => NativeOutcome {
                analysis: None,
                report: Err(e.to_string()),
            },
        }
    }
}
