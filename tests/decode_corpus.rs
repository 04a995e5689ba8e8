//! Conformance against esp-coredump + gdb: every case under `../shared/corpus/esp-coredump/`
//! (dump, firmware ELF, `expected_output`) is decoded and compared section by section.
//!
//! Compared: every frame line of every thread as printed (PC, function, arguments with their
//! values, `at file:line`, and whether gdb shows the address); the share of frame lines that
//! are identical, arguments included, among the frames both decoders show (same PC and
//! function) is printed as `identical lines` and must be 100 %. On RISC-V, without a ROM ELF,
//! only up to and including the first ROM frame (gdb needs the ROM ELF's CFI to go on). ROM
//! frames that esp-coredump named from its ROM ELF count as matched when the PC matches and the
//! decoder prints `??` (it has no ROM ELF); they are listed in the `rom-named` column. Also
//! compared: crashed task / ISR / panic lines, the CURRENT THREAD REGISTERS section (exception
//! registers included), the task table, `info threads` and ALL MEMORY REGIONS.
//!
//! One test per case (`conformance::esp32`, ...), each printing its score row; a case fails
//! when it does not match fully. A missing corpus or case is a skip through `support::skip`
//! (a failure under `CI=true`).

mod support;

use std::path::Path;

use crashbox::decode::{self, Chip, Options, Symbolizer};

