//! The register frames ESP-IDF saves at a task's stack pointer, and the registers read from
//! them: Xtensa `XtExcFrame` (interrupt or exception) and `XtSolFrame` (solicited switch by
//! `vPortYield`), both from ESP-IDF `xtensa_context.h`, and RISC-V `RvExcFrame` from ESP-IDF
//! `components/riscv/include/riscv/rvruntime-frames.h`.
//!
//! Used where the dump has no prstatus note for the registers: the tasks of a legacy binary
//! dump, the interrupted task of an ISR crash (the frame at its TCB `pxTopOfStack`), and the
//! RISC-V exception CSRs of the crashed task.

use super::bytes::u32_at;
use super::chip::Arch;
use super::dump::{Regs, RiscvRegs, XtensaRegs};
use super::xtensa::restore_code_region;

// XtExcFrame word indices (`XT_STK_*` of esp-coredump `corefile/xtensa.py` and ESP-IDF
// `core_dump_port.c`; ESP-IDF `xtensa_context.h` gives them as byte offsets).

/// `exit`: the frame type, 0 for a solicited frame (`XT_STK_EXIT`, `XT_SOL_EXIT`).
const XT_STK_EXIT: usize = 0;
/// `pc` (`XT_STK_PC`).
const XT_STK_PC: usize = 1;
/// `ps` (`XT_STK_PS`).
const XT_STK_PS: usize = 2;
/// `a0`; a0..a15 follow (`XT_STK_AR_START`).
const XT_STK_AR_START: usize = 3;
/// `sar` (`XT_STK_SAR`).
const XT_STK_SAR: usize = 19;
/// `exccause` (`XT_STK_EXCCAUSE`).
const XT_STK_EXCCAUSE: usize = 20;
/// `excvaddr` (`XT_STK_EXCVADDR`).
pub(crate) const XT_STK_EXCVADDR: usize = 21;
/// `lbeg` (`XT_STK_LBEG`).
const XT_STK_LBEG: usize = 22;
/// `lend` (`XT_STK_LEND`).
const XT_STK_LEND: usize = 23;
/// `lcount` (`XT_STK_LCOUNT`).
const XT_STK_LCOUNT: usize = 24;
/// Words of `XtExcFrame` that hold registers; esp-coredump reads this many (`XT_STK_FRMSZ`).
const XT_STK_FRMSZ: u32 = 25;

// XtSolFrame word indices (`XT_SOL_*` of esp-coredump `corefile/xtensa.py`).

/// `pc`: the raw a0 of `vPortYield`, window bits included (`XT_SOL_PC`).
const XT_SOL_PC: usize = 1;
/// `ps` (`XT_SOL_PS`).
const XT_SOL_PS: usize = 2;
/// First of the four saved registers a0..a3 (`XT_SOL_AR_START`, `XT_SOL_AR_NUM` = 4).
const XT_SOL_AR_START: usize = 4;
/// Registers saved in a solicited frame (`XT_SOL_AR_NUM`).
const XT_SOL_AR_NUM: usize = 4;
/// Bytes of `XtSolFrame`: exit, pc, ps, next, a0..a3 (`XT_SOL_FRMSZ` = 8 words). The caller's
/// SP (a1) is the frame's end when the frame leaves it 0.
const XT_SOL_FRAME_BYTES: u32 = 32;

/// `PS.UM`, user vector mode (Xtensa ISA `PS` bit 5; `PS_UM` in ESP-IDF `xtensa/corebits.h`).
const PS_UM: u32 = 1 << 5;
/// `PS.EXCM`, exception mode (Xtensa ISA `PS` bit 4; `PS_EXCM` in `xtensa/corebits.h`).
const PS_EXCM: u32 = 1 << 4;

// RvExcFrame: mepc, x1..x31, then the CSRs (`RV_STK_*` of ESP-IDF `rvruntime-frames.h`).

/// Words at the start of `RvExcFrame` that match the prstatus register array: mepc (`RV_STK_MEPC`)
/// then x1..x31.
const RV_STK_REGS: u32 = 32;
/// Byte offset of `mstatus` (`RV_STK_MSTATUS`).
pub(crate) const RV_STK_MSTATUS: u32 = 128;
/// Byte offset of `mtvec` (`RV_STK_MTVEC`).
pub(crate) const RV_STK_MTVEC: u32 = 132;
/// Byte offset of `mcause` (`RV_STK_MCAUSE`).
pub(crate) const RV_STK_MCAUSE: u32 = 136;
/// Byte offset of `mtval` (`RV_STK_MTVAL`).
pub(crate) const RV_STK_MTVAL: u32 = 140;

/// Bytes of the frame at a task's stack pointer that [`frame_regs`] reads.
pub(crate) fn frame_len(arch: Arch) -> u32 {
    let words = match arch {
        Arch::Xtensa => XT_STK_FRMSZ,
        Arch::Riscv => RV_STK_REGS,
    };
    words * 4
}

/// Registers from the frame at `frame_addr` (its bytes are `stack`), plus the `exccause` word
/// of an Xtensa interrupt frame. Built like ESP-IDF's `esp_core_dump_get_regs_from_stack` and
/// esp-coredump's `get_registers_from_stack`.
pub(crate) fn frame_regs(arch: Arch, stack: &[u8], frame_addr: u32) -> Option<(Regs, Option<u32>)> {
    let w = |i: usize| u32_at(stack, i * 4);
    match arch {
        Arch::Xtensa => {
            let exit = w(XT_STK_EXIT)?;
            if exit != 0 {
                let mut a = [0u32; 16];
                for (n, slot) in a.iter_mut().enumerate() {
                    *slot = w(XT_STK_AR_START + n)?;
                }
                let mut ps = w(XT_STK_PS)?;
                // gdb treats EXCM = 1 as "not windowed", so the device clears it in user mode.
                if ps & PS_UM != 0 {
                    ps &= !PS_EXCM;
                }
                Some((
                    Regs::Xtensa(XtensaRegs {
                        pc: w(XT_STK_PC)?,
                        ps,
                        lbeg: w(XT_STK_LBEG).unwrap_or(0),
                        lend: w(XT_STK_LEND).unwrap_or(0),
                        lcount: w(XT_STK_LCOUNT).unwrap_or(0),
                        sar: w(XT_STK_SAR).unwrap_or(0),
                        a,
                    }),
                    w(XT_STK_EXCCAUSE),
                ))
            } else {
                let mut a = [0u32; 16];
                for (n, slot) in a.iter_mut().take(XT_SOL_AR_NUM).enumerate() {
                    *slot = w(XT_SOL_AR_START + n)?;
                }
                if a[1] == 0 {
                    a[1] = frame_addr.wrapping_add(XT_SOL_FRAME_BYTES);
                }
                Some((
                    Regs::Xtensa(XtensaRegs {
                        pc: restore_code_region(w(XT_SOL_PC)?),
                        ps: w(XT_SOL_PS)?,
                        a,
                        ..Default::default()
                    }),
                    None,
                ))
            }
        }
        Arch::Riscv => {
            let mut x = [0u32; 32];
            for (n, slot) in x.iter_mut().enumerate() {
                *slot = w(n)?;
            }
            Some((Regs::Riscv(RiscvRegs { x }), None))
        }
    }
}
