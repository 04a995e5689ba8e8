//! The task table: one [`Task`] per task record of the dump, with its TCB fields, its status,
//! its unwound and symbolized backtrace and, for an ISR crash, the interrupted task's chain.

use std::time::Instant;

use super::analysis::{Frame, InterruptedChain, Task, TaskStatus};
use super::chip::Arch;
use super::dump::{Dump, Regs, TASK_STATUS_STACK_CORRUPTED, TASK_STATUS_TCB_CORRUPTED, TaskRecord};
use super::exc_frame::{frame_len, frame_regs};
use super::frames::Ctx;
use super::memory::Memory;
use super::tcb::{TcbFields, TcbLayout, read_fields};
use super::unwind::{self, StopReason, UnwindInput};
use super::values::Budget;

/// Start of the window where the device puts the fake stack of a task whose stack failed its
/// checks (`COREDUMP_FAKE_STACK_START`, ESP-IDF `port/xtensa/core_dump_port.c`; esp-coredump
/// `BaseTargetMethods.COREDUMP_FAKE_STACK_START`, `corefile/__init__.py`).
const FAKE_STACK_START: u32 = 0x2000_0000;
/// End (exclusive) of the fake stack window (`COREDUMP_FAKE_STACK_LIMIT`, same sources).
const FAKE_STACK_LIMIT: u32 = 0x3000_0000;
/// Stacks above this are fake too (esp-coredump `addr_is_fake`: `addr > 2 ** 31 - 1`).
const FAKE_STACK_ABOVE: u32 = 0x7FFF_FFFF;

/// The fixed inputs of every stack walk of one decode.
pub(crate) struct Walker<'a> {
    pub arch: Arch,
    pub memory: &'a Memory,
    /// Firmware ELF, ROM ELF and chip: the unwinders' CFI and code bytes, and the names.
    pub symbols: Ctx<'a>,
    /// Physical frames per walk (at least 1).
    pub max_frames: usize,
    pub deadline: Option<Instant>,
    /// RISC-V: recover callers past ROM code by stack scanning.
    pub stack_scan: bool,
    /// The bounds of argument and local evaluation, shared by every walk of the decode.
    pub values: &'a Budget,
}

impl Walker<'_> {
    /// Unwinds one register set with the dump's architecture, adds gdb's tail-call frames
    /// (`values::with_tail_calls`) and names the frames.
    pub fn walk(&self, regs: &Regs) -> (Vec<Frame>, StopReason) {
        let input = UnwindInput {
            regs,
            memory: self.memory,
            app: self.symbols.app,
            rom: self.symbols.rom,
            max_frames: self.max_frames,
            deadline: self.deadline,
            stack_scan: self.stack_scan,
        };
        let (mut raw, stop) = unwind::unwind(self.arch, &input);
        if let Some(app) = self.symbols.app {
            raw = super::values::with_tail_calls(app, self.values, raw);
        }
        let mut frames = self.symbols.symbolize_all(&raw);
        if let Some(app) = self.symbols.app {
            super::values::describe(app, self.memory, self.values, &raw, &mut frames);
        }
        (frames, stop)
    }
}

/// The decoded tasks, and what the step has to report.
pub(crate) struct DecodedTasks {
    pub tasks: Vec<Task>,
    /// The deadline passed during some walk: later tasks were not unwound.
    pub deadline_hit: bool,
    /// More tasks than `max_tasks`: how many the dump holds.
    pub capped_from: Option<usize>,
}

/// Decodes the first `max_tasks` (at least 1) tasks of the dump. Once one walk runs into the
/// deadline, the tasks after it get no frames and [`StopReason::Deadline`].
pub(crate) fn decode_tasks(dump: &Dump, walker: &Walker<'_>, max_tasks: usize) -> DecodedTasks {
    let max_tasks = max_tasks.max(1);
    let mut tasks = Vec::new();
    let mut deadline_hit = false;
    for (i, rec) in dump.tasks.iter().take(max_tasks).enumerate() {
        let task = decode_task(i, rec, dump, walker, deadline_hit);
        deadline_hit |= task.stop_reason == StopReason::Deadline;
        tasks.push(task);
    }
    DecodedTasks {
        tasks,
        deadline_hit,
        capped_from: (dump.tasks.len() > max_tasks).then_some(dump.tasks.len()),
    }
}

