//! Xtensa windowed-ABI unwinder: walks the base save areas, no CFI needed, so
//! ROM frames unwind without a ROM ELF.
//!
//! In the dump every register window has been spilled (windowstart = 0), so a function's
//! caller's a0 (return address) and a1 (SP) sit in the 16 bytes just below the function's
//! own SP. The WindowOverflow4 handler stores them there (`s32e a0, a5, -16` /
//! `s32e a1, a5, -12`, with a5 the callee's SP). This is gdb's `xtensa_frame_cache` with
//! ws == 0, and ESP-IDF's `esp_backtrace_get_next_frame`.

use super::dump::Regs;
use super::memory::Memory;
use super::unwind::{FrameRegs, FrameTrust, RawFrame, StopReason, UnwindInput, Unwinder};

/// First byte of the `ENTRY` instruction (Xtensa ISA, BRI12 format with op0 = 6, n = 3,
/// m = 0).
const ENTRY_OPCODE: u8 = 0x36;
/// The address bits of a windowed return address: the top two bits hold the caller's window
/// increment (CALL4/8/12 = 01/10/11), not address bits (Xtensa ISA, windowed call ABI).
const RA_ADDR_MASK: u32 = 0x3FFF_FFFF;
/// The top two address bits: the 1 GiB code region a return address stays within.
const REGION_MASK: u32 = !RA_ADDR_MASK;
/// The region bits ESP-IDF's `esp_cpu_process_stack_pc()` puts back into a return address:
/// Xtensa code (ROM, IRAM, flash) lies in 0x4000_0000..0x8000_0000.
const CODE_REGION: u32 = 0x4000_0000;
/// Bit position of `PS.CALLINC`, the window increment of the last call (Xtensa ISA `PS` bits
/// 16..17; `PS_CALLINC_SHIFT` in ESP-IDF `xtensa/corebits.h`).
const PS_CALLINC_SHIFT: u32 = 16;
/// Width mask of `PS.CALLINC` (`PS_CALLINC_MASK >> PS_CALLINC_SHIFT`).
const PS_CALLINC_BITS: u32 = 0b11;
/// Registers the window rotates per unit of CALLINC (CALL4: a4 holds the return address).
const REGS_PER_CALLINC: usize = 4;
/// Size of the base save area below a frame's SP: the caller's a0..a3 spilled by the window
/// overflow handlers (a0 at sp-16, a1 at sp-12).
const BASE_SAVE_AREA: u32 = 16;
/// Offset of the saved a1 (the caller's SP) in the base save area.
const BSA_A1: u32 = 4;
/// The largest stack distance between two frames accepted (probe-rs uses 256 MiB; stacks
/// here are at most 64 KiB, ISR stacks included).
const MAX_FRAME_JUMP: u32 = 1 << 20;

pub(crate) struct XtensaUnwinder;

/// The CFA of the frame whose SP is `sp`: its caller's SP, saved at `sp - 12` (the caller's
/// a1 in the base save area).
fn cfa_of(memory: &Memory, sp: u32) -> Option<u32> {
    memory.read_u32(sp.checked_sub(BASE_SAVE_AREA - BSA_A1)?)
}

/// A caller frame's registers as gdb's `xtensa_frame_cache` recovers them with every window
/// spilled: a0..a3 from the base save area below the callee's SP (`callee_sp - 16`), and for a
/// CALL8/CALL12 (window increment in the top bits of the return address `raw_ra`) a4..a7/a11
/// from the extra save area at the top of this frame, just below its caller's base save area
/// (the `s32e a4, a0, -32` of ESP-IDF's `_WindowOverflow8`). The registers the callee's window
/// overlapped are not saved: `None`.
fn caller_regs(memory: &Memory, callee_sp: u32, sp: u32, raw_ra: u32) -> FrameRegs {
    let mut regs = FrameRegs::default();
    if let Some(bsa) = callee_sp.checked_sub(BASE_SAVE_AREA) {
        for (i, slot) in regs.regs.iter_mut().take(4).enumerate() {
            *slot = bsa
                .checked_add(4 * i as u32)
                .and_then(|a| memory.read_u32(a));
        }
    }
    regs.regs[1] = Some(sp);
    regs.cfa = cfa_of(memory, sp);
    let callsize = (REGS_PER_CALLINC as u32) * (raw_ra >> 30);
    if callsize > 4
        && let Some(caller_sp) = regs.cfa
        && let Some(extra) = caller_sp.checked_sub(BASE_SAVE_AREA + (callsize - 4) * 4)
    {
        for i in 4..callsize {
            regs.regs[i as usize] = extra
                .checked_add((i - 4) * 4)
                .and_then(|a| memory.read_u32(a));
        }
    }
    regs
}

