//! Parser for the legacy binary body (version major 0): `task_num` task records
//! (`core_dump_task_header_t`, the TCB, the stack), then `mem_segs_num` memory segments
//! (`core_dump_mem_seg_header_t`, the bytes), each padded to 4 bytes. The format has no
//! notes, so task registers come from the frame at the start of each stack (`exc_frame.rs`)
//! and there is no app SHA, panic text or ISR flag.

use super::bytes::{align4, slice_at, u32_at};
use super::chip::{Arch, XT_INVALID_CAUSE, xtensa_cause_name};
use super::container::BinaryHeader;
use super::dump::{
    DUMPED_SEGMENT_FLAGS, Dump, MAX_SEGMENTS, MAX_TASKS, SegmentInfo, TASK_STATUS_STACK_CORRUPTED,
    TaskRecord, XT_EPC_LEVELS, XT_EPS_LEVELS, XtensaExceptionRegs,
};
use super::error::DecodeError;
use super::exc_frame::{XT_STK_EXCVADDR, frame_regs};
use super::memory::{Region, fits_address_space};
use super::warning::Warning;

/// Largest task stack the device writes (`COREDUMP_MAX_TASK_STACK_SIZE`, 64 KiB) with room
/// for ISR stacks; anything larger is treated as a corrupt record.
const MAX_STACK: u32 = 256 * 1024;
/// Largest TCB accepted.
const MAX_TCB: u32 = 4096;
/// Largest memory segment accepted.
const MAX_MEM_SEG: u32 = 16 << 20;

/// Bytes of `core_dump_task_header_t` (ESP-IDF `esp_core_dump_types.h`): `tcb_addr`,
/// `stack_start`, `stack_end`, each a u32. The TCB and the stack bytes follow it.
const TASK_HEADER_LEN: usize = 12;
/// Offset of `stack_start` in `core_dump_task_header_t`.
const TASK_HEADER_STACK_START: usize = 4;
/// Offset of `stack_end` in `core_dump_task_header_t`.
const TASK_HEADER_STACK_END: usize = 8;
/// Bytes of `core_dump_mem_seg_header_t` (ESP-IDF `esp_core_dump_types.h`): `start`, `size`.
/// The segment's bytes follow it.
const MEM_SEG_HEADER_LEN: usize = 8;
/// Offset of `size` in `core_dump_mem_seg_header_t`.
const MEM_SEG_HEADER_SIZE: usize = 4;

/// Parses a binary body. `arch` comes from the chip ID in the header version word.
///
/// `list_mem_segs`: whether the memory segments appear in "ALL MEMORY REGIONS"; esp-coredump's
/// converter adds them for BIN_V2 only, not BIN_V2_1, so the report follows it while
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
        let (Some(tcb_addr), Some(s0), Some(s1)) = (
            u32_at(body, off),
            u32_at(body, off + TASK_HEADER_STACK_START),
            u32_at(body, off + TASK_HEADER_STACK_END),
        ) else {
            dump.warnings.push(Warning::TaskRecordMissing {
                index: i,
                count: task_num,
            });
            break;
        };
        off += TASK_HEADER_LEN;
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
        let tcb = slice_at(body, off, tcb_len);
        push_region(&mut dump, tcb_addr, tcb.unwrap_or_default(), hdr.tcb_sz);
        off = off.saturating_add(tcb_len);
        let (stack, stack_len_padded) = padded_field(body, off, stack_len);
        if stack.len() < stack_len_padded || tcb.is_none() {
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
            t.flags = Some(TASK_STATUS_STACK_CORRUPTED);
        }
        if i == 0 {
            // The first record is the crashed task (the writer puts it first). esp-coredump's
            // converter gives it an EXTRA_INFO note with the frame's exccause and zeroed
            // EPC1..7/EPS2..7; do the same.
            dump.crashed_tcb = Some(tcb_addr);
            dump.has_extra_info = true;
            if arch == Arch::Xtensa {
                // esp-coredump get_registers_from_stack(): interrupt frames give their
                // exccause, solicited frames leave it 0, unknown causes become
                // INVALID_CAUSE_VALUE.
                let cause = match &regs {
                    Some((_, Some(c))) => *c,
                    Some((_, None)) => 0,
                    None => XT_INVALID_CAUSE,
                };
                let cause = if xtensa_cause_name(cause).is_some() {
                    cause
                } else {
                    XT_INVALID_CAUSE
                };
                dump.xtensa_exc = Some(XtensaExceptionRegs {
                    exccause: cause,
                    excvaddr: u32_at(stack, XT_STK_EXCVADDR * 4).unwrap_or(0),
                    epc: XT_EPC_LEVELS.map(|n| (n, 0)).collect(),
                    eps: XT_EPS_LEVELS.map(|n| (n, 0)).collect(),
                });
            }
        }
        dump.tasks.push(t);
    }
    let segs = hdr.mem_segs_num as usize;
    for i in 0..segs.min(MAX_SEGMENTS) {
        let (Some(start), Some(size)) =
            (u32_at(body, off), u32_at(body, off + MEM_SEG_HEADER_SIZE))
        else {
            dump.warnings.push(Warning::MemSegmentMissing {
                index: i,
                count: segs,
            });
            break;
        };
        off += MEM_SEG_HEADER_LEN;
        if size > MAX_MEM_SEG {
            dump.warnings.push(Warning::ImplausibleMemSegment {
                index: i,
                addr: start,
                size,
            });
            break;
        }
        let (data, padded) = padded_field(body, off, size);
        let seg_count = dump.segments.len();
        push_region(&mut dump, start, data, size);
        if !list_mem_segs {
            dump.segments.truncate(seg_count);
        }
        off = off.saturating_add(padded);
    }
    dump.memory.finish();
    Ok(dump)
}

/// A record field of `len` bytes, padded to 4, at `off`: the part of it that is present, and
/// its padded length (what the next record starts after).
fn padded_field(body: &[u8], off: usize, len: u32) -> (&[u8], usize) {
    let padded = align4(len as usize).unwrap_or(usize::MAX);
    let avail = body.len().saturating_sub(off).min(padded);
    (slice_at(body, off, avail).unwrap_or_default(), padded)
}

fn push_region(dump: &mut Dump, addr: u32, data: &[u8], declared: u32) {
    dump.segments.push(SegmentInfo {
        addr,
        size: declared,
        flags: DUMPED_SEGMENT_FLAGS,
    });
    if fits_address_space(addr, data.len()) {
        dump.memory.push(Region {
            addr,
            data: data.to_vec(),
            declared_len: declared,
        });
    }
}
