//! The one model both body formats are turned into: memory, tasks with registers, and the
//! crash facts from the notes. Produced by `elf_core.rs` and `binary.rs`, consumed by the
//! unwinders and by `analysis.rs`.

use std::ops::RangeInclusive;

use super::chip::Arch;
use super::memory::Memory;
use super::warning::Warning;

/// Xtensa registers of a task as gdb sees them (the `xtensa_gregset_t` of the prstatus).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct XtensaRegs {
    pub pc: u32,
    pub ps: u32,
    pub lbeg: u32,
    pub lend: u32,
    pub lcount: u32,
    pub sar: u32,
    /// a0..a15 of the current window.
    pub a: [u32; 16],
}

/// RISC-V registers as the prstatus holds them: `x[0]` is the PC (mepc), `x[n]` is register
/// x_n.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RiscvRegs {
    pub x: [u32; 32],
}

/// Registers of a task, per architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Regs {
    Xtensa(XtensaRegs),
    Riscv(RiscvRegs),
}

impl Regs {
    pub fn sp(&self) -> u32 {
        match self {
            Regs::Xtensa(r) => r.a[1],
            Regs::Riscv(r) => r.x[2],
        }
    }
}

/// One task as recorded in the dump.
#[derive(Debug, Clone)]
pub(crate) struct TaskRecord {
    /// TCB address (prstatus `pr_pid`, or the binary record's `tcb_addr`).
    pub tcb_addr: u32,
    pub regs: Option<Regs>,
    /// Lower and upper bound of the dumped stack, when known.
    pub stack: Option<(u32, u32)>,
    /// `task_flags` of the `TASK_INFO` note of converted dumps
    /// ([`TASK_STATUS_TCB_CORRUPTED`], [`TASK_STATUS_STACK_CORRUPTED`]).
    pub flags: Option<u32>,
}

/// Xtensa exception registers from `ESP_EXTRA_INFO` (`xtensa_extra_info_t`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct XtensaExceptionRegs {
    pub exccause: u32,
    pub excvaddr: u32,
    /// `(N, value)` for EPC1..EPC7 present in the note, in note order.
    pub epc: Vec<(u8, u32)>,
    /// `(N, value)` for EPS2..EPS7 present in the note, in note order.
    pub eps: Vec<(u8, u32)>,
}

/// A dumped segment as listed in "ALL MEMORY REGIONS".
#[derive(Debug, Clone)]
pub(crate) struct SegmentInfo {
    pub addr: u32,
    pub size: u32,
    pub flags: u32,
}

/// Everything the body said.
#[derive(Debug)]
pub(crate) struct Dump {
    pub arch: Arch,
    pub memory: Memory,
    pub tasks: Vec<TaskRecord>,
    pub segments: Vec<SegmentInfo>,
    /// `ESP_EXTRA_INFO` word 0 (0xDEADBEEF = skipped).
    pub crashed_tcb: Option<u32>,
    /// `isr_context`, when the note has it.
    pub isr: Option<bool>,
    pub xtensa_exc: Option<XtensaExceptionRegs>,
    /// `ESP_EXTRA_INFO`/`EXTRA_INFO` was present at all.
    pub has_extra_info: bool,
    pub panic_details: Option<String>,
    /// App ELF SHA-256 hex prefix from `ESP_CORE_DUMP_INFO`.
    pub app_sha_prefix: Option<String>,
    /// Version word from `ESP_CORE_DUMP_INFO` (chip ID in bits 31..16).
    pub info_version: Option<u32>,
    /// `ESP_CHIP_REV` note of esp-coredump-saved ELFs.
    pub chip_rev_note: Option<u32>,
    pub warnings: Vec<Warning>,
}

impl Dump {
    pub fn new(arch: Arch) -> Dump {
        Dump {
            arch,
            memory: Memory::default(),
            tasks: Vec::new(),
            segments: Vec::new(),
            crashed_tcb: None,
            isr: None,
            xtensa_exc: None,
            has_extra_info: false,
            panic_details: None,
            app_sha_prefix: None,
            info_version: None,
            chip_rev_note: None,
            warnings: Vec::new(),
        }
    }
}

/// `COREDUMP_CURR_TASK_MARKER` (ESP-IDF `esp_core_dump_types.h`): as `crashed_task_tcb` of
/// `ESP_EXTRA_INFO`, the crashed task's TCB was unusable and the task was skipped.
pub(crate) const CURR_TASK_MARKER: u32 = 0xDEAD_BEEF;

/// `task_flags` bit of the `TASK_INFO` note: the task's TCB is corrupted
/// (`TASK_STATUS_TCB_CORRUPTED`, esp-coredump `corefile/elf.py`).
pub(crate) const TASK_STATUS_TCB_CORRUPTED: u32 = 0x01;
/// `task_flags` bit of the `TASK_INFO` note: the task's stack is corrupted
/// (`TASK_STATUS_STACK_CORRUPTED`, esp-coredump `corefile/elf.py`).
pub(crate) const TASK_STATUS_STACK_CORRUPTED: u32 = 0x02;

/// `p_flags` of every `PT_LOAD` the device writes, `PF_R | PF_W` (ESP-IDF `core_dump_elf.c`);
/// binary-dump records are listed with the same.
pub(crate) const DUMPED_SEGMENT_FLAGS: u32 = object::elf::PF_R.0 | object::elf::PF_W.0;

/// The levels N of the EPCn registers (Xtensa ISA: EPC1..EPC7, one per interrupt level).
pub(crate) const XT_EPC_LEVELS: RangeInclusive<u8> = 1..=7;
/// The levels N of the EPSn registers (Xtensa ISA: EPS2..EPS7; level 1 has no EPS).
pub(crate) const XT_EPS_LEVELS: RangeInclusive<u8> = 2..=7;

/// Upper bound on tasks taken from one dump.
pub(crate) const MAX_TASKS: usize = 512;
/// Upper bound on segments/records taken from one dump.
pub(crate) const MAX_SEGMENTS: usize = 8192;
