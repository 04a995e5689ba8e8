//! Turns the dump model into an [`Analysis`]. [`analyze`] is the list of steps: resolve the
//! chip, check the firmware ELF, pick the ROM ELF, decode the tasks (`tasks.rs`), find the
//! crashed task and the exception registers, then assemble the result with its warnings.

use std::sync::Arc;

use super::Options;
use super::analysis::{
    Analysis, ContainerInfo, CrashedTask, ElfMatch, ExceptionInfo, NamedValue, Task,
};
use super::chip::{Arch, Chip, chip_of_version, riscv_cause_name, xtensa_cause_name};
use super::container::{ChecksumStatus, HeaderInfo, Unwrapped};
use super::dump::{CURR_TASK_MARKER, Dump, Regs};
use super::exc_frame::{RV_STK_MCAUSE, RV_STK_MSTATUS, RV_STK_MTVAL, RV_STK_MTVEC};
use super::frames::Ctx;
use super::riscv::SP;
use super::rom::RomElfProvider;
use super::symbols::Symbolizer;
use super::tasks::{DecodedTasks, Walker, decode_tasks};
use super::values::Budget;
use super::warning::Warning;

/// Hex digits of a SHA-256 (the most of the ELF's hash a mismatch warning shows).
const SHA256_HEX_LEN: usize = 64;

/// esp-coredump's message (`get_rom_elf_path`) when no ROM ELF matches the chip revision.
const ROM_ELF_NOT_FOUND: &str =
    "The ROM ELF file won't load automatically since it was not found for the provided chip type.";
/// The message when the dump records no chip revision, so no ROM ELF can be chosen.
const ROM_ELF_NO_CHIP_REV: &str =
    "The ROM ELF file won't load automatically since the dump has no chip revision.";

/// The dump's facts and the caller's symbols, turned into the typed result.
pub(crate) fn analyze(
    unwrapped: Unwrapped,
    mut dump: Dump,
    symbolizer: Option<&Symbolizer>,
    opts: &Options,
) -> Analysis {
    let mut parser_notes = unwrapped.warnings;
    parser_notes.append(&mut dump.warnings);
    let chip = resolve_chip(unwrapped.header.as_ref(), &dump, opts.chip);
    let firmware = check_firmware(symbolizer, &dump);
    let checksum_bad = matches!(unwrapped.checksum, ChecksumStatus::Mismatch { .. });
    let rom = pick_rom_elf(opts.rom_elfs.as_deref(), chip.chip, chip.rev, dump.arch);
    let values = Budget::new(opts.deadline);
    let walker = Walker {
        values: &values,
        arch: dump.arch,
        memory: &dump.memory,
        symbols: Ctx {
            app: firmware.app,
            rom: rom.elf.as_deref(),
            chip: chip.chip,
        },
        max_frames: opts.max_frames.max(1),
        deadline: opts.deadline,
        stack_scan: opts.stack_scan,
    };
    let decoded = decode_tasks(&dump, &walker, opts.max_tasks);
    let crashed_task = crashed_task(&dump, &decoded.tasks);
    let first_regs = dump.tasks.first().and_then(|t| t.regs.as_ref());
    let exception = exception_info(&dump, first_regs);
    let registers = first_regs
        .map(|r| walker.symbols.registers(r))
        .unwrap_or_default();
    let memory_regions = super::regions::memory_regions(firmware.app, &dump);
    let summary = super::summary::summary(
        dump.panic_details.as_deref(),
        exception.as_ref(),
        crashed_task.as_ref(),
        &decoded.tasks,
    );
    let frames_reliable =
        firmware.app.is_some() && firmware.elf_match != ElfMatch::Mismatch && !checksum_bad;
    let mut warnings = warnings_in_order(
        parser_notes,
        chip.findings,
        firmware.findings,
        &decoded,
        checksum_bad,
    );
    if values.exhausted() && !decoded.deadline_hit {
        warnings.push(Warning::VariablesLimited);
    }
    Analysis {
        summary,
        chip: chip.chip,
        arch: dump.arch,
        chip_rev: chip.rev,
        container: ContainerInfo {
            encoding: unwrapped.encoding,
            format: unwrapped.body_format,
            header: unwrapped.header,
        },
        checksum: unwrapped.checksum,
        app_elf_sha256_prefix: dump.app_sha_prefix.take(),
        elf_sha256: firmware.elf_sha256,
        elf_match: firmware.elf_match,
        frames_reliable,
        crashed_task,
        isr_context: dump.isr,
        panic_reason: dump.panic_details.take(),
        exception,
        registers,
        tasks: decoded.tasks,
        memory_regions,
        rom_elf_note: rom.note,
        warnings,
    }
}

