//! Text rendering of an [`Analysis`] in the layout of esp-coredump's `info_corefile`
//! (esp-coredump v1.16 `coredump.py` plus gdb's `info registers`, `bt` and `info threads`,
//! frame arguments included as gdb prints them: see `values/`).
//! Warnings from the decoder come first, as
//! `WARNING:` lines before the banner, where esp-coredump prints its own messages.

use std::fmt::Write as _;

use super::analysis::{Analysis, Frame, RegisterKind, Task, Variable};
use super::chip::Arch;
use super::unwind::FrameTrust;

impl Analysis {
    /// The report as text, laid out like `esp-coredump info_corefile`.
    pub fn report_text(&self) -> String {
        let mut o = String::with_capacity(8192);
        for w in &self.warnings {
            let _ = writeln!(o, "WARNING: {w}");
        }
        o.push_str("===============================================================\n");
        o.push_str("==================== ESP32 CORE DUMP START ====================\n");
        if let Some(n) = &self.rom_elf_note {
            let _ = writeln!(o, "{n}");
        }
        if let Some(c) = &self.crashed_task {
            o.push('\n');
            if c.skipped {
                o.push_str("Crashed task has been skipped.\n");
            } else {
                let _ = writeln!(
                    o,
                    "Crashed task handle: 0x{:x}, name: '{}', GDB name: 'process {}'",
                    c.tcb,
                    c.name.as_deref().unwrap_or(""),
                    c.tcb
                );
            }
        }
        match self.isr_context {
            Some(true) => o.push_str("Crash happened in the interrupt context\n"),
            Some(false) => o.push_str("Crashed task is not in the interrupt context\n"),
            None => {}
        }
        if let Some(p) = &self.panic_reason {
            let _ = writeln!(o, "Panic reason: {p}");
        }
        o.push('\n');
        o.push_str("================== CURRENT THREAD REGISTERS ===================\n");
        self.write_registers(&mut o);
        o.push('\n');
        o.push_str("==================== CURRENT THREAD STACK =====================\n");
        if let Some(t) = self.tasks.first() {
            write_backtrace(&mut o, t);
        }
        o.push('\n');
        o.push_str("======================== THREADS INFO =========================\n");
        self.write_info_threads(&mut o);
        o.push('\n');
        o.push('\n');
        o.push_str("       TCB             NAME PRIO C/B  STACK USED/FREE\n");
        o.push_str("---------- ---------------- -------- ----------------\n");
        for t in &self.tasks {
            write_task_row(&mut o, t);
        }
        for t in &self.tasks {
            o.push('\n');
            let _ = writeln!(
                o,
                "==================== THREAD {} (TCB: 0x{:x}, name: '{}') =====================",
                t.thread,
                t.tcb,
                t.name.as_deref().unwrap_or("")
            );
            write_backtrace(&mut o, t);
        }
        o.push('\n');
        o.push('\n');
        o.push_str("======================= ALL MEMORY REGIONS ========================\n");
        o.push_str("Name   Address   Size   Attrs\n");
        for r in &self.memory_regions {
            let _ = writeln!(o, "{} 0x{:x} 0x{:x} {}", r.name, r.address, r.size, r.attrs);
        }
        o.push('\n');
        o.push_str("===================== ESP32 CORE DUMP END =====================\n");
        o.push_str("===============================================================\n");
        o.push_str("Done!\n");
        o
    }

    fn write_registers(&self, o: &mut String) {
        if self.arch == Arch::Xtensa {
            match &self.exception {
                Some(e) => {
                    for r in &e.registers {
                        if r.name == "exccause" {
                            // esp-coredump: XTENSA_EXCEPTION_CAUSE_DICT miss -> "Invalid EXCCAUSE code"
                            let name = e.cause_name.as_deref().unwrap_or("Invalid EXCCAUSE code");
                            let _ = writeln!(o, "{:<15}0x{:x} ({name})", r.name, r.value);
                        } else {
                            let _ = writeln!(o, "{:<15}0x{:x}", r.name, r.value);
                        }
                    }
                }
                None => o.push_str("Exception registers have not been found!\n"),
            }
        }
        for r in &self.registers {
            let Some(v) = r.value else {
                let _ = writeln!(o, "{:<15}<unavailable>", r.name);
                continue;
            };
            let hex = format!("0x{v:x}");
            let natural = match r.kind {
                RegisterKind::Code | RegisterKind::Data => match &r.symbol {
                    Some(s) => format!("{hex} <{s}>"),
                    None => hex.clone(),
                },
                RegisterKind::Int => (v as i32).to_string(),
            };
            match self.arch {
                // gdb pads the raw column so the natural value starts at column 35.
                Arch::Xtensa => {
                    let _ = writeln!(o, "{:<15}{:<19} {natural}", r.name, hex);
                }
                Arch::Riscv => {
                    let _ = writeln!(o, "{:<15}{hex}\t{natural}", r.name);
                }
            }
        }
    }

