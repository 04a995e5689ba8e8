//! Parser for the legacy binary body (version major 0, spec §3), and the register layouts
//! of the exception frames saved at the start of each task stack (spec §4), which the
//! binary format needs because it has no prstatus notes.

use super::bytes::{slice_at, u32_at};
use super::chip::Arch;
use super::container::BinaryHeader;
use super::dump::{
    Dump, MAX_SEGMENTS, MAX_TASKS, Regs, RiscvRegs, SegmentInfo, TaskRecord, XtensaExceptionRegs,
    XtensaRegs,
};
use super::error::DecodeError;
use super::memory::Region;
use super::warning::Warning;

/// Largest task stack the device writes (`COREDUMP_MAX_TASK_STACK_SIZE`, 64 KiB) with room
/// for ISR stacks; anything larger is treated as a corrupt record.
const MAX_STACK: u32 = 256 * 1024;
/// Largest TCB accepted.
const MAX_TCB: u32 = 4096;
/// Largest memory segment accepted.
const MAX_MEM_SEG: u32 = 16 << 20;

/// Parses a binary body. `arch` comes from the chip ID in the header version word.
///
/// `list_mem_segs`: whether the memory segments appear in "ALL MEMORY REGIONS"; esp-coredump's
/// converter adds them for BIN_V2 only, not BIN_V2_1 (spec §3), so the report follows it while
/// the memory itself is always used.
pub(crate) fn parse(
    body: &[u8],
    hdr: &BinaryHeader,
    arch: Arch,
    list_mem_segs: bool,
) -> Result<Dump, DecodeError> {
    let mut dump = Dump::new(arch);
    if hdr.tcb_sz == 0 || hdr.tcb_sz > MAX_TCB {
        return Err(DecodeError::Malformed(format!(
            "binary header tcb_sz {} is not plausible",
            hdr.tcb_sz
        )));
    }
    let task_num = hdr.task_num as usize;
    if task_num > MAX_TASKS {
        dump.warnings.push(Warning::TaskRecordsCapped {
            task_num,
            limit: MAX_TASKS,
        });
    }
    let mut off = 0usize;
    for i in 0..task_num.min(MAX_TASKS) {
        // task header: tcb_addr, stack_start, stack_end (core_dump_task_header_t)
        let (Some(tcb_addr), Some(s0), Some(s1)) = (
            u32_at(body, off),
            u32_at(body, off + 4),
            u32_at(body, off + 8),
        ) else {
            dump.warnings.push(Warning::TaskRecordMissing {
                index: i,
                count: task_num,
            });
            break;
        };
        off += 12;
        let tcb_len = hdr.tcb_sz as usize;
        let (lo, hi) = (s0.min(s1), s0.max(s1));
        let stack_len = hi - lo;
        if stack_len > MAX_STACK {
            dump.warnings.push(Warning::ImplausibleTaskStack {
                index: i,
                tcb: tcb_addr,
                stack_len,
            });
            break;
        }
        let stack_len_padded = (stack_len as usize + 3) & !3;
        let tcb = slice_at(body, off, tcb_len);
        push_region(&mut dump, tcb_addr, tcb.unwrap_or_default(), hdr.tcb_sz);
        off = off.saturating_add(tcb_len);
        let stack_avail = body.len().saturating_sub(off).min(stack_len_padded);
        let stack = slice_at(body, off, stack_avail).unwrap_or_default();
        if stack_avail < stack_len_padded || tcb.is_none() {
            dump.warnings.push(Warning::TaskRecordTruncated {
                index: i,
                tcb: tcb_addr,
            });
        }
        push_region(&mut dump, lo, stack, stack_len);
        off = off.saturating_add(stack_len_padded);
        let regs = frame_regs(arch, stack, lo);
        let mut t = TaskRecord {
            tcb_addr,
            regs: regs.as_ref().map(|(r, _)| r.clone()),
            stack: Some((lo, hi)),
            flags: None,
        };
        if regs.is_none() {
            t.flags = Some(2);
        }
        if i == 0 {
            // The first record is the crashed task (§3). The converter's EXTRA_INFO carries
            // exccause from frame word 20 and zeroed EPC1..7/EPS2..7.
            dump.crashed_tcb = Some(tcb_addr);
            dump.has_extra_info = true;
            if arch == Arch::Xtensa {
                // esp-coredump get_registers_from_stack(): interrupt frames give word 20,
                // solicited frames leave it 0, unknown causes become INVALID_CAUSE_VALUE.
                let cause = match &regs {
                    Some((_, Some(c))) => *c,
                    Some((_, None)) => 0,
                    None => 0xFFFF,
                };
                let cause = if super::chip::xtensa_cause_name(cause).is_some() {
                    cause
                } else {
                    0xFFFF
                };
                dump.xtensa_exc = Some(XtensaExceptionRegs {
                    exccause: cause,
                    excvaddr: u32_at(stack, 21 * 4).unwrap_or(0),
                    epc: (1..=7).map(|n| (n, 0)).collect(),
                    eps: (2..=7).map(|n| (n, 0)).collect(),
                });
            }
        }
        dump.tasks.push(t);
    }
    let segs = hdr.mem_segs_num as usize;
    for i in 0..segs.min(MAX_SEGMENTS) {
        // core_dump_mem_seg_header_t: start, size
        let (Some(start), Some(size)) = (u32_at(body, off), u32_at(body, off + 4)) else {
            dump.warnings.push(Warning::MemSegmentMissing {
                index: i,
                count: segs,
            });
            break;
        };
        off += 8;
        if size > MAX_MEM_SEG {
            dump.warnings.push(Warning::ImplausibleMemSegment {
                index: i,
                addr: start,
                size,
            });
            break;
        }
        let padded = (size as usize + 3) & !3;
        let avail = body.len().saturating_sub(off).min(padded);
        let seg_count = dump.segments.len();
        push_region(
            &mut dump,
            start,
            slice_at(body, off, avail).unwrap_or_default(),
            size,
        );
        if !list_mem_segs {
            dump.segments.truncate(seg_count);
        }
        off = off.saturating_add(padded);
    }
    dump.memory.finish();
    Ok(dump)
}

