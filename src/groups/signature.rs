//! The crash signature, algorithm v1: which dumps are "the same crash".
//!
//! A signature is the SHA-256 of `v1|<model>|<reason>|<frame>|<frame>...`: the device model,
//! a reason class (`abort`, `assert`, an exception name, ...) and up to five function names of
//! the crashed task, in-app frames first. Addresses, line numbers, arguments, assert messages
//! and the firmware version are never hashed, so the same bug from other devices and other
//! firmware builds gets the same signature. `docs/grouping.md` states the rules in full.
//!
//! Two inputs, one rule set: a decoded [`Analysis`] ([`from_analysis`]) or the text report of
//! esp-coredump/gdb, as an external sidecar returns it ([`from_report_text`]). Both give the
//! same hash for the same dump, as long as the frames they see agree (see the module tests and
//! `tests/signature.rs`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::{Analysis, ElfMatch, Frame, FrameTrust, Task, TaskStatus};

/// The signature algorithm's version; it prefixes every hash, so a later algorithm makes new
/// signatures instead of colliding with these.
pub const ALGORITHM: &str = "v1";

/// Function names hashed at most.
const MAX_FRAMES: usize = 5;

/// Panic plumbing: dropped from the frames (ESP-IDF's abort and panic path, exception and
/// interrupt vectors, C++ throw/terminate).
const SKIP: &[&str] = &[
    "panic_abort",
    "esp_system_abort",
    "abort",
    "invoke_abort",
    "task_wdt_timeout_abort",
    "esp_panic_handler",
    "panic_handler",
    "_panic_handler",
    "xt_unhandled_exception",
    "_xt_panic",
    "_xt_user_exc",
    "_xt_lowint1",
    "_interrupt_handler",
    "esp_crosscore_isr",
    "raise",
    "_raise_r",
    "__cxa_throw",
    "__cxa_rethrow",
    "__cxa_pure_virtual",
    "_Unwind_RaiseException",
    "std::terminate",
    "__cxxabiv1::__terminate",
    "__gnu_cxx::__verbose_terminate_handler",
];

/// Frames that tell the reason and are walked past (never hashed).
const PREFIX: &[(&str, &str)] = &[
    ("__assert_func", "assert"),
    ("__assert", "assert"),
    ("_esp_error_check_failed", "esp_error_check"),
    ("vApplicationStackOverflowHook", "stack_overflow"),
    ("task_wdt_isr", "task_wdt"),
];

/// Frames that mark an abort-style panic (the deliberate fault of `panic_abort` is then not
/// the reason).
const ABORT_MARKERS: &[&str] = &["panic_abort", "esp_system_abort", "abort", "invoke_abort"];

/// Frames that start a task: the walk stops here (this frame and its callers are dropped).
const BASE: &[&str] = &[
    "vPortTaskWrapper",
    "main_task",
    "prvIdleTask",
    "ipc_task",
    "timer_task",
    "prvTimerTask",
];

/// libc and ROM helpers: never in-app, even with a source file (the caller is the bug).
const HELPERS: &[&str] = &[
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "memchr",
    "strlen",
    "strnlen",
    "strcpy",
    "strncpy",
    "strcat",
    "strncat",
    "strcmp",
    "strncmp",
    "strchr",
    "strrchr",
    "strstr",
    "strdup",
    "strndup",
    "strtol",
    "strtoul",
    "strtod",
    "atoi",
    "printf",
    "vprintf",
    "sprintf",
    "snprintf",
    "vsnprintf",
    "vsprintf",
    "fprintf",
    "vfprintf",
    "puts",
    "fputs",
    "qsort",
    "malloc",
    "free",
    "calloc",
    "realloc",
];

/// Name prefixes of libc internals and ROM functions.
const HELPER_PREFIXES: &[&str] = &[
    "ets_",
    "esp_rom_",
    "_xtos_",
    "_vfprintf",
    "_svfprintf",
    "_vfiprintf",
    "_svfiprintf",
];

/// Path fragments (compared in lower case) of ESP-IDF's components (`/idf/components/`
/// covers `/opt/esp/idf/` and the reproducible-build `/IDF/`), of components from the
/// component registry and of the toolchain's libraries: frames from these files are not in-app.
const NOT_APP_PATHS: &[&str] = &["/idf/components/", "/managed_components/", "/crosstool-ng/"];

/// Folder names (prefixes, lower case) of an ESP-IDF checkout: `<root>/components/` is
/// ESP-IDF's (`/builds/espressif/esp-idf/`, `/opt/esp-idf-5.2/`, PlatformIO's
/// `framework-espidf/`).
const IDF_ROOTS: &[&str] = &["esp-idf", "framework-espidf"];

/// A crash signature: the hash and the parts it was made of ("why grouped").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// `v1:<64 hex>`: SHA-256 of `v1|<model>|<reason>|<frame1>|<frame2>...`.
    pub hash: String,
    /// The reason class: `abort`, `assert`, `esp_error_check`, `task_wdt`, `int_wdt`,
    /// `stack_overflow`, `cache_err`, an exception name (`LoadProhibited`,
    /// `Load access fault`, ...) or `unknown`.
    pub reason: String,
    /// The function names hashed, crash site first.
    pub frames: Vec<String>,
    /// True when `frames` are in-app frames; false when none was found and the fallback
    /// (ESP-IDF or library frames) was hashed instead.
    pub in_app: bool,
    /// One line for lists: the reason and the first hashed frame with its `file:line`,
    /// e.g. `abort() in fail_once (test_core_dump.c:14)`. The line is shown, never hashed.
    pub title: String,
    /// The crashed task's frame that `title` names (the first in-app frame, else the first
    /// hashed frame): an index into `Task::frames` for [`from_analysis`] (an inlined
    /// function maps to its physical frame), gdb's `#N` for [`from_report_text`].
    pub top_frame: Option<usize>,
}

