//! The decoder's result: [`Analysis`] and its parts. Plain serde data, stored by the server
//! as JSON and rendered as text by `report.rs`.

use serde::{Deserialize, Serialize};

use super::chip::{Arch, Chip};
use super::container::{BodyFormat, ChecksumStatus, Encoding, HeaderInfo};
use super::unwind::{FrameTrust, StopReason};
use super::warning::Warning;

/// Everything decoded from one core dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The chip, from the header, the `ESP_CORE_DUMP_INFO` note or `Options::chip`.
    pub chip: Option<Chip>,
    /// The dump's architecture, from the ELF core's `e_machine` (or the chip of a binary dump).
    pub arch: Arch,
    /// Chip revision (major×100 + minor), from V2_1/V2_2 headers or an `ESP_CHIP_REV` note.
    pub chip_rev: Option<u32>,
    /// How the dump arrived: encoding, body format and container header.
    pub container: ContainerInfo,
    /// The container checksum check.
    pub checksum: ChecksumStatus,
    /// The app ELF SHA-256 hex prefix recorded in the dump (`ESP_CORE_DUMP_INFO`).
    pub app_elf_sha256_prefix: Option<String>,
    /// SHA-256 of the firmware ELF given to the decoder.
    pub elf_sha256: Option<String>,
    /// Whether the firmware ELF is the one the dump was made with.
    pub elf_match: ElfMatch,
    /// False when the frames can't be trusted (wrong ELF, bad checksum, no ELF at all).
    pub frames_reliable: bool,
    /// The crashed task, from `ESP_EXTRA_INFO` (absent without that note).
    pub crashed_task: Option<CrashedTask>,
    /// `isr_context` of `ESP_EXTRA_INFO`, when present.
    pub isr_context: Option<bool>,
    /// `ESP_PANIC_DETAILS` text.
    pub panic_reason: Option<String>,
    /// Exception cause and registers (Xtensa `ESP_EXTRA_INFO`, RISC-V `RvExcFrame`).
    pub exception: Option<ExceptionInfo>,
    /// The crashed task's registers in gdb `info registers` order.
    pub registers: Vec<Register>,
    /// Every task, in dump order (gdb thread N = `tasks[N-1]`).
    pub tasks: Vec<Task>,
    /// "ALL MEMORY REGIONS": firmware sections, then dumped segments.
    pub memory_regions: Vec<MemoryRegion>,
    /// Set when ROM ELF lookup produced a message (esp-coredump prints these too).
    pub rom_elf_note: Option<String>,
    /// One line for lists and notifications: panic reason or exception cause, task, and the
    /// first frame with a function name.
    pub summary: String,
    /// Non-fatal problems, loudest first (each stored and shown as its text).
    pub warnings: Vec<Warning>,
}

/// Container facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Raw bytes or base64 text.
    pub encoding: Encoding,
    /// ELF core or legacy binary body.
    pub format: BodyFormat,
    /// `None` for a bare ELF core (header stripped by the uploader).
    pub header: Option<HeaderInfo>,
}

/// Whether the dump was made by the given firmware ELF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElfMatch {
    /// The recorded SHA-256 prefix equals the ELF's.
    Match,
    /// They differ: symbols and frames are probably wrong.
    Mismatch,
    /// The dump records no SHA (binary format, converter output): can't be checked.
    NotRecorded,
    /// No firmware ELF was given.
    NoElf,
}

/// The crashed task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashedTask {
    /// TCB address (`crashed_task_tcb`; 0xDEADBEEF when skipped).
    pub tcb: u32,
    /// The task's name, when the task table has it.
    pub name: Option<String>,
    /// `ESP_EXTRA_INFO` held 0xDEADBEEF: the crashed task's TCB was unusable.
    pub skipped: bool,
}

/// Exception cause and exception registers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    /// Xtensa EXCCAUSE or RISC-V mcause.
    pub cause: Option<u32>,
    /// The cause's name (esp-coredump's `XTENSA_EXCEPTION_CAUSE_DICT`, or the RISC-V
    /// privileged spec's mcause table).
    pub cause_name: Option<String>,
    /// exccause, excvaddr, epcN, epsN (Xtensa) or mstatus, mtvec, mcause, mtval (RISC-V).
    pub registers: Vec<NamedValue>,
}

/// A named 32-bit value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedValue {
    /// Register name (`exccause`, `epc1`, `mcause`, ...).
    pub name: String,
    /// Register value.
    pub value: u32,
}

/// One register of `info registers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// Register name as gdb prints it.
    pub name: String,
    /// `None` = `<unavailable>`.
    pub value: Option<u32>,
    /// How gdb shows the value: `Code` and `Data` pointers get `<sym+off>`.
    pub kind: RegisterKind,
    /// `sym+off` for pointers into a symbol.
    pub symbol: Option<String>,
}

/// gdb's type of a register, which decides its "natural" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterKind {
    /// A code pointer: shown as `0x... <func+off>`.
    Code,
    /// A data pointer: shown as hex, with `<sym+off>` inside a data symbol.
    Data,
    /// An integer: shown as signed decimal.
    Int,
}