/// What one step has to report: `loud` warnings head the list, `notes` follow them all.
#[derive(Default)]
struct Findings {
    loud: Vec<Warning>,
    notes: Vec<Warning>,
}

/// The warnings in report order: a wrong firmware ELF first, then the other loud ones, then
/// the notes (the container's and parser's first).
fn warnings_in_order(
    parser_notes: Vec<Warning>,
    chip: Findings,
    firmware: Findings,
    tasks: &DecodedTasks,
    checksum_bad: bool,
) -> Vec<Warning> {
    let mut out = firmware.loud;
    out.extend(chip.loud);
    if tasks.deadline_hit {
        out.push(Warning::DeadlineExceeded);
    }
    if checksum_bad {
        out.push(Warning::ChecksumMismatch);
    }
    out.extend(parser_notes);
    out.extend(chip.notes);
    out.extend(firmware.notes);
    if let Some(count) = tasks.capped_from {
        out.push(Warning::TasksCapped {
            count,
            limit: tasks.tasks.len(),
        });
    }
    if tasks.tasks.is_empty() {
        out.push(Warning::NoTasks);
    }
    out
}

/// The chip and its revision.
struct ChipFacts {
    chip: Option<Chip>,
    rev: Option<u32>,
    findings: Findings,
}

/// Chip: the container header, then `ESP_CORE_DUMP_INFO`, then the caller's hint (a chip
/// recorded in the dump wins). The revision: the header, then an `ESP_CHIP_REV` note.
fn resolve_chip(header: Option<&HeaderInfo>, dump: &Dump, hint: Option<Chip>) -> ChipFacts {
    let mut findings = Findings::default();
    let header_chip = header.and_then(|h| chip_of_version(h.version));
    let info_chip = dump.info_version.and_then(chip_of_version);
    if let (Some(h), Some(i)) = (header_chip, info_chip)
        && h != i
    {
        findings
            .notes
            .push(Warning::ChipRecordsDisagree { header: h, info: i });
    }
    if let (Some(h), Some(iv)) = (header, dump.info_version)
        && h.version != iv
    {
        findings.notes.push(Warning::VersionsDisagree {
            header: h.version,
            info: iv,
        });
    }
    let chip = match (header_chip.or(info_chip), hint) {
        (Some(r), Some(o)) if r != o => {
            findings.loud.push(Warning::ChipOptionOverridden {
                given: o,
                recorded: r,
            });
            Some(r)
        }
        (r, o) => r.or(o),
    };
    if let Some(c) = chip
        && c.arch() != dump.arch
    {
        findings.loud.push(Warning::ChipArchMismatch {
            chip: c,
            dump_arch: dump.arch,
        });
    }
    ChipFacts {
        chip,
        rev: header.and_then(|h| h.chip_rev).or(dump.chip_rev_note),
        findings,
    }
}

/// The firmware ELF as far as it can be trusted.
struct FirmwareCheck<'a> {
    /// The ELF to symbolize with: `None` when there is none or it is for the other
    /// architecture.
    app: Option<&'a Symbolizer>,
    elf_sha256: Option<String>,
    elf_match: ElfMatch,
    findings: Findings,
}

/// Checks the firmware ELF against the dump: its architecture (an ELF of the other one is not
/// used) and its SHA-256 against the prefix recorded in `ESP_CORE_DUMP_INFO`.
fn check_firmware<'a>(symbolizer: Option<&'a Symbolizer>, dump: &Dump) -> FirmwareCheck<'a> {
    let mut findings = Findings::default();
    let elf_sha256 = symbolizer.map(|s| hex::encode(s.elf_sha256()));
    let prefix = dump.app_sha_prefix.as_deref();
    let elf_match = elf_match(elf_sha256.as_deref(), prefix);
    if elf_match == ElfMatch::Mismatch {
        let full = elf_sha256.as_deref().unwrap_or("");
        let p = prefix.unwrap_or("");
        let shown = full.get(..p.len().min(SHA256_HEX_LEN)).unwrap_or(full);
        findings.loud.push(Warning::WrongFirmwareElf {
            dump_sha: p.to_string(),
            elf_sha: shown.to_string(),
        });
    }
    let mut app = symbolizer;
    if let Some(s) = symbolizer
        && s.arch() != Some(dump.arch)
    {
        findings.loud.push(Warning::ElfArchMismatch {
            elf: s.arch(),
            dump: dump.arch,
        });
        app = None;
    }
    if app.is_some_and(|s| !s.has_dwarf()) {
        findings.notes.push(Warning::ElfWithoutDwarf);
    }
    FirmwareCheck {
        app,
        elf_sha256,
        elf_match,
        findings,
    }
}

