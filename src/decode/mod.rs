//! Built-in ESP-IDF core dump decoder: bytes in, a typed [`Analysis`] out.
//!
//! This module knows nothing of HTTP, SQLite, tokio, configuration or file paths (the one
//! exception, [`rom_elfs_from_dir`], lives alone in `rom_dir.rs`). It follows ESP-IDF's
//! core dump writer (`components/espcoredump`) and esp-coredump's reader; comments name the
//! ESP-IDF, esp-coredump, FreeRTOS, gdb or ISA source of each layout and constant.
//!
//! # Pipeline
//! 1. `container.rs` sniffs the input (line-wise base64 text, a flash partition image with
//!    any known header version, or a bare ELF core), checks the CRC32/SHA-256 (a mismatch is
//!    a warning) and returns the body.
//! 2. `elf_core.rs` (ELF, major 1) or `binary.rs` (legacy, major 0) turn the body into one
//!    model (`dump.rs`, `memory.rs`): memory regions, tasks with registers, crash notes.
//! 3. `analyze.rs` checks chip and firmware ELF (SHA-256 prefix), reads TCB fields with
//!    DWARF offsets (`tcb.rs`), unwinds every task (`xtensa.rs`: windowed-ABI base save
//!    areas; `riscv.rs`: DWARF CFI with gdb's stop rules), symbolizes the frames
//!    (`symbols.rs`) and evaluates their arguments and locals from DWARF (`values/`).
//! 4. `report.rs` renders the [`Analysis`] like `esp-coredump info_corefile`.
//!
//! # Use
//! Callers go through one [`Engine`] per process: it owns the limits, the time budget, chip
//! parsing, the symbolizer cache and the ROM ELFs.
//! ```no_run
//! use crashbox::decode::{self, Engine};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::new(); // one per process
//! let elf = decode::read_elf("app.elf".as_ref())?;
//! let dump = decode::read_dump("coredump.b64".as_ref())?; // any supported container
//! let symbolizer = engine.symbolizer(&elf, None)?;
//! let analysis = engine.decode(&dump, Some(&symbolizer), decode::parse_chip("esp32c3")?)?;
//! println!("{}", analysis.summary);
//! print!("{}", analysis.report_text()); // esp-coredump `info_corefile` layout
//! let json = serde_json::to_string(&analysis)?; // stored as the coredump's `analysis`
//! # let _ = json; Ok(()) }
//! ```
//!
//! # Cost
//! [`Symbolizer::new`] parses the firmware ELF once (symbol table, DWARF unit index, FDE index,
//! TCB layout); DWARF line tables and functions are parsed lazily per compile unit and kept.
//! Keep symbolizers in a [`SymbolizerCache`]. On the corpus (release, 2-core VM) building one
//! takes 3–5 ms for a 2.7–3.7 MB ELF and a decode with it 0.2–0.6 ms, most of it the frames'
//! arguments and locals (30–90 µs without them); peak RSS stays near 10 MiB
//! (`cargo bench --bench decode`, docs/performance.md).
//!
//! # Hostile input
//! No panics on input; every loop driven by dump data is bounded (tasks, notes, segments,
//! frames per task, a deadline), and every walk records why it stopped ([`StopReason`]).
//! Damaged dumps give a partial [`Analysis`] with `warnings`; hopeless ones a [`DecodeError`].

mod analysis;
mod analyze;
mod binary;
mod bytes;
mod cache;
mod chip;
mod container;
mod dump;
mod elf_core;
mod engine;
mod error;
mod exc_frame;
mod frames;
mod memory;
mod regions;
mod report;
mod riscv;
mod rom;
mod rom_dir;
mod summary;
mod symbols;
mod tasks;
mod tcb;
mod unwind;
mod values;
mod warning;
mod xtensa;

use std::sync::Arc;
use std::time::Instant;