fn push_region(dump: &mut Dump, addr: u32, data: &[u8], declared: u32) {
    dump.segments.push(SegmentInfo {
        addr,
        size: declared,
        flags: 6,
    });
    if u64::from(addr) + data.len() as u64 <= 1 << 32 {
        dump.memory.push(Region {
            addr,
            data: data.to_vec(),
            declared_len: declared,
        });
    }
}

/// Registers from the frame at the start of a task stack (spec §4.1, §4.2), plus the Xtensa
/// EXCCAUSE word of interrupt frames.
pub(crate) fn frame_regs(arch: Arch, stack: &[u8], frame_addr: u32) -> Option<(Regs, Option<u32>)> {
    let w = |i: usize| u32_at(stack, i * 4);
    match arch {
        Arch::Xtensa => {
            let exit = w(0)?;
            if exit != 0 {
                // XtExcFrame: exit, pc, ps, a0..a15, sar, exccause, excvaddr, lbeg, lend, lcount
                let mut a = [0u32; 16];
                for (n, slot) in a.iter_mut().enumerate() {
                    *slot = w(3 + n)?;
                }
                let mut ps = w(2)?;
                // PS.UM set -> clear PS.EXCM: gdb treats EXCM=1 as "not windowed" (§4.1)
                if ps & 0x20 != 0 {
                    ps &= !0x10;
                }
                Some((
                    Regs::Xtensa(XtensaRegs {
                        pc: w(1)?,
                        ps,
                        lbeg: w(22).unwrap_or(0),
                        lend: w(23).unwrap_or(0),
                        lcount: w(24).unwrap_or(0),
                        sar: w(19).unwrap_or(0),
                        a,
                    }),
                    w(20),
                ))
            } else {
                // XtSolFrame: exit = 0, pc, ps, next, a0..a3 (made by vPortYield)
                let mut a = [0u32; 16];
                for (n, slot) in a.iter_mut().take(4).enumerate() {
                    *slot = w(4 + n)?;
                }
                if a[1] == 0 {
                    a[1] = frame_addr.wrapping_add(32);
                }
                // The raw a0 of vPortYield carries window bits: restore the code region bits
                // like esp_cpu_process_stack_pc().
                let pc = (w(1)? & 0x3FFF_FFFF) | 0x4000_0000;
                Some((
                    Regs::Xtensa(XtensaRegs {
                        pc,
                        ps: w(2)?,
                        a,
                        ..Default::default()
                    }),
                    None,
                ))
            }
        }
        Arch::Riscv => {
            // RvExcFrame: mepc, x1..x31, mstatus, mtvec, mcause, mtval, mhartid
            let mut x = [0u32; 32];
            for (n, slot) in x.iter_mut().enumerate() {
                *slot = w(n)?;
            }
            Some((Regs::Riscv(RiscvRegs { x }), None))
        }
    }
}