/// Whether the ELF's SHA-256 (hex) starts with the dump's recorded prefix.
fn elf_match(elf_sha256: Option<&str>, prefix: Option<&str>) -> ElfMatch {
    match (elf_sha256, prefix) {
        (None, _) => ElfMatch::NoElf,
        (Some(_), None) => ElfMatch::NotRecorded,
        (Some(full), Some(p)) if !p.is_empty() && full.starts_with(p) => ElfMatch::Match,
        (Some(_), Some(_)) => ElfMatch::Mismatch,
    }
}

/// The ROM ELF and esp-coredump's message when it can't pick one.
struct RomPick {
    elf: Option<Arc<Symbolizer>>,
    note: Option<String>,
}

/// The ROM ELF as esp-coredump picks it: `<target>_rev<rev>_rom.elf` for the dump's chip
/// revision, which only the container header (or an `ESP_CHIP_REV` note) records. One of the
/// other architecture is not used.
fn pick_rom_elf(
    provider: Option<&dyn RomElfProvider>,
    chip: Option<Chip>,
    rev: Option<u32>,
    arch: Arch,
) -> RomPick {
    let (Some(provider), Some(chip)) = (provider, chip) else {
        return RomPick {
            elf: None,
            note: None,
        };
    };
    let (elf, note) = match rev {
        Some(rev) => match provider.rom_elf(chip, rev) {
            Some(elf) => (Some(elf), None),
            None => (None, Some(ROM_ELF_NOT_FOUND)),
        },
        None => (None, Some(ROM_ELF_NO_CHIP_REV)),
    };
    RomPick {
        elf: elf.filter(|r| r.arch() == Some(arch)),
        note: note.map(str::to_string),
    }
}

/// The crashed task of `ESP_EXTRA_INFO` (absent without that note).
fn crashed_task(dump: &Dump, tasks: &[Task]) -> Option<CrashedTask> {
    if !dump.has_extra_info {
        return None;
    }
    dump.crashed_tcb.map(|tcb| CrashedTask {
        tcb,
        name: tasks
            .iter()
            .find(|t| t.tcb == tcb)
            .and_then(|t| t.name.clone()),
        skipped: tcb == CURR_TASK_MARKER,
    })
}

/// Xtensa: from `ESP_EXTRA_INFO`. RISC-V: mstatus/mtvec/mcause/mtval from the exception
/// frame (`RvExcFrame`) at the start of the crashed task's stack segment: no note holds them.
fn exception_info(dump: &Dump, regs: Option<&Regs>) -> Option<ExceptionInfo> {
    let nv = |name: String, value: u32| NamedValue { name, value };
    match dump.arch {
        Arch::Xtensa => {
            let e = dump.xtensa_exc.as_ref()?;
            let mut registers = vec![
                nv("exccause".into(), e.exccause),
                nv("excvaddr".into(), e.excvaddr),
            ];
            registers.extend(e.epc.iter().map(|&(n, v)| nv(format!("epc{n}"), v)));
            registers.extend(e.eps.iter().map(|&(n, v)| nv(format!("eps{n}"), v)));
            Some(ExceptionInfo {
                cause: Some(e.exccause),
                cause_name: xtensa_cause_name(e.exccause).map(str::to_string),
                registers,
            })
        }
        Arch::Riscv => {
            let Regs::Riscv(r) = regs? else { return None };
            // The RvExcFrame starts the segment holding sp; its first word, mepc, must be the
            // task's PC (x[0] of the prstatus).
            let frame = dump.memory.region_of(r.x[SP])?.addr;
            if dump.memory.read_u32(frame)? != r.x[0] {
                return None;
            }
            let rd = |o: u32| dump.memory.read_u32(frame.checked_add(o)?);
            let mcause = rd(RV_STK_MCAUSE)?;
            Some(ExceptionInfo {
                cause: Some(mcause),
                cause_name: riscv_cause_name(mcause).map(str::to_string),
                registers: vec![
                    nv("mstatus".into(), rd(RV_STK_MSTATUS)?),
                    nv("mtvec".into(), rd(RV_STK_MTVEC)?),
                    nv("mcause".into(), mcause),
                    nv("mtval".into(), rd(RV_STK_MTVAL)?),
                ],
            })
        }
    }
}
