//! What the unwinders share: the [`Unwinder`] trait, physical frames, and the typed reason a
//! walk ended ([`StopReason`]), which the report turns into gdb's `Backtrace stopped:` lines.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::chip::Arch;
use super::dump::Regs;
use super::memory::Memory;
use super::riscv::RiscvUnwinder;
use super::symbols::Symbolizer;
use super::xtensa::XtensaUnwinder;

/// How a frame was found (Breakpad's "frame trust"): the more a frame was inferred, the less
/// it should be relied on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameTrust {
    /// Frame 0: the registers the dump saved.
    Context,
    /// Unwound with DWARF call frame information (RISC-V).
    Cfi,
    /// Unwound through the Xtensa register-window save areas.
    Windowed,
    /// Recovered by scanning the stack for a return address, where CFI ran out (RISC-V ROM
    /// code without a ROM ELF); see `riscv::scan_for_caller`.
    Scan,
    /// Not unwound: a function that tail-called its callee (and so left no return address),
    /// rebuilt from the DWARF call sites as gdb does when the chain is unambiguous; its PC is
    /// the tail-call site's return address. See `values::tailcall`.
    #[serde(rename = "tailcall")]
    TailCall,
}

/// A physical frame found by an unwinder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawFrame {
    /// PC (frame 0) or return address (callers), as gdb prints it.
    pub pc: u32,
    /// Stack pointer / CFA of the frame, when known.
    pub sp: Option<u32>,
    /// How it was found.
    pub trust: FrameTrust,
    /// The frame's registers as gdb recovers them, for its variables' DWARF locations.
    pub regs: FrameRegs,
}

/// DWARF register numbers a frame records (RISC-V x0..x31; Xtensa a0..a15 use 0..15).
pub(crate) const FRAME_REGS: usize = 32;

/// One frame's registers by DWARF register number, and its canonical frame address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FrameRegs {
    /// `None`: not saved in this frame (gdb's `<not saved>`, printed `<optimized out>`).
    pub regs: [Option<u32>; FRAME_REGS],
    /// The CFA (`DW_OP_call_frame_cfa`), when the walk computed it.
    pub cfa: Option<u32>,
}

impl FrameRegs {
    /// All of `values` known, the rest not; no CFA yet.
    pub fn known(values: &[u32]) -> FrameRegs {
        let mut regs = [None; FRAME_REGS];
        for (slot, v) in regs.iter_mut().zip(values) {
            *slot = Some(*v);
        }
        FrameRegs { regs, cfa: None }
    }

    /// The value of DWARF register `n`, if the frame has it.
    pub fn get(&self, n: u16) -> Option<u32> {
        self.regs.get(usize::from(n)).copied().flatten()
    }
}

/// Why a backtrace ended. Every walk ends with exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StopReason {
    /// The outermost frame was reached (Xtensa `a0 == 0`, RISC-V `DW_CFA_undefined ra`).
    Outermost,
    /// RISC-V: no CFI covers this PC (typically ROM code without a ROM ELF); gdb stops here
    /// silently after printing the frame.
    NoUnwindInfo {
        /// The PC without CFI.
        pc: u32,
    },
    /// The unwound return address was 0 (gdb: "frame did not save the PC").
    PcNotSaved,
    /// The caller would have the same PC and stack pointer (a loop).
    SameFrame,
    /// The caller's stack pointer is below this frame's (gdb: "inner to this frame").
    InnerFrame,
    /// Memory the walk needed is not in the dump.
    MemoryUnavailable {
        /// The address that could not be read.
        addr: u32,
    },
    /// A CFI rule this decoder does not evaluate (DWARF expressions).
    UnsupportedCfi {
        /// The PC whose CFI row has the rule.
        pc: u32,
    },
    /// The per-task frame limit was reached.
    MaxFrames {
        /// Frames per task (`Options::max_frames`).
        limit: usize,
    },
    /// The decode deadline passed.
    Deadline,
    /// The task has no registers in the dump.
    NoRegisters,
}

impl StopReason {
    /// gdb's `Backtrace stopped: ...` text, or `None` for silent stops.
    pub fn gdb_message(&self) -> Option<String> {
        match self {
            StopReason::Outermost | StopReason::NoUnwindInfo { .. } => None,
            StopReason::PcNotSaved => Some("frame did not save the PC".into()),
            StopReason::SameFrame => {
                Some("previous frame identical to this frame (corrupt stack?)".into())
            }
            StopReason::InnerFrame => {
                Some("previous frame inner to this frame (corrupt stack?)".into())
            }
            StopReason::MemoryUnavailable { addr } => {
                Some(format!("Cannot access memory at address 0x{addr:x}"))
            }
            StopReason::UnsupportedCfi { pc } => Some(format!(
                "unsupported CFI rule at 0x{pc:08x} (crashbox decoder)"
            )),
            StopReason::MaxFrames { limit } => {
                Some(format!("frame limit of {limit} reached (crashbox decoder)"))
            }
            StopReason::Deadline => Some("decode deadline exceeded (crashbox decoder)".into()),
            StopReason::NoRegisters => Some("no registers for this task in the dump".into()),
        }
    }
}

/// Inputs every unwinder gets.
pub(crate) struct UnwindInput<'a> {
    pub regs: &'a Regs,
    pub memory: &'a Memory,
    pub app: Option<&'a Symbolizer>,
    pub rom: Option<&'a Symbolizer>,
    pub max_frames: usize,
    pub deadline: Option<Instant>,
    /// Whether the RISC-V walk may scan the stack past ROM code (see `riscv::scan_for_caller`).
    pub stack_scan: bool,
}

impl UnwindInput<'_> {
    pub fn deadline_passed(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// An architecture's stack walk.
pub(crate) trait Unwinder {
    /// Walks the stack from the registers; always returns at least frame 0.
    fn unwind(&self, input: &UnwindInput<'_>) -> (Vec<RawFrame>, StopReason);
}

/// Walks the stack with the unwinder of `arch`: the one place that picks it.
pub(crate) fn unwind(arch: Arch, input: &UnwindInput<'_>) -> (Vec<RawFrame>, StopReason) {
    match arch {
        Arch::Xtensa => XtensaUnwinder.unwind(input),
        Arch::Riscv => RiscvUnwinder.unwind(input),
    }
}
