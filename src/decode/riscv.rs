//! RISC-V unwinder: DWARF CFI from the firmware's `.debug_frame`/`.eh_frame` (and a ROM
//! ELF's, when given), with gdb's stop rules:
//! - an explicit `DW_CFA_undefined ra` (ESP-IDF's `vPortTaskWrapper`) ends the walk silently;
//! - an unwound return address of 0 gives a `0x00000000 in ?? ()` frame, then
//!   "frame did not save the PC";
//! - a PC without CFI (ROM code without the ROM ELF) is printed; then, where gdb stops, this
//!   walk looks for the caller on the stack ([`scan_for_caller`]) and resumes with CFI from the
//!   frame it finds; when none is found the walk stops silently as gdb's does.
//!
//! A register without a rule keeps its value (gdb's "unspecified = same value").

use super::dump::Regs;
use super::symbols::Symbolizer;
use super::symbols::{CfiRow, RegRule};
use super::unwind::{FrameRegs, FrameTrust, RawFrame, StopReason, UnwindInput, Unwinder};

/// Register number of sp (x2), in the prstatus array and as a DWARF register (RISC-V psABI).
pub(crate) const SP: usize = 2;
/// Register number of ra (x1): the link register a call writes (RISC-V psABI).
const RA: u32 = 1;
/// Stack words a scan looks at before it gives up: 1 KiB, more than any ROM function's frame
/// (Breakpad scans 30-40 words on ARM; ESP-IDF's ROM printf frames are under 200 bytes).
const SCAN_WORDS: u32 = 256;

/// Stack words above the found return address among which the recovered frame's own saved ra
/// is looked for (see [`caller_sp`]).
const RESUME_WORDS: u32 = 64;

/// Sign-extends the low `bits` bits of `v`.
fn sext(v: u32, bits: u32) -> i32 {
    let shift = 32 - bits;
    ((v << shift) as i32) >> shift
}

/// `n` bytes of the app's code at `at`, little-endian.
fn code(app: &Symbolizer, at: u32, n: u32) -> Option<u32> {
    (0..n).try_fold(0u32, |acc, i| {
        let b = app.code_byte(at.checked_add(i)?)?;
        Some(acc | u32::from(b) << (8 * i))
    })
}

/// The target of the call that returns to `ret`, when the instruction before `ret` in the
/// app's code is a call that links ra and its target can be computed from the code alone:
/// `jal ra, off`, `c.jal off`, or `jalr ra, lo(rd)` right after `auipc rd, hi` / `lui rd, hi`
/// (the `call` pseudo-instruction for far targets such as ROM). `Some(None)` for a call whose
/// target is in a register (`c.jalr`, `jalr` alone); `None` when no call precedes `ret`.
/// Encodings: RISC-V ISA manual, vol. I, "RV32I Base Integer Instruction Set" (J-, I- and
/// U-type) and "Compressed Instruction Formats" (CJ, CR).
fn call_before(app: &Symbolizer, ret: u32) -> Option<Option<u32>> {
    if let Some(at) = ret.checked_sub(4)
        && let Some(insn) = code(app, at, 4)
    {
        let (opcode, rd, funct3, rs1) = (
            insn & 0x7f,
            (insn >> 7) & 0x1f,
            (insn >> 12) & 0x7,
            (insn >> 15) & 0x1f,
        );
        if rd == RA && opcode == 0x6f {
            // J-type: imm[20|10:1|11|19:12] = insn[31|30:21|20|19:12].
            let imm = ((insn >> 31) & 1) << 20
                | ((insn >> 21) & 0x3ff) << 1
                | ((insn >> 20) & 1) << 11
                | ((insn >> 12) & 0xff) << 12;
            return Some(Some(at.wrapping_add_signed(sext(imm, 21))));
        }
        if rd == RA && opcode == 0x67 && funct3 == 0 {
            let lo = sext(insn >> 20, 12);
            let upper = at.checked_sub(4).and_then(|p| Some((p, code(app, p, 4)?)));
            let target = upper.and_then(|(p, prev)| {
                let (op, prd) = (prev & 0x7f, (prev >> 7) & 0x1f);
                let hi = prev & 0xffff_f000;
                match op {
                    0x17 if prd == rs1 => Some(p.wrapping_add(hi).wrapping_add_signed(lo)),
                    0x37 if prd == rs1 => Some(hi.wrapping_add_signed(lo)),
                    _ => None,
                }
            });
            return Some(target);
        }
    }
    let at = ret.checked_sub(2)?;
    let c = code(app, at, 2)?;
    let (op, funct3) = (c & 0x3, (c >> 13) & 0x7);
    if op == 0b01 && funct3 == 0b001 {
        // CJ: offset[11|4|9:8|10|6|7|3:1|5] = c[12|11|10:9|8|7|6|5:3|2].
        let imm = ((c >> 12) & 1) << 11
            | ((c >> 11) & 1) << 4
            | ((c >> 9) & 0x3) << 8
            | ((c >> 8) & 1) << 10
            | ((c >> 7) & 1) << 6
            | ((c >> 6) & 1) << 7
            | ((c >> 3) & 0x7) << 1
            | ((c >> 2) & 1) << 5;
        return Some(Some(at.wrapping_add_signed(sext(imm, 12))));
    }
    if op == 0b10 && (c >> 12) == 0b1001 && (c >> 7) & 0x1f != 0 && (c >> 2) & 0x1f == 0 {
        return Some(None);
    }
    None
}