/// Lines of a section: from the line after `heading` to the next `=====` heading.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        if l.contains(heading) && l.starts_with('=') {
            inside = true;
            continue;
        }
        if inside {
            if l.starts_with("=====") {
                break;
            }
            out.push(l);
        }
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// Per-thread `bt` blocks keyed by thread number.
fn thread_blocks(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out: Vec<(usize, Vec<String>)> = Vec::new();
    let mut cur: Option<(usize, Vec<String>)> = None;
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("==================== THREAD ") {
            if let Some(c) = cur.take() {
                out.push(c);
            }
            let n = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            cur = Some((n, Vec::new()));
            continue;
        }
        if l.starts_with("=====") {
            if let Some(c) = cur.take() {
                out.push(c);
            }
            continue;
        }
        if let Some((_, lines)) = cur.as_mut()
            && (l.starts_with('#') || l.starts_with("Backtrace stopped"))
        {
            lines.push(l.to_string());
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    out
}

/// PC of a frame line (`#N  0x... in`), if shown.
fn line_pc(l: &str) -> Option<u32> {
    let rest = l.get(4..)?;
    let hex = rest.strip_prefix("0x")?.split(' ').next()?;
    u32::from_str_radix(hex, 16).ok()
}

/// Function name of a frame line.
fn line_func(l: &str) -> String {
    let rest = l.get(4..).unwrap_or("");
    let rest = rest.split_once(" in ").map(|(_, r)| r).unwrap_or(rest);
    rest.split(" (").next().unwrap_or("").to_string()
}

#[derive(Default)]
struct Score {
    threads: usize,
    frames_ok: usize,
    frames_total: usize,
    rom_named: usize,
    /// Frames after the first ROM frame (RISC-V, no ROM ELF), found by stack scanning and CFI
    /// from there, and how many of them gdb has.
    recovered: usize,
    recovered_right: usize,
    /// gdb's app frames after the first ROM frame, and how many crashbox recovered.
    gdb_after_rom: usize,
    gdb_after_rom_found: usize,
    table: bool,
    regs: bool,
    crash: bool,
    threads_info: bool,
    regions: bool,
    /// Frame lines (all threads) of frames both decoders show: same PC (or none) and function.
    same_frames: usize,
    /// Of those, the lines identical to gdb's, arguments included.
    identical: usize,
    mismatches: Vec<String>,
}

/// `#N  ` removed: the rest of a frame line.
fn line_body(l: &str) -> &str {
    l.split_once("  ").map(|(_, b)| b).unwrap_or(l)
}

/// Counts, for one thread, gdb's frame lines whose frame crashbox also shows (the next of its
/// lines with the same PC and function) and how many of those are identical.
fn count_identical(exp: &[String], ours: &[String], s: &mut Score) {
    let mut from = 0usize;
    for e in exp.iter().filter(|e| e.starts_with('#')) {
        let key = (line_pc(e), line_func(e));
        let Some(k) = ours
            .iter()
            .skip(from)
            .position(|o| o.starts_with('#') && (line_pc(o), line_func(o)) == key)
        else {
            continue;
        };
        let o = &ours[from + k];
        from += k + 1;
        s.same_frames += 1;
        if line_body(o) == line_body(e) {
            s.identical += 1;
        } else {
            s.mismatches.push(format!(
                "frame line differs:\n   expected {e}\n   got      {o}"
            ));
        }
    }
}

fn compare_case(dir: &Path) -> Result<Score, String> {
    let elf = std::fs::read(dir.join("app.elf")).map_err(|e| e.to_string())?;
    let dump = std::fs::read(dir.join("coredump.b64")).map_err(|e| e.to_string())?;
    let expected =
        std::fs::read_to_string(dir.join("expected_output")).map_err(|e| e.to_string())?;
    let sym = Symbolizer::new(elf).map_err(|e| e.to_string())?;
    let a = decode::decode(&dump, Some(&sym), &Options::default()).map_err(|e| e.to_string())?;
    let ours = a.report_text();
    let riscv = a.arch == decode::Arch::Riscv;
    let chip = a.chip.unwrap_or(Chip::Esp32);
    let mut s = Score::default();

    let exp_threads = thread_blocks(&expected);
    let our_threads = thread_blocks(&ours);
    s.threads = exp_threads.len();
    for (n, exp) in &exp_threads {
        let ours = our_threads
            .iter()
            .find(|(m, _)| m == n)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        count_identical(exp, &ours, &mut s);
        let mut rom_seen = false;
        for (i, e) in exp.iter().enumerate() {
            if e.starts_with("Backtrace stopped") {
                if !rom_seen && !ours.contains(e) {
                    s.mismatches.push(format!("thread {n}: missing '{e}'"));
                }
                continue;
            }
            if rom_seen && riscv {
                // Compared below, as the frames recovered past the ROM.
                continue;
            }
            s.frames_total += 1;
            let o = ours.get(i).cloned().unwrap_or_default();
            let epc = line_pc(e);
            let is_rom = epc.is_some_and(|p| chip.is_rom(p));
            if *e == o {
                s.frames_ok += 1;
            } else if is_rom && line_pc(&o) == epc && line_func(&o) == "??" {
                s.frames_ok += 1;
                s.rom_named += 1;
            } else {
                s.mismatches.push(format!(
                    "thread {n} frame {i}:\n   expected {e}\n   got      {o}"
                ));
            }
            if is_rom {
                rom_seen = true;
            }
        }
        if riscv && rom_seen {
            // Without a ROM ELF, CFI ends at the first ROM frame; the frames after it are
            // recovered by stack scanning and must be exactly gdb's app frames after the ROM
            // (gdb, with the ROM ELF, also shows the ROM frames in between, which crashbox
            // skips). Precision: recovered frames gdb also has; recall: gdb's app frames
            // after the ROM that were recovered.
            let Some(k) = exp
                .iter()
                .position(|e| line_pc(e).is_some_and(|p| chip.is_rom(p)))
            else {
                continue;
            };
            let body = |l: &String| l.get(4..).unwrap_or("").to_string();
            let want: Vec<String> = exp[k + 1..]
                .iter()
                .filter(|e| e.starts_with('#') && !line_pc(e).is_some_and(|p| chip.is_rom(p)))
                .map(body)
                .collect();
            let got: Vec<String> = ours
                .iter()
                .skip(k + 1)
                .filter(|o| o.starts_with('#'))
                .map(body)
                .collect();
            s.recovered += got.len();
            s.recovered_right += got.iter().filter(|g| want.contains(g)).count();
            s.gdb_after_rom += want.len();
            s.gdb_after_rom_found += want.iter().filter(|w| got.contains(w)).count();
            if got != want {
                s.mismatches.push(format!(
                    "thread {n}: frames after the ROM frame #{k}:\n   expected {want:?}\n   got      {got:?}"
                ));
            }
        }
    }

    let table = |t: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut inside = false;
        for l in t.lines() {
            if l.starts_with("---------- ") {
                inside = true;
                continue;
            }
            if inside {
                if l.is_empty() {
                    break;
                }
                out.push(l.to_string());
            }
        }
        out
    };
    s.table = table(&expected) == table(&ours);
    if !s.table {
        s.mismatches.push(format!(
            "task table:\n{:?}\n{:?}",
            table(&expected),
            table(&ours)
        ));
    }
    let regs_e = section(&expected, "CURRENT THREAD REGISTERS");
    let regs_o = section(&ours, "CURRENT THREAD REGISTERS");
    s.regs = regs_e == regs_o;
    if !s.regs {
        for (e, o) in regs_e.iter().zip(regs_o.iter()).filter(|(e, o)| e != o) {
            s.mismatches
                .push(format!("register line:\n   expected {e}\n   got      {o}"));
        }
    }
    let crash = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| {
                l.starts_with("Crashed task")
                    || l.starts_with("Panic reason")
                    || l.starts_with("Crash happened")
            })
            .map(str::to_string)
            .collect()
    };
    s.crash = crash(&expected) == crash(&ours);
    if !s.crash {
        s.mismatches.push(format!(
            "crash lines:\n{:?}\n{:?}",
            crash(&expected),
            crash(&ours)
        ));
    }
    let info = |t: &str| -> Vec<String> {
        section(t, "THREADS INFO")
            .iter()
            .take_while(|l| !l.is_empty())
            .map(|l| l.to_string())
            .collect()
    };
    let (ie, io) = (info(&expected), info(&ours));
    // ROM frame-0 names differ without a ROM ELF: for ROM PCs compare up to the PC only.
    let norm = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|l| {
                let pc = l.split_whitespace().find_map(|w| {
                    w.strip_prefix("0x")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                });
                match (l.find(" in "), pc) {
                    (Some(p), Some(pc)) if chip.is_rom(pc) => l[..p].to_string(),
                    _ => l.clone(),
                }
            })
            .collect()
    };
    s.threads_info = norm(&ie) == norm(&io);
    if !s.threads_info {
        s.mismatches
            .push(format!("info threads:\n{ie:#?}\n{io:#?}"));
    }
    let regions = |t: &str| -> Vec<String> {
        section(t, "ALL MEMORY REGIONS")
            .iter()
            .map(|l| l.to_string())
            .collect()
    };
    s.regions = regions(&expected) == regions(&ours);
    if !s.regions {
        s.mismatches.push("memory regions differ".into());
    }
    Ok(s)
}

