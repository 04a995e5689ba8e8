//! Parser for the ELF core body (version major 1): program headers only (the device writes
//! no section headers), `CORE` prstatus notes for tasks, and the ESP notes
//! (`ESP_CORE_DUMP_INFO`, `ESP_EXTRA_INFO`, `ESP_PANIC_DETAILS`, and the converter's
//! `TASK_INFO`/`EXTRA_INFO`/`ESP_CHIP_REV`).
//!
//! Hand-written on purpose: the file is tiny, and a truncated or damaged core must still give
//! whatever tasks and segments are intact, with a warning for each that is not.

use std::mem::{offset_of, size_of};
use std::ops::RangeInclusive;

use object::LittleEndian as LE;
use object::elf::{FileHeader32, Ident, NoteHeader32, ProgramHeader32};

use super::bytes::{align4, c_string, slice_at, u16_at, u32_at};
use super::chip::{Arch, XT_INVALID_CAUSE};
use super::dump::{
    Dump, MAX_SEGMENTS, MAX_TASKS, Regs, RiscvRegs, SegmentInfo, TaskRecord, XtensaExceptionRegs,
    XtensaRegs,
};
use super::error::DecodeError;
use super::memory::{Region, fits_address_space};
use super::warning::Warning;

// ELF32 layout (ELF gABI), taken from `object`'s `#[repr(C)]` structs of it.

/// Bytes of the ELF32 file header (`Elf32_Ehdr`).
const EHDR_LEN: usize = size_of::<FileHeader32<LE>>();
/// Offset of `e_ident[EI_CLASS]`.
const EI_CLASS: usize = offset_of!(Ident, class);
/// Offset of `e_ident[EI_DATA]`.
const EI_DATA: usize = offset_of!(Ident, data);
/// `ELFCLASS32`: 32-bit objects.
const ELFCLASS32: u8 = object::elf::ELFCLASS32.0;
/// `ELFDATA2LSB`: little-endian.
const ELFDATA2LSB: u8 = object::elf::ELFDATA2LSB.0;
/// Offset of `e_type`.
const E_TYPE: usize = offset_of!(FileHeader32<LE>, e_type);
/// Offset of `e_machine`.
const E_MACHINE: usize = offset_of!(FileHeader32<LE>, e_machine);
/// Offset of `e_phoff`.
const E_PHOFF: usize = offset_of!(FileHeader32<LE>, e_phoff);
/// Offset of `e_phentsize`.
const E_PHENTSIZE: usize = offset_of!(FileHeader32<LE>, e_phentsize);
/// Offset of `e_phnum`.
const E_PHNUM: usize = offset_of!(FileHeader32<LE>, e_phnum);
/// `ET_CORE`: a core file.
const ET_CORE: u16 = object::elf::ET_CORE.0;
/// Bytes of an ELF32 program header (`Elf32_Phdr`).
const PHDR_LEN: usize = size_of::<ProgramHeader32<LE>>();
/// Offset of `p_type`.
const P_TYPE: usize = offset_of!(ProgramHeader32<LE>, p_type);
/// Offset of `p_offset`.
const P_OFFSET: usize = offset_of!(ProgramHeader32<LE>, p_offset);
/// Offset of `p_vaddr`.
const P_VADDR: usize = offset_of!(ProgramHeader32<LE>, p_vaddr);
/// Offset of `p_filesz`.
const P_FILESZ: usize = offset_of!(ProgramHeader32<LE>, p_filesz);
/// Offset of `p_flags`.
const P_FLAGS: usize = offset_of!(ProgramHeader32<LE>, p_flags);
/// `PT_LOAD`: a memory segment.
const PT_LOAD: u32 = object::elf::PT_LOAD.0;
/// `PT_NOTE`: a segment of notes.
const PT_NOTE: u32 = object::elf::PT_NOTE.0;
/// Bytes of a note header (`Elf32_Nhdr`: `n_namesz`, `n_descsz`, `n_type`).
const NHDR_LEN: usize = size_of::<NoteHeader32<LE>>();
/// Offset of `n_descsz`.
const N_DESCSZ: usize = offset_of!(NoteHeader32<LE>, n_descsz);
/// Offset of `n_type`.
const N_TYPE: usize = offset_of!(NoteHeader32<LE>, n_type);

// Note types (ESP-IDF `core_dump_elf.c`; esp-coredump `ESPCoreDumpElfFile`, `corefile/elf.py`).