    fn write_info_threads(&self, o: &mut String) {
        let targets: Vec<String> = self
            .tasks
            .iter()
            .map(|t| format!("process {}", t.tcb))
            .collect();
        let w = targets.iter().map(String::len).max().unwrap_or(0).max(9);
        let _ = writeln!(o, "  Id   {:<w$} Frame ", "Target Id");
        for (t, target) in self.tasks.iter().zip(&targets) {
            let mark = if t.thread == 1 { "* " } else { "  " };
            let frame = t
                .frames
                .first()
                .map(|f| frame_lines(f, 0).into_iter().next().unwrap_or_default())
                .unwrap_or_default();
            let _ = writeln!(o, "{mark}{:<4} {:<w$} {frame}", t.thread, target);
        }
    }
}

/// One row of the task table (esp-coredump's `'{:>10}{:>17}{:>9}{:>17}'`).
fn write_task_row(o: &mut String, t: &Task) {
    let tcb = format!("0x{:x}", t.tcb);
    let (Some(prio), Some(used), Some(free)) = (t.priority, t.stack_used, t.stack_free) else {
        let _ = writeln!(o, "{tcb:>10} Corrupted TCB data");
        return;
    };
    if !t.tcb_valid {
        let _ = writeln!(o, "{tcb:>10} Corrupted TCB data");
        return;
    }
    let base = t.base_priority.map(|b| b.to_string()).unwrap_or_default();
    let _ = writeln!(
        o,
        "{tcb:>10}{:>17}{:>9}{:>17}",
        t.name.as_deref().unwrap_or(""),
        format!("{prio}/{base}"),
        format!("{used}/{free}")
    );
}

/// gdb `bt` for one task, with its `Backtrace stopped:` line when gdb would print one.
fn write_backtrace(o: &mut String, t: &Task) {
    let mut level = 0usize;
    for (i, f) in t.frames.iter().enumerate() {
        for line in frame_lines(f, i) {
            let _ = writeln!(o, "#{level:<2} {line}");
            level += 1;
        }
    }
    if let Some(m) = t.stop_reason.gdb_message() {
        let _ = writeln!(o, "Backtrace stopped: {m}");
    }
    // Frames gdb would not have found are named on a line of their own after the backtrace,
    // so every `#N` line keeps gdb's exact layout for tools that parse it.
    let mut scanned = Vec::new();
    let mut level = 0usize;
    for f in &t.frames {
        if f.found_by == Some(FrameTrust::Scan) {
            scanned.push(format!("#{level}"));
        }
        level += 1 + f.inlined.len();
    }
    if !scanned.is_empty() {
        let _ = writeln!(
            o,
            "(crashbox: frame {} found by stack scanning past code without unwind information)",
            scanned.join(", ")
        );
    }
}

/// What esp-coredump does to gdb's console output before printing it (`GdbController.run_cmd`
/// in esp-coredump's `corefile/gdb.py`: `.replace('\\n', '\n').replace('\\t', '\t')` and
/// `.replace('\\"', '"')`): gdb's `\n`, `\t` and `\"` escapes inside string arguments become
/// a newline, a tab and a bare quote. The report follows it to stay identical to esp-coredump;
/// the JSON's `frame_text` keeps gdb's own escapes.
fn as_esp_coredump_prints(line: String) -> String {
    if !line.contains('\\') {
        return line;
    }
    line.replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\\"", "\"")
}

/// gdb's argument list: `(a=1, s=0x3fc8ea9c "text")`.
fn arg_list(args: &[Variable]) -> String {
    let parts: Vec<&str> = args.iter().map(|a| a.frame_text.as_str()).collect();
    format!("({})", parts.join(", "))
}

/// The text after `#N  ` for a physical frame and its inline callers: `0x%08x in ` unless
/// gdb hides it (frame 0 on an `is_stmt` row, outer frames of an inline chain), the function
/// or `??`, the argument list, and ` at file:line` when known.
fn frame_lines(f: &Frame, physical_level: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(1 + f.inlined.len());
    let show = physical_level != 0 || f.show_address;
    let mut s = String::new();
    if show {
        let _ = write!(s, "0x{:08x} in ", f.pc);
    }
    let _ = write!(
        s,
        "{} {}",
        f.function.as_deref().unwrap_or("??"),
        arg_list(&f.args)
    );
    if let (Some(file), Some(line)) = (&f.file, f.line) {
        let _ = write!(s, " at {file}:{line}");
    }
    out.push(as_esp_coredump_prints(s));
    for i in &f.inlined {
        let mut s = format!(
            "{} {}",
            i.function.as_deref().unwrap_or("??"),
            arg_list(&i.args)
        );
        if let (Some(file), Some(line)) = (&i.file, i.line) {
            let _ = write!(s, " at {file}:{line}");
        }
        out.push(as_esp_coredump_prints(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::as_esp_coredump_prints;

    #[test]
    fn string_escapes_are_printed_as_esp_coredump_prints_them() {
        // gdb's text for `"q\"b\\s\n\t\001"`, and what esp-coredump prints for it.
        let gdb = r#"f (s=0x1 "q\"b\\s\n\t\001") at a.c:1"#.to_string();
        assert_eq!(
            as_esp_coredump_prints(gdb),
            "f (s=0x1 \"q\"b\\\\s\n\t\\001\") at a.c:1"
        );
        let plain = "f (n=1) at a.c:1".to_string();
        assert_eq!(as_esp_coredump_prints(plain.clone()), plain);
    }
}