/// The signature of a decoded dump, or `None` when it cannot be grouped: no firmware ELF, a
/// wrong ELF or unreliable frames (`frames_reliable` false), or a crashed task with no named
/// frame.
pub fn from_analysis(model: &str, a: &Analysis) -> Option<Signature> {
    if !a.frames_reliable || matches!(a.elf_match, ElfMatch::NoElf | ElfMatch::Mismatch) {
        return None;
    }
    let task = crashed_task(a)?;
    let frames = expand(task);
    let exception = a.exception.as_ref().and_then(|e| e.cause_name.as_deref());
    sign(model, a.panic_reason.as_deref(), exception, &frames)
}

/// The signature of an esp-coredump/gdb text report (`info_corefile` output, as a parse
/// sidecar returns it), from its `CURRENT THREAD STACK` section, its `Panic reason:` line and
/// its Xtensa `exccause` line. `None` when the stack section is missing or has no named
/// frame.
pub fn from_report_text(model: &str, text: &str) -> Option<Signature> {
    let frames = text_frames(text)?;
    let panic = text
        .lines()
        .find_map(|l| l.strip_prefix("Panic reason: "))
        .map(str::trim);
    let exception = text.lines().find_map(|l| {
        let rest = l.strip_prefix("exccause")?;
        let (_, name) = rest.split_once('(')?;
        name.strip_suffix(')')
    });
    sign(model, panic, exception, &frames)
}

/// One frame in gdb order (inline callers expanded), from either input.
#[derive(Debug)]
struct StackFrame<'a> {
    /// Normalized function name; `None` = `??`.
    function: Option<&'a str>,
    /// Source file, only when the line is known too (gdb prints `at file:line` for both).
    file: Option<&'a str>,
    /// Source line.
    line: Option<u32>,
    /// A mask ROM PC.
    rom: bool,
    /// The index `Signature::top_frame` reports.
    index: usize,
}

impl StackFrame<'_> {
    /// Has a function, a source file and line, and is not in ROM.
    fn has_source(&self) -> bool {
        self.function.is_some() && self.file.is_some() && !self.rom
    }

    fn in_app(&self) -> bool {
        let (Some(name), Some(file)) = (&self.function, self.file) else {
            return false;
        };
        !self.rom && !is_helper(name) && !is_library_path(file)
    }
}

/// The crashed task: the one marked crashed, else the one with the crashed TCB, else the first.
fn crashed_task(a: &Analysis) -> Option<&Task> {
    a.tasks
        .iter()
        .find(|t| t.status == TaskStatus::Crashed)
        .or_else(|| {
            let tcb = a.crashed_task.as_ref()?.tcb;
            a.tasks.iter().find(|t| t.tcb == tcb)
        })
        .or_else(|| a.tasks.first())
}

/// A task's frames in gdb order: each physical frame, then the functions it is inlined into.
/// The walk ends at the first frame found by stack scanning: a scanned frame is a good guess,
/// not a fact, and a signature built from it would change with the decoder's heuristics (a
/// v1 signature hashes what the CFI and window walks found, as before scanning existed).
/// Tail-call frames (`FrameTrust::TailCall`) are kept, like inlined ones: gdb prints them as
/// ordinary frames, so [`from_report_text`] sees them too, and they come from the DWARF
/// call sites, not from a guess.
fn expand(task: &Task) -> Vec<StackFrame<'_>> {
    let mut out = Vec::new();
    let walked = task
        .frames
        .iter()
        .take_while(|f| f.found_by != Some(FrameTrust::Scan));
    for (index, f) in walked.enumerate() {
        out.push(physical(f, index));
        for i in &f.inlined {
            out.push(StackFrame {
                function: i.function.as_deref().map(normalize),
                file: i.file.as_deref().filter(|_| i.line.is_some()),
                line: i.line,
                rom: f.rom,
                index,
            });
        }
    }
    out
}

fn physical(f: &Frame, index: usize) -> StackFrame<'_> {
    StackFrame {
        function: f.function.as_deref().map(normalize),
        file: f.file.as_deref().filter(|_| f.line.is_some()),
        line: f.line,
        rom: f.rom,
        index,
    }
}

/// The frames of the `CURRENT THREAD STACK` section, or `None` without that section.
fn text_frames(text: &str) -> Option<Vec<StackFrame<'_>>> {
    let mut lines = text.lines();
    lines.find(|l| l.starts_with('=') && l.contains("CURRENT THREAD STACK"))?;
    let mut out = Vec::new();
    for line in lines {
        if line.starts_with("====") {
            break;
        }
        if let Some(f) = parse_frame_line(line) {
            out.push(f);
        }
    }
    Some(out)
}

/// One gdb `bt` line: `#3  0x400d66bc in fail_once (unused=97 'a') at /p/test.c:14`,
/// `#0  panic_abort (details=...) at /p/panic.c:472`, `#4  0x40007c78 in ets_write_char ()`,
/// `#3  0x400485e4 in ?? ()`.
fn parse_frame_line(line: &str) -> Option<StackFrame<'_>> {
    let rest = line.trim_start().strip_prefix('#')?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let index: usize = rest[..digits].parse().ok()?;
    let mut rest = rest[digits..].trim_start();
    if rest.starts_with("0x") {
        rest = rest.split_once(" in ")?.1;
    }
    let (name, after) = split_name(rest);
    let function =
        (!name.is_empty() && name != "??" && !name.starts_with('<')).then(|| normalize(name));
    let (file, line) = match after.trim_start().strip_prefix("at ") {
        Some(loc) => match loc.trim_end().rsplit_once(':') {
            Some((file, n)) => match n.parse::<u32>() {
                Ok(n) => (Some(file), Some(n)),
                Err(_) => (None, None),
            },
            None => (None, None),
        },
        None => (None, None),
    };
    Some(StackFrame {
        function,
        file,
        line,
        rom: false,
        index,
    })
}