/// `NT_PRSTATUS` of the `CORE` notes, one per task (`ELF_CORE_SEC_TYPE`).
const NT_PRSTATUS: u32 = object::elf::NT_PRSTATUS.0;
/// `ESP_CORE_DUMP_INFO` (`ELF_ESP_CORE_DUMP_INFO_TYPE`) and esp-coredump's `ESP_CHIP_REV`:
/// the same type, told apart by name.
const NT_ESP_INFO: u32 = 8266;
/// `ESP_EXTRA_INFO` (`ELF_ESP_CORE_DUMP_EXTRA_INFO_TYPE`) and the converter's `EXTRA_INFO`.
const NT_EXTRA_INFO: u32 = 677;
/// The converter's `TASK_INFO` (`PT_TASK_INFO`).
const NT_TASK_INFO: u32 = 678;
/// `ESP_PANIC_DETAILS` (`ELF_ESP_CORE_DUMP_PANIC_DETAILS_TYPE`).
const NT_PANIC_DETAILS: u32 = 679;

/// Offset of the register array in the prstatus descriptor: after the 72-byte Linux-style
/// `xtensa_pr_status_t`/`riscv_pr_status_t` prefix (ESP-IDF `port/*/core_dump_port.c`).
const PRSTATUS_REGS: usize = 72;
/// Offset of `pr_pid` (the TCB address) in the prstatus descriptor.
const PRSTATUS_PID: usize = 24;
/// Xtensa prstatus register indices (`xtensa_gregset_t` of ESP-IDF `core_dump_port.c`,
/// from gdb's `xtensa_elf_gregset_t`): pc, ps, lbeg, lend, lcount, sar.
const XT_REG_PC: usize = 0;
/// `ps`.
const XT_REG_PS: usize = 1;
/// `lbeg`.
const XT_REG_LBEG: usize = 2;
/// `lend`.
const XT_REG_LEND: usize = 3;
/// `lcount`.
const XT_REG_LCOUNT: usize = 4;
/// `sar`.
const XT_REG_SAR: usize = 5;
/// `ar[0]` = a0; indices 6..63 are windowstart, windowbase and reserved words.
const XT_AR0_INDEX: usize = 64;
/// Offset of `app_elf_sha256` in `ESP_CORE_DUMP_INFO`, after the u32 `version`
/// (`core_dump_elf_version_info_t`, ESP-IDF `core_dump_elf.c`).
const INFO_APP_SHA256: usize = 4;
/// Offset of `task_flags` in `TASK_INFO` (`EspTaskStatus`: `task_index`, `task_flags`,
/// `task_tcb_addr`, ...; esp-coredump `corefile/elf.py`).
const TASK_INFO_FLAGS: usize = 4;
/// Offset of `task_tcb_addr` in `TASK_INFO`.
const TASK_INFO_TCB: usize = 8;

// `xtensa_extra_info_t` (ESP-IDF `port/xtensa/core_dump_port.c`) in words: crashed_task_tcb,
// exccause {reg_index, reg_val}, excvaddr {reg_index, reg_val},
// extra_regs[COREDUMP_EXTRA_REG_NUM = 16] {reg_index, reg_val}, isr_context.
// `riscv_extra_info_t`: crashed_task_tcb, isr_context.

/// Word of `crashed_task_tcb` (both architectures).
const EXTRA_CRASHED_TCB: usize = 0;
/// RISC-V word of `isr_context`.
const RV_EXTRA_ISR_CONTEXT: usize = 1;
/// Xtensa word of `exccause.reg_val`.
const XT_EXTRA_EXCCAUSE: usize = 2;
/// Xtensa word of `excvaddr.reg_val`.
const XT_EXTRA_EXCVADDR: usize = 4;
/// Xtensa word where the `extra_regs` pairs start.
const XT_EXTRA_REGS_START: usize = 5;
/// Xtensa word after the last `extra_regs` pair, which is `isr_context` (IDF versions
/// before it end the note here).
const XT_EXTRA_ISR_CONTEXT: usize = XT_EXTRA_REGS_START + 2 * 16;
/// Xtensa special register numbers of EPC1..EPC7 (Xtensa ISA; `EPC_1` ... in
/// `xtensa/specreg.h`).
const SR_EPC: RangeInclusive<u32> = 177..=183;
/// Xtensa special register numbers of EPS2..EPS7 (`EPS_2` ... in `xtensa/specreg.h`).
const SR_EPS: RangeInclusive<u32> = 194..=199;

