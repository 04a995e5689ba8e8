//! The one-line crash summary for lists and notifications.

use super::analysis::{CrashedTask, ExceptionInfo, Task};

/// "abort() was called at PC 0x... on core 0 (task 'main', in fail_once at test.c:14)".
pub(crate) fn summary(
    panic: Option<&str>,
    exc: Option<&ExceptionInfo>,
    crashed: Option<&CrashedTask>,
    tasks: &[Task],
) -> String {
    let reason = match (panic, exc) {
        (Some(p), _) => p.lines().next().unwrap_or("").trim().to_string(),
        (None, Some(e)) => match (&e.cause_name, e.cause) {
            (Some(n), _) => n.clone(),
            (None, Some(c)) => format!("exception cause {c}"),
            (None, None) => "crash".into(),
        },
        (None, None) => "crash".into(),
    };
    let task = crashed
        .and_then(|c| tasks.iter().find(|t| t.tcb == c.tcb))
        .or_else(|| tasks.first());
    let mut s = reason;
    if let Some(t) = task {
        let name = t.name.as_deref().unwrap_or("?");
        // The first frame outside the panic/abort machinery, else frame 0.
        const NOISE: &[&str] = &[
            "panic_abort",
            "esp_system_abort",
            "abort",
            "__assert_func",
            "esp_panic_handler",
            "panic_handler",
        ];
        let frame = t
            .frames
            .iter()
            .find(|f| f.function.as_deref().is_some_and(|n| !NOISE.contains(&n)))
            .or_else(|| t.frames.first());
        match frame {
            Some(f) => {
                let func = f.function.as_deref().unwrap_or("??");
                match (&f.file, f.line) {
                    (Some(file), Some(line)) => {
                        let short = file.rsplit('/').next().unwrap_or(file);
                        s.push_str(&format!(" (task '{name}', in {func} at {short}:{line})"));
                    }
                    _ => s.push_str(&format!(" (task '{name}', in {func} at 0x{:08x})", f.pc)),
                }
            }
            None => s.push_str(&format!(" (task '{name}')")),
        }
    }
    s
}
