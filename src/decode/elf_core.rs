//! Parser for the ELF core body (version major 1, spec §2): program headers only, `CORE`
//! prstatus notes for tasks, and the ESP notes (`ESP_CORE_DUMP_INFO`, `ESP_EXTRA_INFO`,
//! `ESP_PANIC_DETAILS`, and the converter's `TASK_INFO`/`EXTRA_INFO`/`ESP_CHIP_REV`).
//!
//! Hand-written on purpose: the file is tiny, and a truncated or damaged core must still give
//! whatever tasks and segments are intact, with a warning for each that is not.

use super::bytes::{align4, c_string, slice_at, u16_at, u32_at};
use super::chip::Arch;
use super::dump::{
    Dump, MAX_SEGMENTS, MAX_TASKS, Regs, RiscvRegs, SegmentInfo, TaskRecord, XtensaExceptionRegs,
    XtensaRegs,
};
use super::error::DecodeError;
use super::memory::Region;
use super::warning::Warning;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
/// `NT_PRSTATUS`.
const NT_PRSTATUS: u32 = 1;
/// `ESP_CORE_DUMP_INFO` and `ESP_CHIP_REV` (told apart by name, §2.3).
const NT_ESP_INFO: u32 = 8266;
/// `ESP_EXTRA_INFO` / converter `EXTRA_INFO`.
const NT_EXTRA_INFO: u32 = 677;
/// Converter `TASK_INFO`.
const NT_TASK_INFO: u32 = 678;
/// `ESP_PANIC_DETAILS`.
const NT_PANIC_DETAILS: u32 = 679;

/// Offset of the register array in prstatus (72-byte Linux-style prefix, §2.5).
const PRSTATUS_REGS: usize = 72;
/// Offset of `pr_pid` (= TCB address) in prstatus.
const PRSTATUS_PID: usize = 24;
/// Xtensa prstatus register index of a0 (ar0; indices 8..63 are reserved).
const XT_AR0_INDEX: usize = 64;
/// Largest single note descriptor accepted (panic text, prstatus... are all far smaller).
const MAX_NOTE_DESC: usize = 1 << 20;

/// Parses an ELF core body into the dump model.
pub(crate) fn parse(body: &[u8]) -> Result<Dump, DecodeError> {
    let ident = slice_at(body, 0, 16).ok_or_else(|| {
        DecodeError::Malformed(format!(
            "ELF header needs 52 bytes, body has {}",
            body.len()
        ))
    })?;
    if ident.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(DecodeError::Malformed("missing ELF magic".into()));
    }
    if ident.get(4) != Some(&1) || ident.get(5) != Some(&1) {
        return Err(DecodeError::Malformed(
            "ELF core is not 32-bit little-endian".into(),
        ));
    }
    let e_type = u16_at(body, 16).unwrap_or(0);
    let e_machine = u16_at(body, 18).ok_or_else(|| malformed_hdr(body))?;
    let arch = Arch::from_e_machine(e_machine).ok_or_else(|| {
        DecodeError::Malformed(format!(
            "ELF core e_machine {e_machine} is neither Xtensa (94) nor RISC-V (243)"
        ))
    })?;
    let mut dump = Dump::new(arch);
    if e_type != 4 {
        dump.warnings.push(Warning::NotEtCore { e_type });
    }
    let e_phoff = u32_at(body, 28).ok_or_else(|| malformed_hdr(body))? as usize;
    let e_phentsize = u16_at(body, 42).ok_or_else(|| malformed_hdr(body))? as usize;
    let e_phnum = u16_at(body, 44).ok_or_else(|| malformed_hdr(body))? as usize;
    if e_phentsize < 32 {
        return Err(DecodeError::Malformed(format!(
            "ELF e_phentsize {e_phentsize} is smaller than 32"
        )));
    }
    if e_phnum > MAX_SEGMENTS {
        dump.warnings.push(Warning::ProgramHeadersCapped {
            count: e_phnum,
            limit: MAX_SEGMENTS,
        });
    }
    let mut notes_seen = 0usize;
    for i in 0..e_phnum.min(MAX_SEGMENTS) {
        let Some(ph) = i
            .checked_mul(e_phentsize)
            .and_then(|o| o.checked_add(e_phoff))
            .and_then(|o| slice_at(body, o, 32))
        else {
            dump.warnings.push(Warning::ProgramHeaderPastEnd {
                index: i,
                count: e_phnum,
                body_len: body.len(),
            });
            break;
        };
        let p_type = u32_at(ph, 0).unwrap_or(0);
        let p_offset = u32_at(ph, 4).unwrap_or(0) as usize;
        let p_vaddr = u32_at(ph, 8).unwrap_or(0);
        let p_filesz = u32_at(ph, 16).unwrap_or(0) as usize;
        let p_flags = u32_at(ph, 24).unwrap_or(0);
        let avail = body.len().saturating_sub(p_offset).min(p_filesz);
        let data = if p_offset <= body.len() {
            slice_at(body, p_offset, avail).unwrap_or_default()
        } else {
            &[]
        };
        if avail < p_filesz {
            dump.warnings.push(Warning::SegmentTruncated {
                index: i,
                addr: p_vaddr,
                present: avail,
                declared: p_filesz,
            });
        }
        match p_type {
            PT_LOAD => {
                // esp-coredump lists (and gdb shows) load segments with a non-zero address only
                if p_vaddr != 0 {
                    dump.segments.push(SegmentInfo {
                        addr: p_vaddr,
                        size: p_filesz as u32,
                        flags: p_flags,
                    });
                }
                if u64::from(p_vaddr) + data.len() as u64 > 1 << 32 {
                    dump.warnings.push(Warning::SegmentWraps {
                        index: i,
                        addr: p_vaddr,
                    });
                    continue;
                }
                dump.memory.push(Region {
                    addr: p_vaddr,
                    data: data.to_vec(),
                    declared_len: p_filesz as u32,
                });
            }
            PT_NOTE => {
                notes_seen += 1;
                parse_notes(data, &mut dump);
            }
            _ => {}
        }
    }
    if notes_seen == 0 {
        dump.warnings.push(Warning::NoNoteSegment);
    }
    dump.memory.finish();
    attach_stacks(&mut dump);
    Ok(dump)
}

