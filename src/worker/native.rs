//! THE SEAM for the built-in decoder (issue 5, item 6): the one step of a parse job that decodes
//! in-process. It is not wired yet, because `crate::decode` is being built on its own branch;
//! until it is, [`Native::available`] is `false`, nothing is decoded here, and:
//!
//! - with a sidecar configured, jobs run the sidecar protocol and store no `analysis`;
//! - without one, `crate::worker::pool` starts no workers and dumps stay `PENDING` (they are
//!   swept up and decoded at the first start after this is wired).
//!
//! To wire it (sketch, against the announced API):
//!
//! ```text
//! pub struct Native { cache: Mutex<SymbolizerCache>, options: decode::Options }
//! pub fn available(&self) -> bool { true }
//! pub fn decode(&self, dump: &[u8], elf: Option<&[u8]>, chip: &str) -> Option<NativeOutcome> {
//!     let sym = elf.map(|e| self.cache.lock().get_or_build(e));   // keyed by the ELF's SHA-256
//!     let opts = self.options.clone().with_chip(chip);            // chip = the device's hint
//!     Some(match decode::decode(dump, sym.as_deref(), &opts) {
//!         Ok(a) => NativeOutcome { analysis: serde_json::to_string(&a).ok(), report: Ok(a.report_text()) },
//!         Err(e) => NativeOutcome { analysis: None, report: Err(e.to_string()) },
//!     })
//! }
//! ```
//!
//! The job (`crate::worker::job`) already calls [`Native::decode`] at the right point, stores
//! `analysis` in both modes, and, without a sidecar, turns `report` into `PARSED` (the text) or
//! `ERROR` (`Unable to parse coredump: <reason>`). Runs on a worker thread; must not panic (the
//! worker catches panics anyway and counts them against the dump).

use std::path::PathBuf;

use crate::config::Config;

/// What the built-in decoder made of one dump.
#[derive(Debug, Clone)]
pub struct NativeOutcome {
    /// The structured analysis as JSON (stored in `coredumps.analysis`).
    pub analysis: Option<String>,
    /// The text report (`info_corefile` layout), or why the dump could not be decoded.
    pub report: Result<String, String>,
}

/// The built-in decoder as the workers share it (one per pool; later it holds the symbolizer
/// cache).
pub struct Native {
    /// `--rom-elf-dir` / `ESP_ROM_ELF_DIR`, for ROM frames.
    pub rom_elf_dir: Option<PathBuf>,
}

impl Native {
    pub fn new(config: &Config) -> Native {
        Native {
            rom_elf_dir: config.rom_elf_dir.clone(),
        }
    }

    /// Whether the built-in decoder is wired in. `false` until issue 5 lands.
    pub fn available(&self) -> bool {
        false
    }

    /// Decodes `dump` against `elf` (the app ELF of the dump's firmware version, if found).
    /// `None` while the decoder is not wired in.
    pub fn decode(&self, _dump: &[u8], _elf: Option<&[u8]>, _chip: &str) -> Option<NativeOutcome> {
        None
    }
}
