//! RISC-V unwinder: DWARF CFI from the firmware's `.debug_frame`/`.eh_frame` (and a ROM
//! ELF's, when given), with gdb's stop rules:
//! - an explicit `DW_CFA_undefined ra` (ESP-IDF's `vPortTaskWrapper`) ends the walk silently;
//! - an unwound return address of 0 gives a `0x00000000 in ?? ()` frame, then
//!   "frame did not save the PC";
//! - a PC without CFI (ROM code without the ROM ELF) is printed, then the walk stops silently.
//!
//! A register without a rule keeps its value (gdb's "unspecified = same value").

use super::dump::Regs;
use super::symbols::{CfiRow, RegRule};
use super::unwind::{RawFrame, StopReason, UnwindInput, Unwinder};

/// Register number of sp (x2), in the prstatus array and as a DWARF register (RISC-V psABI).
pub(crate) const SP: usize = 2;

pub(crate) struct RiscvUnwinder;

/// `base + off` as a 32-bit address, `None` when the CFI offset leaves the address space.
fn offset_addr(base: u32, off: i64) -> Option<u32> {
    u32::try_from(i64::from(base).checked_add(off)?).ok()
}

fn row_for(input: &UnwindInput<'_>, probe: u32) -> Option<CfiRow> {
    input
        .app
        .and_then(|s| s.cfi_row(probe))
        .or_else(|| input.rom.and_then(|s| s.cfi_row(probe)))
}

impl Unwinder for RiscvUnwinder {
    fn unwind(&self, input: &UnwindInput<'_>) -> (Vec<RawFrame>, StopReason) {
        let Regs::Riscv(r) = input.regs else {
            return (Vec::new(), StopReason::NoRegisters);
        };
        // x[0] of the note is the PC; the DWARF register 0 is the zero register.
        let mut pc = r.x[0];
        let mut x = r.x;
        x[0] = 0;
        let mut frames = vec![RawFrame {
            pc,
            sp: Some(x[SP]),
        }];
        let max = input.max_frames.max(1);
        let mut seen: Vec<(u32, u32)> = Vec::new();
        loop {
            if input.deadline_passed() {
                return (frames, StopReason::Deadline);
            }
            if frames.len() >= max {
                return (frames, StopReason::MaxFrames { limit: max });
            }
            // Callers are looked up at pc - 1: after a noreturn call the return address may
            // be the first byte of the next function (0x4038368e = __ubsan_include).
            let probe = if frames.len() == 1 {
                pc
            } else {
                pc.wrapping_sub(1)
            };
            let Some(row) = row_for(input, probe) else {
                return (frames, StopReason::NoUnwindInfo { pc });
            };
            let Some((cfa_reg, cfa_off)) = row.cfa else {
                return (frames, StopReason::UnsupportedCfi { pc });
            };
            let Some(&base) = x.get(usize::from(cfa_reg)) else {
                return (frames, StopReason::UnsupportedCfi { pc });
            };
            let Some(cfa) = offset_addr(base, cfa_off) else {
                return (frames, StopReason::UnsupportedCfi { pc });
            };
            let ra_col = usize::from(row.ra_column);
            if row.rule(row.ra_column) == RegRule::Undefined {
                return (frames, StopReason::Outermost);
            }
            let mut next = x;
            for (reg, slot) in next.iter_mut().enumerate().skip(1) {
                let rule = row.rule(reg as u16);
                match rule {
                    RegRule::Unspecified | RegRule::SameValue | RegRule::Undefined => {}
                    RegRule::Offset(n) => {
                        let Some(addr) = offset_addr(cfa, n) else {
                            return (frames, StopReason::UnsupportedCfi { pc });
                        };
                        match input.memory.read_u32(addr) {
                            Some(v) => *slot = v,
                            None => {
                                return (frames, StopReason::MemoryUnavailable { addr });
                            }
                        }
                    }
                    RegRule::ValOffset(n) => match offset_addr(cfa, n) {
                        Some(v) => *slot = v,
                        None => return (frames, StopReason::UnsupportedCfi { pc }),
                    },
                    RegRule::Register(src) => {
                        if let Some(&v) = x.get(usize::from(src)) {
                            *slot = v;
                        }
                    }
                    RegRule::Unsupported => {
                        if reg == ra_col || reg == SP {
                            return (frames, StopReason::UnsupportedCfi { pc });
                        }
                    }
                }
            }
            next[SP] = cfa;
            let Some(&next_pc) = next.get(ra_col) else {
                return (frames, StopReason::UnsupportedCfi { pc });
            };
            if next_pc == 0 {
                frames.push(RawFrame {
                    pc: 0,
                    sp: Some(cfa),
                });
                return (frames, StopReason::PcNotSaved);
            }
            let sp = x[SP];
            if cfa < sp {
                return (frames, StopReason::InnerFrame);
            }
            if seen.contains(&(next_pc, cfa)) || (next_pc == pc && cfa == sp) {
                return (frames, StopReason::SameFrame);
            }
            seen.push((next_pc, cfa));
            frames.push(RawFrame {
                pc: next_pc,
                sp: Some(cfa),
            });
            pc = next_pc;
            x = next;
        }
    }
}