/// Whether `v` looks like a return address into the app: the instruction before it is a call.
fn returns_into_app(app: &Symbolizer, v: u32) -> bool {
    v.checked_sub(1).is_some_and(|p| app.is_code(p)) && call_before(app, v).is_some()
}

/// The recovered frame's stack pointer. Its CFI says where, relative to its CFA (`sp + k`), it
/// saved its own return address; the frame lies above the word found at `at`, so the first
/// `sp` from `at + 4` up whose saved-ra slot holds a return address into the app (or whose
/// function is outermost) is taken. `None` when its CFA is not `sp`-based or nothing fits.
fn caller_sp(input: &UnwindInput<'_>, app: &Symbolizer, ret: u32, at: u32) -> Option<u32> {
    let row = app.cfi_row(ret.checked_sub(1)?)?;
    let (cfa_reg, cfa_off) = row.cfa?;
    if usize::from(cfa_reg) != SP {
        return None;
    }
    let first = at.checked_add(4)?;
    match row.rule(row.ra_column) {
        RegRule::Undefined => Some(first),
        RegRule::Offset(n) => (0..RESUME_WORDS).find_map(|k| {
            let sp = first.checked_add(k * 4)?;
            let slot = offset_addr(offset_addr(sp, cfa_off)?, n)?;
            if slot <= at {
                return None;
            }
            let v = input.memory.read_u32(slot)?;
            returns_into_app(app, v).then_some(sp)
        }),
        _ => None,
    }
}

/// Where CFI runs out in code the decoder has neither bytes nor CFI for (mask ROM without a
/// ROM ELF), finds the caller on the stack: from the frame's `sp` up, at most [`SCAN_WORDS`]
/// words and only within the dump's memory, the first word that
/// - is a return address into the app's executable code: the instruction before it is a call
///   that links ra, read from the ELF's own bytes;
/// - returns from a call *into code without CFI* (the target computed from the call; calls
///   through a register alone are not trusted) — a stale return address left on the stack by
///   an earlier call of an app function fails this;
/// - belongs to a function with CFI, whose own saved return address is found above it
///   ([`caller_sp`]), so the walk can resume with CFI.
///
/// ROM return addresses on the way are skipped: without a ROM ELF gdb shows ROM frames only as
/// `?? ()`, and a scanned ROM frame could not be checked. Returns the return address and the
/// recovered frame's `sp`.
pub(crate) fn scan_for_caller(input: &UnwindInput<'_>, sp: u32) -> Option<(u32, u32)> {
    let app = input.app?;
    for i in 0..SCAN_WORDS {
        let at = sp.checked_add(i.checked_mul(4)?)?;
        let word = input.memory.read_u32(at)?;
        if !word.checked_sub(1).is_some_and(|p| app.is_code(p)) {
            continue;
        }
        let Some(Some(target)) = call_before(app, word) else {
            continue;
        };
        if app.is_code(target) || row_for(input, target).is_some() {
            continue;
        }
        if let Some(caller) = caller_sp(input, app, word, at) {
            return Some((word, caller));
        }
    }
    None
}

