//! Turns the dump model into an [`Analysis`]: chip and ELF checks, task table, unwinding,
//! symbolization, exception registers and the memory listing.

use std::sync::Arc;

use super::Options;
use super::analysis::{
    Analysis, ContainerInfo, CrashedTask, ElfMatch, ExceptionInfo, InterruptedChain, NamedValue,
    Task, TaskStatus,
};
use super::chip::{Arch, Chip, riscv_cause_name, xtensa_cause_name};
use super::container::{ChecksumStatus, Unwrapped};
use super::dump::{CURR_TASK_MARKER, Dump, Regs};
use super::frames::Ctx;
use super::riscv::RiscvUnwinder;
use super::symbols::Symbolizer;
use super::tcb::{TcbLayout, read_fields};
use super::unwind::{StopReason, UnwindInput, Unwinder};
use super::xtensa::XtensaUnwinder;

pub(crate) fn analyze(
    unwrapped: Unwrapped,
    mut dump: Dump,
    symbolizer: Option<&Symbolizer>,
    opts: &Options,
) -> Analysis {
    let mut warnings: Vec<String> = Vec::new();
    let mut notes: Vec<String> = unwrapped.warnings;
    notes.append(&mut dump.warnings);

    // Chip: header, then ESP_CORE_DUMP_INFO, then the caller's hint (spec §2.6, §9).
    let header_chip = unwrapped
        .header
        .as_ref()
        .and_then(|h| Chip::from_id((h.version >> 16) as u16));
    let info_chip = dump
        .info_version
        .and_then(|v| Chip::from_id((v >> 16) as u16));
    if let (Some(h), Some(i)) = (header_chip, info_chip)
        && h != i
    {
        notes.push(format!(
            "container header says {h} but ESP_CORE_DUMP_INFO says {i}"
        ));
    }
    if let (Some(h), Some(iv)) = (&unwrapped.header, dump.info_version)
        && h.version != iv
    {
        notes.push(format!(
            "ESP_CORE_DUMP_INFO version 0x{iv:08x} differs from the header's 0x{:08x}",
            h.version
        ));
    }
    let recorded_chip = header_chip.or(info_chip);
    let chip = match (recorded_chip, opts.chip) {
        (Some(r), Some(o)) if r != o => {
            warnings.push(format!(
                "chip given as {o}, but the dump was made on {r}; using {r}"
            ));
            Some(r)
        }
        (r, o) => r.or(o),
    };
    if let Some(c) = chip
        && c.arch() != dump.arch
    {
        warnings.push(format!(
            "chip {c} is {:?} but the dump's ELF machine is {:?}",
            c.arch(),
            dump.arch
        ));
    }
    let chip_rev = unwrapped
        .header
        .as_ref()
        .and_then(|h| h.chip_rev)
        .or(dump.chip_rev_note);

    // Firmware ELF: architecture and SHA-256 prefix (spec §2.6, §9 "wrong ELF").
    let mut app = symbolizer;
    if let Some(s) = symbolizer
        && s.arch() != Some(dump.arch)
    {
        warnings.insert(
            0,
            format!(
                "firmware ELF is for {:?}, but the dump is {:?}: the ELF was not used",
                s.arch(),
                dump.arch
            ),
        );
        app = None;
    }
    let elf_sha256 = symbolizer.map(|s| hex::encode(s.elf_sha256()));
    let prefix = dump.app_sha_prefix.clone();
    let elf_match = match (&elf_sha256, &prefix) {
        (None, _) => ElfMatch::NoElf,
        (Some(_), None) => ElfMatch::NotRecorded,
        (Some(full), Some(p)) => {
            if full.starts_with(p.as_str()) && !p.is_empty() {
                ElfMatch::Match
            } else {
                ElfMatch::Mismatch
            }
        }
    };
    if elf_match == ElfMatch::Mismatch {
        let full = elf_sha256.as_deref().unwrap_or("");
        let p = prefix.as_deref().unwrap_or("");
        let shown = full.get(..p.len().min(64)).unwrap_or(full);
        warnings.insert(
            0,
            format!(
                "WRONG FIRMWARE ELF: core dump SHA256({p}) != app SHA256({shown}); symbols and frames below are unreliable"
            ),
        );
    }
    if app.is_some_and(|s| !s.has_dwarf()) {
        notes.push("firmware ELF has no DWARF: no file:line, and RISC-V CFI may be missing".into());
    }
    let checksum_bad = matches!(unwrapped.checksum, ChecksumStatus::Mismatch { .. });
    let frames_reliable = app.is_some() && elf_match != ElfMatch::Mismatch && !checksum_bad;

    // ROM ELF, as esp-coredump picks it: <target>_rev<rev>_rom.elf (spec §6.3).
    let mut rom_elf_note = None;
    let rom: Option<Arc<Symbolizer>> = match (&opts.rom_elfs, chip) {
        (Some(provider), Some(c)) => match chip_rev {
            Some(rev) => {
                let r = provider.rom_elf(c, rev);
                if r.is_none() {
                    rom_elf_note = Some(
                        "The ROM ELF file won't load automatically since it was not found for the provided chip type."
                            .to_string(),
                    );
                }
                r
            }
            None => {
                rom_elf_note = Some(
                    "The ROM ELF file won't load automatically since the dump has no chip revision."
                        .to_string(),
                );
                None
            }
        },
        _ => None,
    };
    let rom = rom.filter(|r| r.arch() == Some(dump.arch));

    let ctx = Ctx {
        app,
        rom: rom.as_deref(),
        chip,
    };

    // Tasks.
    let max_tasks = opts.max_tasks.max(1);
    if dump.tasks.len() > max_tasks {
        notes.push(format!(
            "{} tasks in the dump; only the first {max_tasks} are decoded",
            dump.tasks.len()
        ));
    }
    let crashed_tcb = dump.crashed_tcb;
    let mut tasks = Vec::new();
    let mut deadline_hit = false;
    for (i, rec) in dump.tasks.iter().take(max_tasks).enumerate() {
        let tcb_size = dump.memory.region_at(rec.tcb_addr).map(|r| r.declared_len);
        let layout = app
            .and_then(|s| s.tcb_layout().cloned())
            .unwrap_or_else(|| TcbLayout::fallback(tcb_size));
        let f = read_fields(&dump.memory, rec.tcb_addr, &layout);
        let abs_diff = |a: Option<u32>, b: Option<u32>| Some(a?.abs_diff(b?));
        let tcb_bad = f.stack.is_none_or(|s| s == 0) || rec.flags.is_some_and(|fl| fl & 1 != 0);
        let fake_stack = rec
            .stack
            .is_some_and(|(lo, _)| (0x2000_0000..0x3000_0000).contains(&lo) || lo > 0x7FFF_FFFF);
        let status = if Some(rec.tcb_addr) == crashed_tcb || (crashed_tcb.is_none() && i == 0) {
            TaskStatus::Crashed
        } else if tcb_bad {
            TaskStatus::CorruptedTcb
        } else if fake_stack || rec.flags.is_some_and(|fl| fl & 2 != 0) {
            TaskStatus::CorruptedStack
        } else {
            TaskStatus::Ok
        };
        let (frames, stop_reason) = match &rec.regs {
            None => (Vec::new(), StopReason::NoRegisters),
            Some(_) if deadline_hit => (Vec::new(), StopReason::Deadline),
            Some(regs) => {
                let input = UnwindInput {
                    regs,
                    memory: &dump.memory,
                    app,
                    rom: rom.as_deref(),
                    max_frames: opts.max_frames.max(1),
                    deadline: opts.deadline,
                };
                let (raw, stop) = match dump.arch {
                    Arch::Xtensa => XtensaUnwinder.unwind(&input),
                    Arch::Riscv => RiscvUnwinder.unwind(&input),
                };
                if stop == StopReason::Deadline {
                    deadline_hit = true;
                }
                (ctx.symbolize_all(&raw), stop)
            }
        };
        let interrupted = if status == TaskStatus::Crashed && dump.isr == Some(true) {
            f.top_of_stack.and_then(|top| {
                // XtExcFrame: 25 words (XT_STK_FRMSZ in esp-coredump); RvExcFrame: mepc, x1..x31
                let len = match dump.arch {
                    Arch::Xtensa => 100,
                    Arch::Riscv => 128,
                };
                let bytes = dump.memory.read(top, len)?;
                let (regs, _) = super::binary::frame_regs(dump.arch, bytes, top)?;
                let input = UnwindInput {
                    regs: &regs,
                    memory: &dump.memory,
                    app,
                    rom: rom.as_deref(),
                    max_frames: opts.max_frames.max(1),
                    deadline: opts.deadline,
                };
                let (raw, stop) = match dump.arch {
                    Arch::Xtensa => XtensaUnwinder.unwind(&input),
                    Arch::Riscv => RiscvUnwinder.unwind(&input),
                };
                Some(InterruptedChain {
                    frames: ctx.symbolize_all(&raw),
                    stop_reason: stop,
                })
            })
        } else {
            None
        };
        tasks.push(Task {
            thread: i + 1,
            tcb: rec.tcb_addr,
            name: f.name.clone(),
            priority: f.priority,
            base_priority: f.base_priority,
            stack_used: abs_diff(f.end_of_stack, f.top_of_stack),
            stack_free: abs_diff(f.stack, f.top_of_stack),
            // Never-run tasks have sp = 0: fall back to the segment holding the saved frame.
            stack_range: rec.stack.or_else(|| {
                let r = dump.memory.region_of(f.top_of_stack?)?;
                Some((r.addr, r.addr.saturating_add(r.declared_len)))
            }),
            status,
            tcb_valid: !tcb_bad,
            frames,
            stop_reason,
            interrupted,
        });
    }
    if deadline_hit {
        warnings.push("decode deadline exceeded: some backtraces are incomplete".into());
    }
    if tasks.is_empty() {
        notes.push("the dump holds no tasks".into());
    }

    let crashed_task = if dump.has_extra_info {
        crashed_tcb.map(|tcb| CrashedTask {
            tcb,
            name: tasks
                .iter()
                .find(|t| t.tcb == tcb)
                .and_then(|t| t.name.clone()),
            skipped: tcb == CURR_TASK_MARKER,
        })
    } else {
        None
    };

    let first_regs = dump.tasks.first().and_then(|t| t.regs.as_ref());
    let exception = exception_info(&dump, first_regs);
    let registers = first_regs.map(|r| ctx.registers(r)).unwrap_or_default();
    let memory_regions = super::regions::memory_regions(app, &dump);

    if checksum_bad {
        warnings.push("checksum mismatch: the dump is damaged, results are untrusted".into());
    }
    warnings.extend(notes);

    let summary = super::summary::summary(
        dump.panic_details.as_deref(),
        exception.as_ref(),
        crashed_task.as_ref(),
        &tasks,
    );
    Analysis {
        summary,
        chip,
        arch: dump.arch,
        chip_rev,
        container: ContainerInfo {
            encoding: unwrapped.encoding,
            format: unwrapped.body_format,
            header: unwrapped.header,
        },
        checksum: unwrapped.checksum,
        app_elf_sha256_prefix: prefix,
        elf_sha256,
        elf_match,
        frames_reliable,
        crashed_task,
        isr_context: dump.isr,
        panic_reason: dump.panic_details.take(),
        exception,
        registers,
        tasks,
        memory_regions,
        rom_elf_note,
        warnings,
    }
}

/// Xtensa: from `ESP_EXTRA_INFO`. RISC-V: mstatus/mtvec/mcause/mtval from the exception
/// frame at the start of the crashed task's stack segment (spec §4.2).
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
            let sp = r.x[2];
            let seg = dump.memory.region_of(sp)?;
            // RvExcFrame: mepc at +0, mstatus +128, mtvec +132, mcause +136, mtval +140
            let frame = seg.addr;
            if dump.memory.read_u32(frame)? != r.x[0] {
                return None;
            }
            let rd = |o: u32| dump.memory.read_u32(frame.checked_add(o)?);
            let mcause = rd(136)?;
            Some(ExceptionInfo {
                cause: Some(mcause),
                cause_name: riscv_cause_name(mcause).map(str::to_string),
                registers: vec![
                    nv("mstatus".into(), rd(128)?),
                    nv("mtvec".into(), rd(132)?),
                    nv("mcause".into(), mcause),
                    nv("mtval".into(), rd(140)?),
                ],
            })
        }
    }
}