/// Return address → caller PC: the top two bits of a0 hold the window increment, so take
/// them from the current PC (code region), like gdb and `esp_cpu_process_stack_pc`.
fn caller_pc(pc: u32, ra: u32) -> u32 {
    (pc & REGION_MASK) | (ra & RA_ADDR_MASK)
}

/// A return address or masked PC with the code region bits put back, like ESP-IDF's
/// `esp_cpu_process_stack_pc()` (without its `- 3`).
pub(crate) fn restore_code_region(pc: u32) -> u32 {
    (pc & RA_ADDR_MASK) | CODE_REGION
}

impl Unwinder for XtensaUnwinder {
    fn unwind(&self, input: &UnwindInput<'_>) -> (Vec<RawFrame>, StopReason) {
        let Regs::Xtensa(r) = input.regs else {
            return (Vec::new(), StopReason::NoRegisters);
        };
        // Solicited frames (XtSolFrame, exit == 0) carry a PC masked to 30 bits by the device
        // (`& 0x3FFFFFFF` in ESP-IDF's core_dump_port.c); restore the code region bits like
        // esp_cpu_process_stack_pc() when the result is firmware code.
        let mut pc0 = r.pc;
        if pc0 != 0
            && pc0 & REGION_MASK == 0
            && input
                .app
                .is_some_and(|s| s.is_code(restore_code_region(pc0)))
        {
            pc0 = restore_code_region(pc0);
        }
        let mut regs0 = FrameRegs::known(&r.a);
        regs0.cfa = cfa_of(input.memory, r.a[1]);
        let mut frames = vec![RawFrame {
            pc: pc0,
            sp: Some(r.a[1]),
            trust: FrameTrust::Context,
            regs: regs0,
        }];
        let max = input.max_frames.max(1);
        let (mut pc, mut sp, mut a0) = (pc0, r.a[1], r.a[0]);
        // Frame 0 only: a PC on ENTRY means the window has not rotated yet; the return
        // address is a[4 * PS.CALLINC] and the caller's SP is the current a1.
        let code_byte = input
            .app
            .and_then(|s| s.code_byte(pc))
            .or_else(|| input.rom.and_then(|s| s.code_byte(pc)));
        if code_byte == Some(ENTRY_OPCODE) {
            let callinc = ((r.ps >> PS_CALLINC_SHIFT) & PS_CALLINC_BITS) as usize;
            let ra = r.a.get(REGS_PER_CALLINC * callinc).copied().unwrap_or(0);
            if max < 2 {
                return (frames, StopReason::MaxFrames { limit: max });
            }
            pc = caller_pc(pc, ra);
            // The window has not rotated: the caller's registers are the live ones.
            frames.push(RawFrame {
                pc,
                sp: Some(sp),
                trust: FrameTrust::Windowed,
                regs: regs0,
            });
            // sp stays: the caller's SP is a1; its own return address is the live a0.
        }
        let mut seen: Vec<(u32, u32)> = Vec::new();
        loop {
            if input.deadline_passed() {
                return (frames, StopReason::Deadline);
            }
            if a0 == 0 {
                return (frames, StopReason::Outermost);
            }
            if frames.len() >= max {
                return (frames, StopReason::MaxFrames { limit: max });
            }
            let next_pc = caller_pc(pc, a0);
            // Base save area below this frame's SP: caller's a0 at sp-16, a1 at sp-12.
            let Some(bsa) = sp.checked_sub(BASE_SAVE_AREA) else {
                frames.push(RawFrame {
                    pc: next_pc,
                    sp: None,
                    trust: FrameTrust::Windowed,
                    regs: FrameRegs::default(),
                });
                return (frames, StopReason::MemoryUnavailable { addr: 0 });
            };
            let (Some(next_a0), Some(next_sp)) = (
                input.memory.read_u32(bsa),
                input.memory.read_u32(bsa.wrapping_add(BSA_A1)),
            ) else {
                frames.push(RawFrame {
                    pc: next_pc,
                    sp: None,
                    trust: FrameTrust::Windowed,
                    regs: FrameRegs::default(),
                });
                return (frames, StopReason::MemoryUnavailable { addr: bsa });
            };
            // No "is this code?" test here: gdb has none, and a PC outside the known
            // sections (RTC fast code, ROM beyond the table in chip.rs) is still a frame.
            if next_sp < sp || next_sp - sp > MAX_FRAME_JUMP {
                return (frames, StopReason::InnerFrame);
            }
            if seen.contains(&(next_pc, next_sp)) {
                return (frames, StopReason::SameFrame);
            }
            seen.push((next_pc, next_sp));
            frames.push(RawFrame {
                pc: next_pc,
                sp: Some(next_sp),
                trust: FrameTrust::Windowed,
                regs: caller_regs(input.memory, sp, next_sp, a0),
            });
            (pc, sp, a0) = (next_pc, next_sp, next_a0);
        }
    }
}