/// One task: TCB fields, status, backtrace, and the interrupted chain of an ISR crash.
fn decode_task(
    index: usize,
    rec: &TaskRecord,
    dump: &Dump,
    walker: &Walker<'_>,
    skip_walk: bool,
) -> Task {
    let tcb_size = dump.memory.region_at(rec.tcb_addr).map(|r| r.declared_len);
    let layout = walker
        .symbols
        .app
        .and_then(|s| s.tcb_layout().cloned())
        .unwrap_or_else(|| TcbLayout::fallback(tcb_size));
    let fields = read_fields(&dump.memory, rec.tcb_addr, &layout);
    let crashed = match dump.crashed_tcb {
        Some(tcb) => tcb == rec.tcb_addr,
        None => index == 0,
    };
    let tcb_valid = tcb_is_valid(rec, &fields);
    let status = task_status(rec, crashed, tcb_valid);
    let (frames, stop_reason) = match &rec.regs {
        None => (Vec::new(), StopReason::NoRegisters),
        Some(_) if skip_walk => (Vec::new(), StopReason::Deadline),
        Some(regs) => walker.walk(regs),
    };
    let interrupted = if status == TaskStatus::Crashed && dump.isr == Some(true) {
        interrupted_chain(walker, fields.top_of_stack)
    } else {
        None
    };
    let abs_diff = |a: Option<u32>, b: Option<u32>| Some(a?.abs_diff(b?));
    Task {
        thread: index + 1,
        tcb: rec.tcb_addr,
        stack_used: abs_diff(fields.end_of_stack, fields.top_of_stack),
        stack_free: abs_diff(fields.stack, fields.top_of_stack),
        stack_range: stack_range(rec, &fields, &dump.memory),
        name: fields.name,
        priority: fields.priority,
        base_priority: fields.base_priority,
        status,
        tcb_valid,
        frames,
        stop_reason,
        interrupted,
    }
}

/// The TCB was readable, `pxStack` is non-zero and the task was not flagged as having a
/// corrupted TCB.
fn tcb_is_valid(rec: &TaskRecord, fields: &TcbFields) -> bool {
    !(fields.stack.is_none_or(|s| s == 0) || has_flag(rec, TASK_STATUS_TCB_CORRUPTED))
}

/// Whether the task's `TASK_INFO` flags (converted dumps only) have `flag` set.
fn has_flag(rec: &TaskRecord, flag: u32) -> bool {
    rec.flags.is_some_and(|fl| fl & flag != 0)
}

/// A stack the device replaced by a fake one, as esp-coredump's `addr_is_fake` tells it.
fn is_fake_stack(stack: Option<(u32, u32)>) -> bool {
    stack.is_some_and(|(lo, _)| {
        (FAKE_STACK_START..FAKE_STACK_LIMIT).contains(&lo) || lo > FAKE_STACK_ABOVE
    })
}

/// Crashed first; then a bad TCB; then a fake or flagged stack.
fn task_status(rec: &TaskRecord, crashed: bool, tcb_valid: bool) -> TaskStatus {
    if crashed {
        TaskStatus::Crashed
    } else if !tcb_valid {
        TaskStatus::CorruptedTcb
    } else if is_fake_stack(rec.stack) || has_flag(rec, TASK_STATUS_STACK_CORRUPTED) {
        TaskStatus::CorruptedStack
    } else {
        TaskStatus::Ok
    }
}

/// ISR crash: the crashed task's own chain, unwound from the exception frame its TCB
/// `pxTopOfStack` points at (inside the extra segment that holds its real stack).
fn interrupted_chain(walker: &Walker<'_>, top_of_stack: Option<u32>) -> Option<InterruptedChain> {
    let top = top_of_stack?;
    let bytes = walker.memory.read(top, frame_len(walker.arch))?;
    let (regs, _) = frame_regs(walker.arch, bytes, top)?;
    let (frames, stop_reason) = walker.walk(&regs);
    Some(InterruptedChain {
        frames,
        stop_reason,
    })
}

/// Dumped stack range of a task; never-run tasks have sp = 0, so fall back to the segment
/// holding the saved frame at `pxTopOfStack`.
fn stack_range(rec: &TaskRecord, fields: &TcbFields, memory: &Memory) -> Option<(u32, u32)> {
    rec.stack.or_else(|| {
        let r = memory.region_of(fields.top_of_stack?)?;
        Some((r.addr, r.addr.saturating_add(r.declared_len)))
    })
}