/// Largest single note descriptor accepted (panic text, prstatus... are all far smaller).
const MAX_NOTE_DESC: usize = 1 << 20;
/// Largest `namesz` accepted (ESP-IDF's own names fit in `ELF_NOTE_NAME_MAX_SIZE` = 32).
const MAX_NOTE_NAME: usize = 256;
/// Notes read from one `PT_NOTE` segment: a `CORE` note and a `TASK_INFO` note per task,
/// plus room for the info notes.
const MAX_NOTES_PER_SEGMENT: usize = MAX_TASKS * 2 + 64;

/// Parses an ELF core body into the dump model.
pub(crate) fn parse(body: &[u8]) -> Result<Dump, DecodeError> {
    let ident = slice_at(body, 0, size_of::<Ident>()).ok_or_else(|| malformed_hdr(body))?;
    if !ident.starts_with(&object::elf::ELFMAG) {
        return Err(DecodeError::Malformed("missing ELF magic".into()));
    }
    if ident.get(EI_CLASS) != Some(&ELFCLASS32) || ident.get(EI_DATA) != Some(&ELFDATA2LSB) {
        return Err(DecodeError::Malformed(
            "ELF core is not 32-bit little-endian".into(),
        ));
    }
    let e_type = u16_at(body, E_TYPE).unwrap_or(0);
    let e_machine = u16_at(body, E_MACHINE).ok_or_else(|| malformed_hdr(body))?;
    let arch = Arch::from_e_machine(e_machine).ok_or_else(|| {
        DecodeError::Malformed(format!(
            "ELF core e_machine {e_machine} is neither Xtensa ({}) nor RISC-V ({})",
            Arch::Xtensa.e_machine(),
            Arch::Riscv.e_machine()
        ))
    })?;
    let mut dump = Dump::new(arch);
    if e_type != ET_CORE {
        dump.warnings.push(Warning::NotEtCore { e_type });
    }
    let e_phoff = u32_at(body, E_PHOFF).ok_or_else(|| malformed_hdr(body))? as usize;
    let e_phentsize = u16_at(body, E_PHENTSIZE).ok_or_else(|| malformed_hdr(body))? as usize;
    let e_phnum = u16_at(body, E_PHNUM).ok_or_else(|| malformed_hdr(body))? as usize;
    if e_phentsize < PHDR_LEN {
        return Err(DecodeError::Malformed(format!(
            "ELF e_phentsize {e_phentsize} is smaller than {PHDR_LEN}"
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
            .and_then(|o| slice_at(body, o, PHDR_LEN))
        else {
            dump.warnings.push(Warning::ProgramHeaderPastEnd {
                index: i,
                count: e_phnum,
                body_len: body.len(),
            });
            break;
        };
        let p_type = u32_at(ph, P_TYPE).unwrap_or(0);
        let p_offset = u32_at(ph, P_OFFSET).unwrap_or(0) as usize;
        let p_vaddr = u32_at(ph, P_VADDR).unwrap_or(0);
        let p_filesz = u32_at(ph, P_FILESZ).unwrap_or(0) as usize;
        let p_flags = u32_at(ph, P_FLAGS).unwrap_or(0);
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
                if !fits_address_space(p_vaddr, data.len()) {
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
        "ELF header needs {EHDR_LEN} bytes, body has {}",
        body.len()
    ))
}

/// Walks the notes of one PT_NOTE segment (the device's `namesz` counts the NUL and the
/// padding; names are compared without trailing NULs).
fn parse_notes(seg: &[u8], dump: &mut Dump) {
    let mut off = 0usize;
    let mut count = 0usize;
    while off < seg.len() {
        count += 1;
        if count > MAX_NOTES_PER_SEGMENT {
            dump.warnings.push(Warning::TooManyNotes);
            return;
        }
        let (Some(namesz), Some(descsz), Some(ntype)) = (
            u32_at(seg, off),
            u32_at(seg, off + N_DESCSZ),
            u32_at(seg, off + N_TYPE),
        ) else {
            if seg.len() - off >= 4 && seg.get(off..).is_some_and(|r| r.iter().any(|&b| b != 0)) {
                dump.warnings
                    .push(Warning::NoteHeaderTruncated { offset: off });
            }
            return;
        };
        let (namesz, descsz) = (namesz as usize, descsz as usize);
        if namesz > MAX_NOTE_NAME || descsz > MAX_NOTE_DESC {
            dump.warnings.push(Warning::ImplausibleNoteSizes {
                offset: off,
                namesz,
                descsz,
            });
            return;
        }
        let name_off = off + NHDR_LEN;
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
                // Said once, however many notes are past the cap.
                let said =
                    (dump.warnings.iter()).any(|w| matches!(w, Warning::TaskNotesCapped { .. }));
                if !said {
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
            dump.info_version = u32_at(desc, 0);
            if let Some(sha) = desc.get(INFO_APP_SHA256..) {
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
            let (Some(flags), Some(tcb)) =
                (u32_at(desc, TASK_INFO_FLAGS), u32_at(desc, TASK_INFO_TCB))
            else {
                return;
            };
            if let Some(t) = dump.tasks.iter_mut().find(|t| t.tcb_addr == tcb) {
                t.flags = Some(flags);
            }
        }
        _ => {}
    }
}

/// Registers from a prstatus descriptor: the 72-byte prefix, then Xtensa's
/// `xtensa_gregset_t` (129 words) or RISC-V's pc, x1..x31.
fn prstatus_regs(arch: Arch, desc: &[u8]) -> Option<Regs> {
    let reg = |i: usize| u32_at(desc, PRSTATUS_REGS + 4 * i);
    match arch {
        Arch::Xtensa => {
            let mut a = [0u32; 16];
            for (n, slot) in a.iter_mut().enumerate() {
                *slot = reg(XT_AR0_INDEX + n)?;
            }
            Some(Regs::Xtensa(XtensaRegs {
                pc: reg(XT_REG_PC)?,
                ps: reg(XT_REG_PS)?,
                lbeg: reg(XT_REG_LBEG)?,
                lend: reg(XT_REG_LEND)?,
                lcount: reg(XT_REG_LCOUNT)?,
                sar: reg(XT_REG_SAR)?,
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

/// `ESP_EXTRA_INFO`: Xtensa 38 words (37 on old IDF, 31 from the converter), RISC-V
/// `crashed_task_tcb, isr_context`.
fn extra_info(desc: &[u8], dump: &mut Dump) {
    dump.has_extra_info = true;
    let words: Vec<u32> = desc.chunks_exact(4).filter_map(|c| u32_at(c, 0)).collect();
    dump.crashed_tcb = words.get(EXTRA_CRASHED_TCB).copied();
    match dump.arch {
        Arch::Riscv => dump.isr = words.get(RV_EXTRA_ISR_CONTEXT).map(|&v| v != 0),
        Arch::Xtensa => {
            let mut exc = XtensaExceptionRegs {
                // Positional, like esp-coredump: the converter writes IDs 0/1 instead of 232/238.
                exccause: words
                    .get(XT_EXTRA_EXCCAUSE)
                    .copied()
                    .unwrap_or(XT_INVALID_CAUSE),
                excvaddr: words.get(XT_EXTRA_EXCVADDR).copied().unwrap_or(0),
                ..Default::default()
            };
            let pair_end = words.len().min(XT_EXTRA_ISR_CONTEXT);
            let mut i = XT_EXTRA_REGS_START;
            while i + 1 < pair_end {
                let (Some(&id), Some(&val)) = (words.get(i), words.get(i + 1)) else {
                    break;
                };
                if SR_EPC.contains(&id) {
                    exc.epc.push(((id - SR_EPC.start() + 1) as u8, val));
                } else if SR_EPS.contains(&id) {
                    exc.eps.push(((id - SR_EPS.start() + 2) as u8, val));
                }
                i += 2;
            }
            // Kept in note order, as esp-coredump's print_exc_regs_info prints them.
            dump.xtensa_exc = Some(exc);
            if let Some(&v) = words.get(XT_EXTRA_ISR_CONTEXT) {
                dump.isr = Some(v != 0);
            }
        }
    }
}

/// Gives each task the bounds of the segment that holds its stack pointer (never "the
/// segment after the TCB": with `CONFIG_ESP_COREDUMP_CAPTURE_DRAM` DRAM stacks come inside
/// the section and heap segments).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf32_layout_is_the_gabi_one() {
        assert_eq!(EHDR_LEN, 52);
        assert_eq!((EI_CLASS, EI_DATA), (4, 5));
        assert_eq!((E_TYPE, E_MACHINE, E_PHOFF), (16, 18, 28));
        assert_eq!((E_PHENTSIZE, E_PHNUM), (42, 44));
        assert_eq!(PHDR_LEN, 32);
        assert_eq!(
            (P_TYPE, P_OFFSET, P_VADDR, P_FILESZ, P_FLAGS),
            (0, 4, 8, 16, 24)
        );
        assert_eq!((NHDR_LEN, N_DESCSZ, N_TYPE), (12, 4, 8));
        assert_eq!(XT_EXTRA_ISR_CONTEXT, 37);
    }
}