/// Splits `name (args) rest` into the name and what follows the argument list (quote- and
/// paren-aware, so ` at ` inside a string argument is not taken for the location).
fn split_name(s: &str) -> (&str, &str) {
    let bytes = s.as_bytes();
    // The name ends at the first " (" outside template brackets.
    let mut angle = 0i32;
    let mut start = None;
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'<' => angle += 1,
            b'>' => angle -= 1,
            b'(' if angle <= 0 && i > 0 && bytes[i - 1] == b' ' => {
                start = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(start) = start else {
        return (s.trim(), "");
    };
    let name = s[..start].trim();
    let mut depth = 0i32;
    let mut in_str = false;
    let mut i = start;
    while i < bytes.len() {
        let c = bytes[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b'(' {
            depth += 1;
        } else if c == b')' {
            depth -= 1;
            if depth == 0 {
                return (name, &s[i + 1..]);
            }
        }
        i += 1;
    }
    (name, "")
}

/// Drops compiler clone suffixes: `foo.constprop.0`, `foo.isra.3`, `foo.part.1`,
/// `foo.cold`, `foo.lto_priv.0` (and chains of them) become `foo`.
fn normalize(name: &str) -> &str {
    const SUFFIXES: &[&str] = &["constprop", "isra", "part", "cold", "lto_priv"];
    let mut head = name.trim();
    loop {
        // `.<word>.<digits>`, or `.cold`, at the end.
        let (without_num, had_num) = match head.rsplit_once('.') {
            Some((h, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (h, true),
            _ => (head, false),
        };
        let Some((h, word)) = without_num.rsplit_once('.') else {
            return head;
        };
        if h.is_empty() || !SUFFIXES.contains(&word) || (word != "cold" && !had_num) {
            return head;
        }
        head = h;
    }
}

fn is_helper(name: &str) -> bool {
    HELPERS.contains(&name) || HELPER_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// A source file of ESP-IDF's components, of a managed (registry) component or of the
/// toolchain's libraries; see [`NOT_APP_PATHS`] and [`IDF_ROOTS`].
fn is_library_path(file: &str) -> bool {
    let path = file.replace('\\', "/").to_ascii_lowercase();
    if NOT_APP_PATHS.iter().any(|p| path.contains(p)) || path.starts_with("managed_components/") {
        return true;
    }
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .windows(2)
        .any(|w| w[1] == "components" && IDF_ROOTS.iter().any(|r| w[0].starts_with(r)))
}

/// The reason class of a dump; `frames` are all of the crashed task's frames.
fn reason(panic: Option<&str>, exception: Option<&str>, frames: &[StackFrame<'_>]) -> String {
    let names = || frames.iter().filter_map(|f| f.function);
    let by_frame = names().find_map(|n| PREFIX.iter().find(|(p, _)| *p == n).map(|(_, r)| *r));
    if let Some(r) = by_frame {
        return r.to_string();
    }
    if let Some(p) = panic.filter(|p| !p.trim().is_empty()) {
        // ESP_PANIC_DETAILS is only written for abort-style and task watchdog panics, so an
        // unrecognised text is an abort with a custom message (`esp_system_abort("...")`).
        return panic_class(p).unwrap_or("abort").to_string();
    }
    if names().any(|n| ABORT_MARKERS.contains(&n)) {
        return "abort".to_string();
    }
    exception
        .and_then(exception_class)
        .unwrap_or_else(|| "unknown".to_string())
}

/// The class of an ESP-IDF panic text, if it is one ESP-IDF writes.
fn panic_class(text: &str) -> Option<&'static str> {
    let t = text.trim_start();
    let starts = |p: &str| t.starts_with(p);
    Some(if starts("abort() was called") {
        "abort"
    } else if starts("assert failed") || (starts("assertion ") && t.contains(" failed")) {
        "assert"
    } else if starts("ESP_ERROR_CHECK failed") {
        "esp_error_check"
    } else if t.contains("Task watchdog got triggered") {
        "task_wdt"
    } else if starts("Interrupt wdt timeout") {
        "int_wdt"
    } else if t.contains("Stack canary watchpoint triggered")
        || t.contains("A stack overflow in task")
    {
        "stack_overflow"
    } else if t.contains("Cache disabled but cached memory region accessed") {
        "cache_err"
    } else {
        return None;
    })
}

/// The class of an exception cause name: ESP pseudo-causes map to their class, Xtensa names
/// lose their `Cause` suffix (`LoadProhibitedCause` → `LoadProhibited`, as ESP-IDF's panic
/// handler prints them), RISC-V names stay as they are.
fn exception_class(name: &str) -> Option<String> {
    let name = name.trim();
    Some(match name {
        "" | "InvalidCauseRegister" | "Invalid EXCCAUSE code" => return None,
        "InterruptWDTTimoutCPU0" | "InterruptWDTTimoutCPU1" => "int_wdt".to_string(),
        "CacheError" => "cache_err".to_string(),
        _ => name.strip_suffix("Cause").unwrap_or(name).to_string(),
    })
}

/// Applies the rules to one crashed task's frames.
fn sign(
    model: &str,
    panic: Option<&str>,
    exception: Option<&str>,
    frames: &[StackFrame<'_>],
) -> Option<Signature> {
    if !frames.iter().any(|f| f.function.is_some()) {
        return None;
    }
    let reason = reason(panic, exception, frames);

    // The walk: drop plumbing and prefix frames, stop at a task's base frame, and stop at the
    // first frame without source (ROM, `??`, no debug info) once a frame with source has been
    // seen, so that the result does not depend on whether the unwinder could get through ROM.
    let mut walked: Vec<&StackFrame<'_>> = Vec::new();
    let mut seen_source = false;
    for f in frames {
        let name = f.function;
        if name.is_some_and(|n| BASE.contains(&n)) {
            break;
        }
        if name.is_some_and(|n| SKIP.contains(&n) || PREFIX.iter().any(|(p, _)| *p == n)) {
            continue;
        }
        if f.has_source() {
            seen_source = true;
        } else if seen_source {
            break;
        }
        walked.push(f);
    }

    let in_app: Vec<&StackFrame<'_>> = walked.iter().copied().filter(|f| f.in_app()).collect();
    let chosen: Vec<&StackFrame<'_>> = if !in_app.is_empty() {
        in_app
    } else {
        let sourced: Vec<_> = walked.iter().copied().filter(|f| f.has_source()).collect();
        if sourced.is_empty() {
            walked
                .iter()
                .copied()
                .filter(|f| f.function.is_some())
                .collect()
        } else {
            sourced
        }
    };
    let chosen = &chosen[..chosen.len().min(MAX_FRAMES)];
    let top = chosen.first()?;
    let is_in_app = top.in_app();
    let names: Vec<String> = chosen
        .iter()
        .filter_map(|f| f.function.map(str::to_string))
        .collect();

    let mut text = format!("{ALGORITHM}|{model}|{reason}");
    for n in &names {
        text.push('|');
        text.push_str(n);
    }
    let hash = format!(
        "{ALGORITHM}:{}",
        hex::encode(Sha256::digest(text.as_bytes()))
    );
    let title = title(&reason, top);
    Some(Signature {
        hash,
        reason,
        frames: names,
        in_app: is_in_app,
        title,
        top_frame: Some(top.index),
    })
}

/// `abort() in fail_once (test_core_dump.c:14)`.
fn title(reason: &str, top: &StackFrame<'_>) -> String {
    let label = if reason == "abort" { "abort()" } else { reason };
    let func = top.function.unwrap_or("??");
    match (top.file, top.line) {
        (Some(file), Some(line)) => {
            let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
            format!("{label} in {func} ({base}:{line})")
        }
        _ => format!("{label} in {func}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::InlinedFrame;
    use serde_json::json;

    const APP: &str = "/home/dev/sensor-fw/main";
    const IDF: &str = "/builds/espressif/esp-idf/components";

    /// A frame with a function and, unless `file` is empty, a source location.
    fn frame(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            pc: 0x4200_0000 + line * 4,
            function: Some(function.to_string()),
            offset: Some(8),
            file: (!file.is_empty()).then(|| file.to_string()),
            line: (!file.is_empty()).then_some(line),
            inlined: Vec::new(),
            rom: false,
            rom_symbol_hint: None,
            show_address: true,
            found_by: None,
            args: Vec::new(),
            locals: Vec::new(),
        }
    }

    /// A ROM frame the decoder could not name (no ROM ELF).
    fn rom(pc: u32) -> Frame {
        Frame {
            pc,
            function: None,
            offset: None,
            file: None,
            line: None,
            inlined: Vec::new(),
            rom: true,
            rom_symbol_hint: Some("ets_printf+12".into()),
            show_address: true,
            found_by: None,
            args: Vec::new(),
            locals: Vec::new(),
        }
    }

    fn app(function: &str, file: &str, line: u32) -> Frame {
        frame(function, &format!("{APP}/{file}"), line)
    }

    fn idf(function: &str, file: &str, line: u32) -> Frame {
        frame(function, &format!("{IDF}/{file}"), line)
    }

    /// The abort path of ESP-IDF 5.x on top of `frames`, and the task base below them.
    fn aborted(frames: Vec<Frame>) -> Vec<Frame> {
        let mut out = vec![
            idf("panic_abort", "esp_system/panic.c", 472),
            idf("esp_system_abort", "esp_system/port/esp_system_chip.c", 93),
            idf("abort", "newlib/abort.c", 38),
        ];
        out.extend(frames);
        out.push(idf("main_task", "freertos/app_startup.c", 208));
        out.push(idf(
            "vPortTaskWrapper",
            "freertos/FreeRTOS-Kernel/portable/riscv/port.c",
            255,
        ));
        out
    }

    fn task(tcb: u32, status: TaskStatus, frames: Vec<Frame>) -> Task {
        let mut t: Task = serde_json::from_value(json!({
            "thread": 1, "tcb": tcb, "name": "main", "priority": 1, "base_priority": 1,
            "stack_used": 160, "stack_free": 3924, "stack_range": null, "status": "ok",
            "tcb_valid": true, "frames": [], "stop_reason": {"reason": "outermost"}
        }))
        .unwrap();
        t.status = status;
        t.frames = frames;
        t
    }

    /// A decoded dump with a matching ELF whose crashed task has `frames`.
    fn analysis(panic: Option<&str>, cause: Option<&str>, frames: Vec<Frame>) -> Analysis {
        let mut a: Analysis = serde_json::from_value(json!({
            "chip": "esp32c3", "arch": "riscv", "chip_rev": 3,
            "container": {"encoding": "base64", "format": "elf", "header": null},
            "checksum": {"status": "valid", "kind": "crc32", "value": "fc694695"},
            "app_elf_sha256_prefix": "7d946a8e8", "elf_sha256": "7d946a8e8cd5",
            "elf_match": "match", "frames_reliable": true,
            "crashed_task": {"tcb": 1070132272, "name": "main", "skipped": false},
            "isr_context": false, "panic_reason": null, "exception": null,
            "registers": [], "tasks": [], "memory_regions": [], "rom_elf_note": null,
            "summary": "", "warnings": []
        }))
        .unwrap();
        a.panic_reason = panic.map(str::to_string);
        a.exception = cause.map(|c| crate::decode::ExceptionInfo {
            cause: Some(5),
            cause_name: Some(c.to_string()),
            registers: Vec::new(),
        });
        a.tasks = vec![
            task(1070132272, TaskStatus::Crashed, frames),
            task(
                0x3fc8_f38c,
                TaskStatus::Ok,
                vec![
                    idf("esp_cpu_wait_for_intr", "esp_hw_support/cpu.c", 145),
                    idf("prvIdleTask", "freertos/FreeRTOS-Kernel/tasks.c", 4267),
                ],
            ),
        ];
        a
    }

    fn sig(a: &Analysis) -> Signature {
        from_analysis("sensor-v2", a).expect("a signature")
    }

    /// The corpus crash: `fail_once` aborts inside a ROM printf hook called by `app_main`.
    fn fail_once(pc_shift: u32, line: u32, panic_pc: &str) -> Analysis {
        let mut frames = aborted(vec![
            app("fail_once", "test_core_dump.c", line),
            rom(0x4004_85e4 + pc_shift),
            rom(0x4004_8722 + pc_shift),
            app("app_main", "test_core_dump.c", line + 6),
        ]);
        for f in &mut frames {
            f.pc += pc_shift;
        }
        analysis(
            Some(&format!("abort() was called at PC {panic_pc} on core 0")),
            Some("Store access fault"),
            frames,
        )
    }

    #[test]
    fn abort_in_app_frame() {
        let s = sig(&fail_once(0, 14, "0x42009351"));
        assert_eq!(s.reason, "abort");
        assert_eq!(s.frames, ["fail_once"]);
        assert!(s.in_app);
        assert_eq!(s.title, "abort() in fail_once (test_core_dump.c:14)");
        assert_eq!(s.top_frame, Some(3));
        let expected = hex::encode(Sha256::digest(b"v1|sensor-v2|abort|fail_once"));
        assert_eq!(s.hash, format!("v1:{expected}"));
    }

    #[test]
    fn same_bug_other_device_and_build_same_signature() {
        let a = sig(&fail_once(0, 14, "0x42009351"));
        let mut other = fail_once(0x100, 19, "0x42009451");
        other.elf_sha256 = Some("0123456789ab".into());
        other.app_elf_sha256_prefix = Some("012345678".into());
        other.crashed_task.as_mut().unwrap().tcb = 0x3fc8_0000;
        other.tasks[0].tcb = 0x3fc8_0000;
        let b = sig(&other);
        assert_eq!(a.hash, b.hash);
        assert_eq!(b.title, "abort() in fail_once (test_core_dump.c:19)");
    }

    #[test]
    fn different_sites_models_and_reasons_differ() {
        let base = sig(&fail_once(0, 14, "0x1"));
        let other_site = analysis(
            Some("abort() was called at PC 0x1 on core 0"),
            None,
            aborted(vec![app("fail_twice", "test_core_dump.c", 30)]),
        );
        assert_ne!(base.hash, sig(&other_site).hash);
        let other_model = from_analysis("sensor-v3", &fail_once(0, 14, "0x1")).unwrap();
        assert_eq!(other_model.frames, base.frames);
        assert_ne!(base.hash, other_model.hash);
        let fault = analysis(
            None,
            Some("Load access fault"),
            vec![app("fail_once", "test_core_dump.c", 14)],
        );
        let fault = sig(&fault);
        assert_eq!(fault.reason, "Load access fault");
        assert_ne!(base.hash, fault.hash);
    }

    #[test]
    fn asserts_with_other_messages_and_idf_versions_agree() {
        // ESP-IDF 5.x: __assert_func calls esp_system_abort with the message.
        let new_idf = |msg: &str, line: u32| {
            analysis(
                Some(msg),
                Some("Store access fault"),
                vec![
                    idf("panic_abort", "esp_system/panic.c", 472),
                    idf("esp_system_abort", "esp_system/port/esp_system_chip.c", 93),
                    idf("__assert_func", "newlib/assert.c", 81),
                    app("check_config", "config.c", line),
                    app("app_main", "main.c", 12),
                    idf("main_task", "freertos/app_startup.c", 208),
                ],
            )
        };
        let a = sig(&new_idf(
            "assert failed: check_config config.c:40 (n > 0)",
            40,
        ));
        let b = sig(&new_idf(
            "assert failed: check_config config.c:41 (len < 8)",
            41,
        ));
        assert_eq!(a.reason, "assert");
        assert_eq!(a.frames, ["check_config", "app_main"]);
        assert_eq!(a.title, "assert in check_config (config.c:40)");
        assert_eq!(a.hash, b.hash);
        // ESP-IDF 4.x: __assert_func calls abort(); the frame tells it was an assert.
        let old = analysis(
            Some("abort() was called at PC 0x400d1234 on core 0"),
            Some("StoreProhibitedCause"),
            aborted(vec![
                idf("__assert_func", "newlib/assert.c", 62),
                app("check_config", "config.c", 40),
                app("app_main", "main.c", 12),
            ]),
        );
        assert_eq!(sig(&old).hash, a.hash);
    }

    #[test]
    fn reason_classes() {
        let site = || vec![app("read_sensor", "sensor.c", 87)];
        let cases: Vec<(Analysis, &str)> = vec![
            (
                analysis(None, Some("LoadProhibitedCause"), site()),
                "LoadProhibited",
            ),
            (
                analysis(None, Some("Load access fault"), site()),
                "Load access fault",
            ),
            (
                analysis(None, Some("InterruptWDTTimoutCPU1"), site()),
                "int_wdt",
            ),
            (analysis(None, Some("CacheError"), site()), "cache_err"),
            (
                analysis(None, Some("InvalidCauseRegister"), site()),
                "unknown",
            ),
            (analysis(None, None, site()), "unknown"),
            (
                analysis(
                    Some("assertion \"n > 0\" failed: file \"main.c\", line 3, function: f"),
                    None,
                    site(),
                ),
                "assert",
            ),
            (
                analysis(Some("Interrupt wdt timeout on CPU0"), None, site()),
                "int_wdt",
            ),
            (
                analysis(
                    Some(
                        "Task watchdog got triggered. The following tasks/users did not reset the watchdog in time:\n - IDLE0 (CPU 0)",
                    ),
                    Some("IllegalInstructionCause"),
                    site(),
                ),
                "task_wdt",
            ),
            (
                analysis(
                    Some("Cache disabled but cached memory region accessed"),
                    None,
                    site(),
                ),
                "cache_err",
            ),
            (
                analysis(
                    Some("Stack canary watchpoint triggered (main)"),
                    None,
                    site(),
                ),
                "stack_overflow",
            ),
            // A custom esp_system_abort() message is an abort; so is a dump without panic
            // text whose frames show the abort path (binary format): the deliberate fault of
            // panic_abort is not the reason.
            (
                analysis(
                    Some("my fatal error"),
                    Some("Illegal instruction"),
                    aborted(site()),
                ),
                "abort",
            ),
            (
                analysis(None, Some("Store access fault"), aborted(site())),
                "abort",
            ),
            (
                analysis(
                    Some("abort() was called at PC 0x4200a9c1 on core 0"),
                    Some("Store access fault"),
                    aborted(vec![
                        idf("_esp_error_check_failed", "esp_system/esp_err.c", 50),
                        app("retry_connect", "wifi.c", 120),
                    ]),
                ),
                "esp_error_check",
            ),
            (
                analysis(
                    Some("***ERROR*** A stack overflow in task sensor has been detected."),
                    None,
                    aborted(vec![
                        idf("vApplicationStackOverflowHook", "freertos/port.c", 540),
                        idf("vTaskSwitchContext", "freertos/tasks.c", 3500),
                        idf("_frxt_dispatch", "freertos/portasm.S", 451),
                        app("parse_packet", "proto.c", 77),
                    ]),
                ),
                "stack_overflow",
            ),
            (
                analysis(
                    Some("abort() was called at PC 0x400f78f0 on core 0"),
                    None,
                    aborted(vec![
                        idf("task_wdt_isr", "esp_system/task_wdt.c", 176),
                        idf("_xt_lowint1", "xtensa/xtensa_vectors.S", 1111),
                        app("busy_loop", "main.c", 9),
                    ]),
                ),
                "task_wdt",
            ),
        ];
        for (a, want) in cases {
            assert_eq!(
                sig(&a).reason,
                want,
                "{:?} {:?}",
                a.panic_reason,
                a.exception
            );
        }
        let s = sig(&analysis(None, Some("LoadProhibitedCause"), site()));
        assert_eq!(s.title, "LoadProhibited in read_sensor (sensor.c:87)");
        let s = sig(&analysis(
            Some("***ERROR*** A stack overflow in task sensor has been detected."),
            None,
            aborted(vec![
                idf("vApplicationStackOverflowHook", "freertos/port.c", 540),
                idf("vTaskSwitchContext", "freertos/tasks.c", 3500),
                app("parse_packet", "proto.c", 77),
            ]),
        ));
        assert_eq!(
            (s.frames.as_slice(), s.in_app),
            (&["parse_packet".to_string()][..], true)
        );
    }

    #[test]
    fn not_groupable() {
        let mut a = fail_once(0, 14, "0x1");
        a.elf_match = ElfMatch::Mismatch;
        assert_eq!(from_analysis("m", &a), None);
        let mut a = fail_once(0, 14, "0x1");
        a.elf_match = ElfMatch::NoElf;
        assert_eq!(from_analysis("m", &a), None);
        let mut a = fail_once(0, 14, "0x1");
        a.frames_reliable = false;
        assert_eq!(from_analysis("m", &a), None);
        let a = analysis(
            Some("abort() was called"),
            None,
            vec![rom(0x4000_1000), rom(0x4000_2000)],
        );
        assert_eq!(from_analysis("m", &a), None);
        let mut a = fail_once(0, 14, "0x1");
        a.tasks.clear();
        assert_eq!(from_analysis("m", &a), None);
        // A dump that records no SHA (binary format) is grouped.
        let mut a = fail_once(0, 14, "0x1");
        a.elf_match = ElfMatch::NotRecorded;
        assert!(from_analysis("m", &a).is_some());
    }

    #[test]
    fn crashed_task_is_found() {
        let mut a = fail_once(0, 14, "0x1");
        let want = sig(&a).hash;
        // Crashed task listed second.
        a.tasks.swap(0, 1);
        assert_eq!(sig(&a).hash, want);
        // No task marked crashed: the crashed TCB decides, else the first task.
        a.tasks[1].status = TaskStatus::Ok;
        assert_eq!(sig(&a).hash, want);
        a.crashed_task = None;
        assert_eq!(sig(&a).frames, ["esp_cpu_wait_for_intr"]);
    }

    #[test]
    fn fallback_without_in_app_frames() {
        let a = analysis(
            Some("assert failed: tcp_input tcp_in.c:160 (pbuf)"),
            None,
            vec![
                idf("panic_abort", "esp_system/panic.c", 472),
                idf("esp_system_abort", "esp_system/port/esp_system_chip.c", 93),
                idf("__assert_func", "newlib/assert.c", 81),
                rom(0x4000_5000),
                idf("tcp_input", "lwip/lwip/src/core/tcp_in.c", 160),
                idf("ip4_input", "lwip/lwip/src/core/ipv4/ip4.c", 750),
                frame("memcpy", "", 0),
                idf("tcpip_thread", "lwip/lwip/src/api/tcpip.c", 180),
                idf("vPortTaskWrapper", "freertos/port.c", 134),
            ],
        );
        let s = sig(&a);
        assert!(!s.in_app);
        assert_eq!(s.reason, "assert");
        // Stops at the first frame without source after one with source.
        assert_eq!(s.frames, ["tcp_input", "ip4_input"]);
        assert_eq!(s.top_frame, Some(4));
        assert_eq!(s.title, "assert in tcp_input (tcp_in.c:160)");
        // Only unsourced named frames (a binary blob): those are hashed.
        let blob = analysis(
            None,
            Some("LoadProhibitedCause"),
            vec![
                frame("ppProcTxDone", "", 0),
                frame("ppTask", "", 0),
                rom(0x4000_1000),
            ],
        );
        let s = sig(&blob);
        assert_eq!((s.frames.len(), s.in_app), (2, false));
        assert_eq!(s.title, "LoadProhibited in ppProcTxDone");
    }

    #[test]
    fn in_app_walk() {
        let a = analysis(
            None,
            Some("LoadProhibitedCause"),
            vec![
                // A libc helper at the top is walked past, even with a source file.
                frame(
                    "strlen",
                    "/builds/idf/crosstool-NG/.build/newlib/libc/strlen.c",
                    40,
                ),
                app("format_name", "names.c", 10),
                frame(
                    "esp_event_post",
                    "/opt/esp/idf/components/esp_event/esp_event.c",
                    300,
                ),
                frame(
                    "mqtt_dispatch",
                    "/p/managed_components/espressif__mqtt/mqtt.c",
                    90,
                ),
                app("on_event", "events.c", 20),
                app("l3", "events.c", 30),
                app("l4", "events.c", 40),
                app("l5", "events.c", 50),
                app("l6", "events.c", 60),
                idf("timer_task", "esp_timer/src/esp_timer.c", 477),
            ],
        );
        let s = sig(&a);
        assert_eq!(s.frames, ["format_name", "on_event", "l3", "l4", "l5"]);
        assert_eq!(s.top_frame, Some(1));
        assert!(s.in_app);
    }

    #[test]
    fn inlined_frames_are_expanded_and_names_normalized() {
        let mut f = app("checksum", "proto.c", 10);
        f.inlined = vec![
            InlinedFrame {
                function: Some("parse_packet".into()),
                file: Some(format!("{APP}/proto.c")),
                line: Some(50),
                args: Vec::new(),
                locals: Vec::new(),
            },
            InlinedFrame {
                function: Some("vPortYield".into()),
                file: Some(format!("{IDF}/freertos/port.c")),
                line: Some(7),
                args: Vec::new(),
                locals: Vec::new(),
            },
        ];
        let a = analysis(
            None,
            Some("LoadProhibitedCause"),
            vec![f, app("rx_task.constprop.0", "proto.c", 90)],
        );
        let s = sig(&a);
        assert_eq!(s.frames, ["checksum", "parse_packet", "rx_task"]);
        assert_eq!(s.top_frame, Some(0));
        for (raw, want) in [
            ("foo.constprop.0", "foo"),
            ("foo.isra.3", "foo"),
            ("foo.part.1.constprop.2", "foo"),
            ("foo.cold", "foo"),
            ("foo.lto_priv.0", "foo"),
            ("foo.part", "foo.part"),
            ("foo.bar.1", "foo.bar.1"),
            (".cold", ".cold"),
            ("std::vector<int>::at", "std::vector<int>::at"),
        ] {
            assert_eq!(normalize(raw), want, "{raw}");
        }
    }

    #[test]
    fn library_paths() {
        for (path, library) in [
            ("/builds/espressif/esp-idf/components/newlib/abort.c", true),
            ("/opt/esp/idf/components/freertos/tasks.c", true),
            ("/opt/esp-idf-5.2/components/lwip/x.c", true),
            ("/IDF/components/esp_system/panic.c", true),
            (
                "C:\\Espressif\\frameworks\\esp-idf-v5.2\\components\\log\\log.c",
                true,
            ),
            (
                "/home/u/.platformio/packages/framework-espidf/components/x.c",
                true,
            ),
            (
                "/home/u/proj/managed_components/espressif__led_strip/led.c",
                true,
            ),
            ("managed_components/espressif__led_strip/led.c", true),
            (
                "/builds/idf/crosstool-NG/.build/src/newlib/libc/string/memcpy.c",
                true,
            ),
            ("/home/u/proj/main/main.c", false),
            ("/home/u/proj/components/sensor/sensor.c", false),
            ("/home/u/esp-idf-projects/proj/main/main.c", false),
            ("/IDF_PROJECT/main/main.c", false),
        ] {
            assert_eq!(is_library_path(path), library, "{path}");
        }
    }

    #[test]
    fn frame_lines() {
        let f =
            parse_frame_line("#3  0x400d66bc in fail_once (unused=97 'a') at /p/main/test.c:14")
                .unwrap();
        assert_eq!(
            (f.index, f.function, f.file, f.line),
            (3, Some("fail_once"), Some("/p/main/test.c"), Some(14))
        );
        let f = parse_frame_line(
            "#0  panic_abort (details=details@entry=0x3fc8ea9c \"abort() was called at PC 0x42009351 on core 0\") at /b/esp-idf/components/esp_system/panic.c:472",
        )
        .unwrap();
        assert_eq!((f.function, f.line), (Some("panic_abort"), Some(472)));
        let f = parse_frame_line("#5  0x4000814b in ets_printf ()").unwrap();
        assert_eq!((f.function, f.file), (Some("ets_printf"), None));
        let f = parse_frame_line("#1  0x40000000 in ?? ()").unwrap();
        assert_eq!(f.function, None);
        let f = parse_frame_line(
            "#2  vPortExitCritical (mux=0x3ffb0070 <xKernelLock>) at /b/esp-idf/components/freertos/port.c:504",
        )
        .unwrap();
        assert_eq!((f.index, f.function), (2, Some("vPortExitCritical")));
        let f = parse_frame_line(
            "#4  0x42001234 in (anonymous namespace)::Sensor::read (this=0x3fc9, s=\") at x\") at /p/main/s.cpp:9",
        )
        .unwrap();
        assert_eq!(
            (f.function, f.file, f.line),
            (
                Some("(anonymous namespace)::Sensor::read"),
                Some("/p/main/s.cpp"),
                Some(9)
            )
        );
        let f = parse_frame_line("#6  0x42001234 in foo.constprop.0 ()").unwrap();
        assert_eq!(f.function, Some("foo"));
        assert!(parse_frame_line("Backtrace stopped: previous frame identical").is_none());
        assert!(parse_frame_line("").is_none());
    }

    /// The built-in decoder's own text report gives the same signature as its analysis.
    #[test]
    fn tail_call_frames_are_hashed_as_gdb_prints_them() {
        // `dispatch` tail-called `handle`, which crashed: gdb shows `dispatch` between
        // `handle` and `rx`, and so does the analysis (found by the DWARF call sites).
        let mut tail = app("dispatch", "proto.c", 70);
        tail.found_by = Some(FrameTrust::TailCall);
        let mut rx = app("rx", "proto.c", 90);
        rx.found_by = Some(FrameTrust::Cfi);
        let handle = app("handle", "proto.c", 20);
        let a = analysis(
            Some("abort() was called at PC 0x42000051 on core 0"),
            None,
            aborted(vec![handle, tail, rx]),
        );
        let s = sig(&a);
        assert_eq!(s.frames, ["handle", "dispatch", "rx"]);
        let text = from_report_text("sensor-v2", &a.report_text()).expect("a text signature");
        assert_eq!(text.hash, s.hash, "the text of gdb's bt agrees");
        // A scanned frame still ends the walk, tail-call frames or not.
        let mut b = a.clone();
        if let Some(f) = b.tasks[0].frames.get_mut(4) {
            f.found_by = Some(FrameTrust::Scan);
        }
        assert_eq!(sig(&b).frames, ["handle"]);
    }

    #[test]
    fn report_text_matches_analysis() {
        let mut inlined = app("checksum", "proto.c", 10);
        inlined.inlined = vec![InlinedFrame {
            function: Some("parse_packet".into()),
            file: Some(format!("{APP}/proto.c")),
            line: Some(50),
            args: Vec::new(),
            locals: Vec::new(),
        }];
        let cases = vec![
            fail_once(0, 14, "0x42009351"),
            xtensa(analysis(
                None,
                Some("LoadProhibitedCause"),
                vec![inlined, app("rx", "proto.c", 90)],
            )),
            analysis(
                Some("assert failed: check_config config.c:40 (n > 0)"),
                None,
                vec![
                    idf("panic_abort", "esp_system/panic.c", 472),
                    idf("esp_system_abort", "esp_system/port/esp_system_chip.c", 93),
                    idf("__assert_func", "newlib/assert.c", 81),
                    app("check_config", "config.c", 40),
                ],
            ),
        ];
        for a in cases {
            let from_text = from_report_text("sensor-v2", &a.report_text());
            let want = sig(&a);
            let got = from_text.expect("a text signature");
            assert_eq!(
                (&got.hash, &got.reason, &got.frames, &got.title),
                (&want.hash, &want.reason, &want.frames, &want.title)
            );
        }
    }

    /// An Xtensa dump: its report prints `exccause` with the cause name.
    fn xtensa(mut a: Analysis) -> Analysis {
        a.arch = crate::decode::Arch::Xtensa;
        if let Some(e) = &mut a.exception {
            e.registers = vec![crate::decode::NamedValue {
                name: "exccause".into(),
                value: 28,
            }];
        }
        a
    }

    /// A RISC-V report has no mcause line: without a panic text its reason is `unknown`,
    /// where the analysis has the exception name.
    #[test]
    fn riscv_text_has_no_exception_name() {
        let a = analysis(
            None,
            Some("Load access fault"),
            vec![app("rx", "proto.c", 90)],
        );
        let text = from_report_text("m", &a.report_text()).unwrap();
        assert_eq!(
            (text.reason.as_str(), text.frames.as_slice()),
            ("unknown", &["rx".to_string()][..])
        );
        assert_eq!(from_analysis("m", &a).unwrap().reason, "Load access fault");
    }

    #[test]
    fn report_text_edge_cases() {
        assert_eq!(from_report_text("m", ""), None);
        assert_eq!(
            from_report_text("m", "Panic reason: abort() was called\n"),
            None
        );
        let unnamed = "==================== CURRENT THREAD STACK =====================\n\
                       #0  0x40000000 in ?? ()\n#1  0x40001000 in ?? ()\n\n\
                       ======================== THREADS INFO =========================\n\
                       #0  0x4200aaaa in other_task_fn () at /p/main/x.c:3\n";
        assert_eq!(from_report_text("m", unnamed), None);
        let xtensa = "exccause       0x1c (LoadProhibitedCause)\n\
                      ==================== CURRENT THREAD STACK =====================\n\
                      #0  0x400d1234 in read_sensor (s=0x0) at /p/main/sensor.c:87\n\
                      #1  0x400d2000 in app_main () at /p/main/main.c:20\n\
                      #2  0x400e40a3 in main_task (args=0x0) at /opt/esp/idf/components/freertos/app_startup.c:208\n";
        let s = from_report_text("m", xtensa).unwrap();
        assert_eq!(s.reason, "LoadProhibited");
        assert_eq!(s.frames, ["read_sensor", "app_main"]);
        assert_eq!(s.title, "LoadProhibited in read_sensor (sensor.c:87)");
        assert_eq!(s.top_frame, Some(0));
    }
}