/// Decodes one corpus case and compares it with esp-coredump's output; prints its score row.
fn conformance(case: &str) {
    let Some(dir) = support::corpus_case(case) else {
        return;
    };
    let s = compare_case(&dir).unwrap_or_else(|e| panic!("{case}: {e}"));
    let yn = |b: bool| if b { "yes" } else { "NO" };
    println!(
        "{:<14} {:>7} {:>15} {:>9} {:>21} {:>10} {:>5} {:>6} {:>12} {:>7} {:>15}",
        "case",
        "threads",
        "frames matched",
        "rom-named",
        "past-ROM prec/recall",
        "task-table",
        "regs",
        "crash",
        "info-threads",
        "regions",
        "identical lines"
    );
    println!(
        "{:<14} {:>7} {:>15} {:>9} {:>21} {:>10} {:>5} {:>6} {:>12} {:>7} {:>15}",
        case,
        s.threads,
        format!("{}/{}", s.frames_ok, s.frames_total),
        s.rom_named,
        format!(
            "{}/{} {}/{}",
            s.recovered_right, s.recovered, s.gdb_after_rom_found, s.gdb_after_rom
        ),
        yn(s.table),
        yn(s.regs),
        yn(s.crash),
        yn(s.threads_info),
        yn(s.regions),
        format!("{}/{}", s.identical, s.same_frames)
    );
    assert!(s.same_frames > 0, "{case}: no frame shared with gdb");
    assert_eq!(
        s.identical, s.same_frames,
        "{case}: frame lines (arguments included) identical to gdb's"
    );
    assert!(
        s.mismatches.is_empty(),
        "{case} does not match esp-coredump fully:\n{}",
        s.mismatches.join("\n")
    );
}

support::corpus_cases!(conformance: esp32, esp32c3, esp32c3_bin);

#[test]
fn every_corpus_case_has_a_conformance_test() {
    support::assert_corpus_cases_listed(conformance::CASES, |_| true);
}
