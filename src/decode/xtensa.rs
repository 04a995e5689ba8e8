//! Xtensa windowed-ABI unwinder (spec §5.1): walks the base save areas, no CFI needed, so
//! ROM frames unwind without a ROM ELF.
//!
//! In the dump every register window has been spilled (windowstart = 0), so a function's
//! caller's a0 (return address) and a1 (SP) sit in the 16 bytes just below the function's
//! own SP. The WindowOverflow4 handler stores them there (`s32e a0, a5, -16` /
//! `s32e a1, a5, -12`, with a5 the callee's SP). This is gdb's `xtensa_frame_cache` with
//! ws == 0, and ESP-IDF's `esp_backtrace_get_next_frame`.

use super::dump::Regs;
use super::unwind::{RawFrame, StopReason, UnwindInput, Unwinder};

/// First byte of the `ENTRY` instruction.
const ENTRY_OPCODE: u8 = 0x36;
/// The largest stack distance between two frames accepted (probe-rs uses 256 MiB; stacks
/// here are at most 64 KiB, ISR stacks included).
const MAX_FRAME_JUMP: u32 = 1 << 20;

pub(crate) struct XtensaUnwinder;

/// Return address → caller PC: the top two bits of a0 hold the window increment, so take
/// them from the current PC (code region), like gdb and `esp_cpu_process_stack_pc`.
fn caller_pc(pc: u32, ra: u32) -> u32 {
    (pc & 0xC000_0000) | (ra & 0x3FFF_FFFF)
}

impl Unwinder for XtensaUnwinder {
    fn unwind(&self, input: &UnwindInput<'_>) -> (Vec<RawFrame>, StopReason) {
        let Regs::Xtensa(r) = input.regs else {
            return (Vec::new(), StopReason::NoRegisters);
        };
        // Solicited frames (XtSolFrame, exit == 0) carry a PC masked to 30 bits by the device
        // (spec §4.1); restore the code region bits like esp_cpu_process_stack_pc() when the
        // result is firmware code.
        let mut pc0 = r.pc;
        if pc0 != 0 && pc0 >> 30 == 0 && input.app.is_some_and(|s| s.is_code(pc0 | 0x4000_0000)) {
            pc0 |= 0x4000_0000;
        }
        let mut frames = vec![RawFrame {
            pc: pc0,
            sp: Some(r.a[1]),
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
            let callinc = ((r.ps >> 16) & 3) as usize;
            let ra = r.a.get(4 * callinc).copied().unwrap_or(0);
            if max < 2 {
                return (frames, StopReason::MaxFrames { limit: max });
            }
            pc = caller_pc(pc, ra);
            frames.push(RawFrame { pc, sp: Some(sp) });
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
            let Some(bsa) = sp.checked_sub(16) else {
                frames.push(RawFrame {
                    pc: next_pc,
                    sp: None,
                });
                return (frames, StopReason::MemoryUnavailable { addr: 0 });
            };
            let (Some(next_a0), Some(next_sp)) = (
                input.memory.read_u32(bsa),
                input.memory.read_u32(bsa.wrapping_add(4)),
            ) else {
                frames.push(RawFrame {
                    pc: next_pc,
                    sp: None,
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
            });
            (pc, sp, a0) = (next_pc, next_sp, next_a0);
        }
    }
}