fn malformed_hdr(body: &[u8]) -> DecodeError {
    DecodeError::Malformed(format!(
        "ELF header needs 52 bytes, body has {}",
        body.len()
    ))
}

/// Walks the notes of one PT_NOTE segment (§2.3: `namesz` includes NUL and padding).
fn parse_notes(seg: &[u8], dump: &mut Dump) {
    let mut off = 0usize;
    let mut count = 0usize;
    while off < seg.len() {
        count += 1;
        if count > MAX_TASKS * 2 + 64 {
            dump.warnings.push(Warning::TooManyNotes);
            return;
        }
        let (Some(namesz), Some(descsz), Some(ntype)) =
            (u32_at(seg, off), u32_at(seg, off + 4), u32_at(seg, off + 8))
        else {
            if seg.len() - off >= 4 && seg.get(off..).is_some_and(|r| r.iter().any(|&b| b != 0)) {
                dump.warnings
                    .push(Warning::NoteHeaderTruncated { offset: off });
            }
            return;
        };
        let (namesz, descsz) = (namesz as usize, descsz as usize);
        if namesz > 256 || descsz > MAX_NOTE_DESC {
            dump.warnings.push(Warning::ImplausibleNoteSizes {
                offset: off,
                namesz,
                descsz,
            });
            return;
        }
        let name_off = off + 12;
        let Some(name_pad) = align4(namesz) else {
            return;
        };
        let desc_off = name_off + name_pad;
        let Some(desc_pad) = align4(descsz) else {
            return;
        };
        let name_bytes = slice_at(seg, name_off, namesz).unwrap_or_default();
        let name = c_string(name_bytes);
        let Some(desc) = slice_at(seg, desc_off, descsz) else {
            dump.warnings.push(Warning::NoteTruncated {
                name,
                note_type: ntype,
                descsz,
            });
            return;
        };
        handle_note(&name, ntype, desc, dump);
        off = desc_off + desc_pad;
    }
}