pub(crate) struct RiscvUnwinder;

/// A frame's registers for its variables: `x` where `known`, the CFA filled in later.
fn frame_regs(x: &[u32; 32], known: &[bool; 32]) -> FrameRegs {
    let mut regs = FrameRegs::known(x);
    for (slot, k) in regs.regs.iter_mut().zip(known) {
        if !k {
            *slot = None;
        }
    }
    regs
}

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
        // Which registers gdb still knows in the current frame: all in frame 0; in callers,
        // those without a rule keep the callee's (gdb's "same value"), `undefined` ones are
        // lost.
        let mut saved = [true; 32];
        let mut frames = vec![RawFrame {
            pc,
            sp: Some(x[SP]),
            trust: FrameTrust::Context,
            regs: frame_regs(&x, &saved),
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
                // No CFI. In code nobody has bytes for (ROM without its ELF), look for the
                // caller on the stack; else stop where gdb stops.
                let known = [input.app, input.rom]
                    .into_iter()
                    .flatten()
                    .any(|s| s.is_code(probe));
                let found = if known || !input.stack_scan {
                    None
                } else {
                    scan_for_caller(input, x[SP])
                };
                let Some((ra, caller_sp)) = found else {
                    return (frames, StopReason::NoUnwindInfo { pc });
                };
                if seen.contains(&(ra, caller_sp)) {
                    return (frames, StopReason::SameFrame);
                }
                seen.push((ra, caller_sp));
                // The caller's registers: its sp as found; the others as they are (CFI
                // restores what the caller's own frame saved).
                x[SP] = caller_sp;
                frames.push(RawFrame {
                    pc: ra,
                    sp: Some(caller_sp),
                    trust: FrameTrust::Scan,
                    regs: frame_regs(&x, &saved),
                });
                pc = ra;
                continue;
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
            if let Some(f) = frames.last_mut() {
                f.regs.cfa = Some(cfa);
            }
            let ra_col = usize::from(row.ra_column);
            if row.rule(row.ra_column) == RegRule::Undefined {
                return (frames, StopReason::Outermost);
            }
            let mut next = x;
            let mut next_known = saved;
            for (reg, slot) in next.iter_mut().enumerate().skip(1) {
                let rule = row.rule(reg as u16);
                match rule {
                    RegRule::Unspecified | RegRule::SameValue => {}
                    RegRule::Undefined => next_known[reg] = false,
                    RegRule::Offset(n) => {
                        next_known[reg] = true;
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
                        Some(v) => {
                            *slot = v;
                            next_known[reg] = true;
                        }
                        None => return (frames, StopReason::UnsupportedCfi { pc }),
                    },
                    RegRule::Register(src) => {
                        if let Some(&v) = x.get(usize::from(src)) {
                            *slot = v;
                        }
                        next_known[reg] = saved.get(usize::from(src)).copied().unwrap_or(false);
                    }
                    RegRule::Unsupported => {
                        next_known[reg] = false;
                        if reg == ra_col || reg == SP {
                            return (frames, StopReason::UnsupportedCfi { pc });
                        }
                    }
                }
            }
            next[SP] = cfa;
            next_known[SP] = true;
            let Some(&next_pc) = next.get(ra_col) else {
                return (frames, StopReason::UnsupportedCfi { pc });
            };
            if next_pc == 0 {
                frames.push(RawFrame {
                    pc: 0,
                    sp: Some(cfa),
                    trust: FrameTrust::Cfi,
                    regs: frame_regs(&next, &next_known),
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
                trust: FrameTrust::Cfi,
                regs: frame_regs(&next, &next_known),
            });
            pc = next_pc;
            x = next;
            saved = next_known;
        }
    }
}