pub use analysis::{
    Analysis, ContainerInfo, CrashedTask, ElfMatch, ExceptionInfo, Frame, InlinedFrame,
    InterruptedChain, Member, MemoryRegion, NamedValue, Register, RegisterKind, Task, TaskStatus,
    Variable,
};
pub use cache::SymbolizerCache;
pub use chip::{ALL_CHIPS, Arch, Chip, riscv_cause_name, xtensa_cause_name};
pub use container::{BodyFormat, ChecksumKind, ChecksumStatus, Encoding, HeaderInfo};
pub use engine::{
    CACHE_BYTES, DECODE_BUDGET, Engine, MAX_DUMP_BYTES, MAX_ELF_BYTES, ReadError, map_elf,
    parse_chip, read_dump, read_elf,
};
pub use error::DecodeError;
pub use rom::{RomElfProvider, RomElfSet, parse_rom_elf_name};
pub use rom_dir::{RomElfDir, rom_elfs_from_dir};
pub use symbols::{ElfData, Symbolizer};
pub use unwind::{FrameTrust, StopReason};
pub use warning::Warning;

/// Decoder options. `Options::default()` is what the CLI and the worker use.
#[derive(Clone)]
pub struct Options {
    /// The chip, for dumps that don't record it (binary format, stripped headers). A chip
    /// recorded in the dump wins, with a warning if they differ.
    pub chip: Option<Chip>,
    /// ROM ELFs for ROM frame names and ROM CFI (RISC-V unwinding through ROM).
    pub rom_elfs: Option<Arc<dyn RomElfProvider>>,
    /// Stop unwinding when this instant passes; the result is then partial.
    pub deadline: Option<Instant>,
    /// Physical frames per task (ESP-IDF's own backtrace uses 100).
    pub max_frames: usize,
    /// Tasks decoded per dump.
    pub max_tasks: usize,
    /// RISC-V: where CFI runs out in ROM code without a ROM ELF, recover the caller by
    /// scanning the stack (default on). Off, a walk stops there as gdb's does.
    pub stack_scan: bool,
}

/// Default [`Options::max_frames`]: the depth of the backtrace ESP-IDF's panic handler prints.
const DEFAULT_MAX_FRAMES: usize = 100;
/// Default [`Options::max_tasks`].
const DEFAULT_MAX_TASKS: usize = 256;

impl Default for Options {
    fn default() -> Self {
        Options {
            chip: None,
            rom_elfs: None,
            deadline: None,
            max_frames: DEFAULT_MAX_FRAMES,
            stack_scan: true,
            max_tasks: DEFAULT_MAX_TASKS,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("chip", &self.chip)
            .field("rom_elfs", &self.rom_elfs.is_some())
            .field("deadline", &self.deadline)
            .field("max_frames", &self.max_frames)
            .field("max_tasks", &self.max_tasks)
            .finish()
    }
}

/// Decodes one core dump. `symbolizer` is the firmware ELF the dump came from (decoding
/// without it still gives tasks, registers and raw PCs).
pub fn decode(
    dump: &[u8],
    symbolizer: Option<&Symbolizer>,
    opts: &Options,
) -> Result<Analysis, DecodeError> {
    if opts.deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(DecodeError::DeadlineExceeded);
    }
    let unwrapped = container::unwrap(dump)?;
    let model = match unwrapped.body_format {
        BodyFormat::Elf => elf_core::parse(&unwrapped.body)?,
        BodyFormat::Binary => {
            let hdr = unwrapped.binary.ok_or_else(|| {
                DecodeError::Malformed("binary body without a binary header".into())
            })?;
            let version = unwrapped.header.as_ref().map(|h| h.version).unwrap_or(0);
            let arch = chip::chip_of_version(version)
                .or(opts.chip)
                .map(Chip::arch)
                .or_else(|| symbolizer.and_then(Symbolizer::arch))
                .ok_or_else(|| {
                    DecodeError::Malformed(format!(
                        "binary dump with unknown chip ID {}; pass the chip",
                        chip::chip_id_of_version(version)
                    ))
                })?;
            // esp-coredump lists the memory segments of BIN_V2 dumps only, not BIN_V2_1.
            let list_mem_segs = container::format_of_version(version) != container::BIN_V2_1;
            binary::parse(&unwrapped.body, &hdr, arch, list_mem_segs)?
        }
    };
    Ok(analyze::analyze(unwrapped, model, symbolizer, opts))
}