fn handle_note(name: &str, ntype: u32, desc: &[u8], dump: &mut Dump) {
    match (name, ntype) {
        ("CORE", NT_PRSTATUS) => {
            if dump.tasks.len() >= MAX_TASKS {
                if dump.tasks.len() == MAX_TASKS {
                    dump.warnings
                        .push(Warning::TaskNotesCapped { limit: MAX_TASKS });
                }
                return;
            }
            let tcb = u32_at(desc, PRSTATUS_PID).unwrap_or(0);
            let regs = prstatus_regs(dump.arch, desc);
            if regs.is_none() {
                dump.warnings.push(Warning::PrstatusTooShort {
                    tcb,
                    len: desc.len(),
                    arch: dump.arch,
                });
            }
            dump.tasks.push(TaskRecord {
                tcb_addr: tcb,
                regs,
                stack: None,
                flags: None,
            });
        }
        ("ESP_CORE_DUMP_INFO", NT_ESP_INFO) => {
            // u32 version + char app_elf_sha256[66] (esp_core_dump_types.h, §2.6)
            dump.info_version = u32_at(desc, 0);
            if let Some(sha) = desc.get(4..) {
                let s = c_string(sha);
                let s = s.trim().to_ascii_lowercase();
                if !s.is_empty() {
                    dump.app_sha_prefix = Some(s);
                }
            }
        }
        ("ESP_CHIP_REV", NT_ESP_INFO) => dump.chip_rev_note = u32_at(desc, 0),
        ("ESP_EXTRA_INFO" | "EXTRA_INFO", NT_EXTRA_INFO) => extra_info(desc, dump),
        ("ESP_PANIC_DETAILS", NT_PANIC_DETAILS) => {
            let text = String::from_utf8_lossy(desc);
            let text = text.trim_end_matches('\0').to_string();
            dump.panic_details = Some(text);
        }
        ("TASK_INFO", NT_TASK_INFO) => {
            // task_index, task_flags, task_tcb_addr, task_stack_start, task_stack_len (§2.9)
            let (Some(flags), Some(tcb)) = (u32_at(desc, 4), u32_at(desc, 8)) else {
                return;
            };
            if let Some(t) = dump.tasks.iter_mut().find(|t| t.tcb_addr == tcb) {
                t.flags = Some(flags);
            }
        }
        _ => {}
    }
}

/// Registers from a prstatus descriptor (§2.5).
fn prstatus_regs(arch: Arch, desc: &[u8]) -> Option<Regs> {
    let reg = |i: usize| u32_at(desc, PRSTATUS_REGS + 4 * i);
    match arch {
        Arch::Xtensa => {
            let mut a = [0u32; 16];
            for (n, slot) in a.iter_mut().enumerate() {
                *slot = reg(XT_AR0_INDEX + n)?;
            }
            Some(Regs::Xtensa(XtensaRegs {
                pc: reg(0)?,
                ps: reg(1)?,
                lbeg: reg(2)?,
                lend: reg(3)?,
                lcount: reg(4)?,
                sar: reg(5)?,
                a,
            }))
        }
        Arch::Riscv => {
            let mut x = [0u32; 32];
            for (n, slot) in x.iter_mut().enumerate() {
                *slot = reg(n)?;
            }
            Some(Regs::Riscv(RiscvRegs { x }))
        }
    }
}

/// `ESP_EXTRA_INFO` (§2.7): Xtensa 38 words (37 on old IDF, 31 from the converter), RISC-V
/// `crashed_task_tcb, isr_context`.
fn extra_info(desc: &[u8], dump: &mut Dump) {
    dump.has_extra_info = true;
    let words: Vec<u32> = desc.chunks_exact(4).filter_map(|c| u32_at(c, 0)).collect();
    dump.crashed_tcb = words.first().copied();
    match dump.arch {
        Arch::Riscv => dump.isr = words.get(1).map(|&v| v != 0),
        Arch::Xtensa => {
            let mut exc = XtensaExceptionRegs {
                // Positional, like esp-coredump: the converter writes IDs 0/1 instead of 232/238.
                exccause: words.get(2).copied().unwrap_or(0xFFFF),
                excvaddr: words.get(4).copied().unwrap_or(0),
                ..Default::default()
            };
            let pair_end = words.len().min(37);
            let mut i = 5;
            while i + 1 < pair_end {
                let (Some(&id), Some(&val)) = (words.get(i), words.get(i + 1)) else {
                    break;
                };
                match id {
                    // EPC1..EPC7 = special registers 177..183
                    177..=183 => exc.epc.push(((id - 176) as u8, val)),
                    // EPS2..EPS7 = special registers 194..199
                    194..=199 => exc.eps.push(((id - 192) as u8, val)),
                    _ => {}
                }
                i += 2;
            }
            // Kept in note order, as esp-coredump's print_exc_regs_info prints them.
            dump.xtensa_exc = Some(exc);
            if words.len() >= 38 {
                dump.isr = words.get(37).map(|&v| v != 0);
            }
        }
    }
}

/// Gives each task the bounds of the segment that holds its stack pointer (never "the
/// segment after the TCB", §2.2: CAPTURE_DRAM dumps have no per-task stack segments).
fn attach_stacks(dump: &mut Dump) {
    for t in &mut dump.tasks {
        let Some(sp) = t.regs.as_ref().map(Regs::sp) else {
            continue;
        };
        if let Some(r) = dump.memory.region_of(sp) {
            let end = r.addr.saturating_add(r.declared_len);
            t.stack = Some((r.addr, end));
        } else if sp > 0
            && let Some(r) = dump.memory.region_of(sp.wrapping_sub(1))
        {
            // SP at the very top of a segment (nothing pushed yet).
            t.stack = Some((r.addr, r.addr.saturating_add(r.declared_len)));
        }
    }
}