/// Task state as far as the dump tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// The task that crashed (or was running at the crash).
    Crashed,
    /// Any other task with a sane TCB.
    Ok,
    /// The TCB could not be read or failed checks.
    CorruptedTcb,
    /// The stack was replaced by the device's fake stack or could not be read.
    CorruptedStack,
}

/// One FreeRTOS task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// gdb thread number (1 = first note = crashed task).
    pub thread: usize,
    /// TCB address (gdb shows it as `process <decimal>`).
    pub tcb: u32,
    /// `pcTaskName`.
    pub name: Option<String>,
    /// `uxPriority`.
    pub priority: Option<u32>,
    /// `uxBasePriority`.
    pub base_priority: Option<u32>,
    /// `|pxEndOfStack - pxTopOfStack|` (uses the saved, possibly stale top of stack).
    pub stack_used: Option<u32>,
    /// `|pxStack - pxTopOfStack|`.
    pub stack_free: Option<u32>,
    /// Dumped stack range `[start, end)`.
    pub stack_range: Option<(u32, u32)>,
    /// What the dump tells about the task's state.
    pub status: TaskStatus,
    /// The TCB was readable and `pxStack` non-zero (else the table says "Corrupted TCB data").
    pub tcb_valid: bool,
    /// The backtrace, frame 0 first.
    pub frames: Vec<Frame>,
    /// Why the backtrace ended.
    pub stop_reason: StopReason,
    /// ISR crash only (`isr_context` = 1): the crashed task's own chain, unwound from the
    /// frame at its TCB `pxTopOfStack`, inside the extra segment that holds its real stack
    /// (not printed by esp-coredump).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<InterruptedChain>,
}

/// The interrupted task's backtrace of an ISR-context crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterruptedChain {
    /// The backtrace, frame 0 first.
    pub frames: Vec<Frame>,
    /// Why the backtrace ended.
    pub stop_reason: StopReason,
}

/// One physical frame with its inline chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// PC for frame 0, return address for callers (as gdb prints them).
    pub pc: u32,
    /// Innermost function (DWARF, else `.symtab`, else ROM ELF); `None` = `??`.
    pub function: Option<String>,
    /// `pc - symbol start` from `.symtab`, when a symbol covers the PC.
    pub offset: Option<u32>,
    /// Source file of the innermost function, from DWARF.
    pub file: Option<String>,
    /// Line in `file`.
    pub line: Option<u32>,
    /// Functions this one is inlined into, innermost first: each with its call site.
    pub inlined: Vec<InlinedFrame>,
    /// The PC is in the chip's mask ROM.
    pub rom: bool,
    /// Nearest absolute ROM symbol from the app ELF's linker-script symbols (a hint: gdb
    /// does not use these and they can name the wrong function).
    pub rom_symbol_hint: Option<String>,
    /// gdb prints `0x... in` for this frame (false for frame 0 on an `is_stmt` row).
    pub show_address: bool,
    /// How the frame was found: `context`, `cfi`, `windowed`, `scan` or `tailcall` (absent in
    /// analyses stored before crashbox recorded it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_by: Option<FrameTrust>,
    /// The innermost function's arguments, in declaration order (absent without DWARF for
    /// the frame, and in analyses stored before crashbox evaluated them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Variable>,
    /// The innermost function's local variables in scope at the PC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locals: Vec<Variable>,
}

/// A caller that a frame's function was inlined into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlinedFrame {
    /// The containing function (`None` = `??`).
    pub function: Option<String>,
    /// Source file of the call site.
    pub file: Option<String>,
    /// Line of the call site.
    pub line: Option<u32>,
    /// The containing function's arguments (see [`Frame::args`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Variable>,
    /// The containing function's locals in scope (see [`Frame::locals`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locals: Vec<Variable>,
}

/// An argument or local variable of a frame, evaluated from its DWARF location against the
/// frame's registers and the dump's memory, and printed as gdb prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// The variable's name.
    pub name: String,
    /// Its C type as gdb names it (`const char *`, `struct foo`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// gdb's text for the value (`0x3fc8ea9c "abort()"`, `97 'a'`, `<optimized out>`,
    /// `{a = 1, b = {...}}`), structs and arrays printed one level deep.
    pub value: String,
    /// The value at function entry, from the caller's call site (gdb's `name@entry=`), when
    /// it is known and differs from `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_value: Option<String>,
    /// What gdb's frame line shows for an argument (`details=details@entry=0x3fc8ea9c "..."`,
    /// `s=...` for a struct); empty for locals.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub frame_text: String,
    /// Members of a struct or union, or elements of an array, one level deep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
}

/// One member of a struct/union or element of an array ([`Variable::members`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's name, or `[i]` for an array element.
    pub name: String,
    /// gdb's text for it; nested structs and arrays are `{...}`.
    pub value: String,
}

/// One row of "ALL MEMORY REGIONS".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryRegion {
    /// Section name, or `.coredump.tasks.data` / `.coredump.rom.text` for dumped segments.
    pub name: String,
    /// Start address.
    pub address: u32,
    /// Size in bytes.
    pub size: u32,
    /// esp-coredump attribute string (`R XA`, `RW `, `MS`).
    pub attrs: String,
}
