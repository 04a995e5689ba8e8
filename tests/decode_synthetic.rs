//! Decoder tests on synthetic dumps built by `decode_support`: both architectures, every
//! container version, checksums, truncation, garbage, wrong ELF, base64 text forms.

mod decode_support;

use crashbox::decode::{
    self, Arch, BodyFormat, ChecksumStatus, Chip, DecodeError, ElfMatch, Encoding, Options,
    StopReason, Symbolizer, SymbolizerCache, TaskStatus, Warning,
};
use decode_support::*;

fn xt() -> (Symbolizer, Vec<u8>) {
    let app = xtensa_app();
    let prefix = sha256_hex(&app)[..9].to_string();
    (Symbolizer::new(app).unwrap(), xtensa_core(&prefix))
}

fn rv() -> (Symbolizer, Vec<u8>) {
    let app = riscv_app();
    let prefix = sha256_hex(&app)[..9].to_string();
    (Symbolizer::new(app).unwrap(), riscv_core(&prefix))
}

fn pcs(a: &decode::Analysis, task: usize) -> Vec<u32> {
    a.tasks[task].frames.iter().map(|f| f.pc).collect()
}

fn names(a: &decode::Analysis, task: usize) -> Vec<String> {
    a.tasks[task]
        .frames
        .iter()
        .map(|f| f.function.clone().unwrap_or_else(|| "??".into()))
        .collect()
}

#[test]
fn xtensa_bare_elf_unwinds_and_symbolizes() {
    let (sym, core) = xt();
    let a = decode::decode(&core, Some(&sym), &Options::default()).unwrap();
    assert_eq!(a.arch, Arch::Xtensa);
    assert_eq!(a.chip, Some(Chip::Esp32), "chip from ESP_CORE_DUMP_INFO");
    assert_eq!(a.container.header, None);
    assert_eq!(a.checksum, ChecksumStatus::Absent);
    assert_eq!(a.elf_match, ElfMatch::Match);
    assert!(a.frames_reliable);
    assert_eq!(pcs(&a, 0), vec![0x400d0010, 0x400d0108, 0x400d0208]);
    assert_eq!(names(&a, 0), vec!["func_a", "func_b", "func_c"]);
    assert_eq!(a.tasks[0].frames[0].offset, Some(16));
    assert_eq!(a.tasks[0].frames[1].offset, Some(8));
    assert_eq!(a.tasks[0].stop_reason, StopReason::Outermost);
    // Never-run task: PC on ENTRY, return address a[4*CALLINC] = 0 -> 0x40000000 (gdb).
    assert_eq!(pcs(&a, 1), vec![0x400d0300, 0x40000000]);
    assert_eq!(names(&a, 1), vec!["task_wrapper", "??"]);
    let c = a.crashed_task.as_ref().unwrap();
    assert_eq!((c.tcb, c.name.as_deref()), (XT_MAIN_TCB, Some("main")));
    assert_eq!(a.isr_context, Some(false));
    assert_eq!(
        a.panic_reason.as_deref(),
        Some("abort() was called at PC 0x400d0013 on core 0")
    );
    let e = a.exception.as_ref().unwrap();
    assert_eq!(e.cause, Some(29));
    assert_eq!(e.cause_name.as_deref(), Some("StoreProhibitedCause"));
    assert!(
        e.registers
            .iter()
            .any(|r| r.name == "epc1" && r.value == 0x400d0013)
    );
    assert_eq!(a.tasks[0].name.as_deref(), Some("main"));
    assert_eq!(a.tasks[0].priority, Some(1));
    assert_eq!(a.tasks[0].stack_used, Some(0x200));
    assert_eq!(a.tasks[0].stack_free, Some(0xe00));
    assert_eq!(a.tasks[0].status, TaskStatus::Crashed);
    let text = a.report_text();
    assert!(
        text.contains(
            "Crashed task handle: 0x3ffb0000, name: 'main', GDB name: 'process 1073414144'"
        ),
        "{text}"
    );
    assert!(
        text.contains("exccause       0x1d (StoreProhibitedCause)"),
        "{text}"
    );
    assert!(
        text.contains("pc             0x400d0010          0x400d0010 <func_a+16>"),
        "{text}"
    );
    assert!(text.contains("#1  0x400d0108 in func_b ()"), "{text}");
    assert!(text.contains("#1  0x40000000 in ?? ()"), "{text}");
    assert!(
        text.contains("0x3ffb0000             main      1/1         512/3584\n"),
        "{text}"
    );
}

#[test]
fn riscv_cfi_unwinding_follows_gdb_stop_rules() {
    let (sym, core) = rv();
    let a = decode::decode(&core, Some(&sym), &Options::default()).unwrap();
    assert_eq!(a.arch, Arch::Riscv);
    assert_eq!(a.chip, Some(Chip::Esp32c3));
    assert_eq!(
        pcs(&a, 0),
        vec![RV_TEXT + 0x10, RV_TEXT + 0x50, RV_TEXT + 0x90]
    );
    assert_eq!(names(&a, 0), vec!["f0", "f1", "f2"]);
    // explicit DW_CFA_undefined ra: silent stop
    assert_eq!(a.tasks[0].stop_reason, StopReason::Outermost);
    // never-run task: ra = 0 -> "frame did not save the PC"
    assert_eq!(pcs(&a, 1), vec![RV_TEXT + 0x80, 0]);
    assert_eq!(a.tasks[1].stop_reason, StopReason::PcNotSaved);
    // return into ROM without a ROM ELF: print the frame, stop silently
    assert_eq!(pcs(&a, 2), vec![RV_TEXT + 0x10, 0x40048000]);
    assert_eq!(
        a.tasks[2].stop_reason,
        StopReason::NoUnwindInfo { pc: 0x40048000 }
    );
    assert!(a.tasks[2].frames[1].rom);
    let e = a.exception.as_ref().unwrap();
    assert_eq!(e.cause, Some(7));
    assert_eq!(e.cause_name.as_deref(), Some("Store access fault"));
    let gp = a.registers.iter().find(|r| r.name == "gp").unwrap();
    assert_eq!(gp.symbol.as_deref(), Some("TAG+4"));
    let text = a.report_text();
    assert!(
        text.contains("gp             0x3fc8a600\t0x3fc8a600 <TAG+4>"),
        "{text}"
    );
    assert!(
        text.contains("#1  0x00000000 in ?? ()\nBacktrace stopped: frame did not save the PC"),
        "{text}"
    );
    assert!(
        text.contains("0x3fc80400        esp_timer    22/22"),
        "{text}"
    );
}

#[test]
fn every_elf_container_version_decodes_with_valid_checksum() {
    for (arch, (sym, body)) in [(Arch::Xtensa, xt()), (Arch::Riscv, rv())] {
        let chip_id = if arch == Arch::Xtensa { 0 } else { 5 };
        for minor in [0x0100u32, 0x0101, 0x0102, 0x0103, 0x0104] {
            for flash in [false, true] {
                let version = (chip_id << 16) | minor;
                let image = wrap(version, &body, 0, 0, 0, 3, flash);
                let a = decode::decode(&image, Some(&sym), &Options::default())
                    .unwrap_or_else(|e| panic!("{minor:x}: {e}"));
                assert!(
                    matches!(a.checksum, ChecksumStatus::Valid { .. }),
                    "{minor:x} {:?}",
                    a.checksum
                );
                let h = a.container.header.as_ref().unwrap();
                assert_eq!(h.version, version);
                assert_eq!(h.header_len as usize, header_len(version));
                assert_eq!(a.container.format, BodyFormat::Elf);
                assert_eq!(a.tasks[0].frames.len(), 3, "{minor:x}");
                if (0x0102..=0x0104).contains(&minor) {
                    assert_eq!(a.chip_rev, Some(3));
                }
                // and the same image as UART text
                let text = uart_text(&image, header_len(version), true, true);
                let b = decode::decode(text.as_bytes(), Some(&sym), &Options::default()).unwrap();
                assert_eq!(b.container.encoding, Encoding::Base64);
                assert!(matches!(b.checksum, ChecksumStatus::Valid { .. }));
                assert_eq!(b.tasks, a.tasks);
            }
        }
    }
}

#[test]
fn binary_formats_decode() {
    let app = xtensa_app();
    let sym = Symbolizer::new(app).unwrap();
    let body = binary_body(&xtensa_binary_tasks(), &[(0x3ffc_0000, vec![1, 2, 3, 4])]);
    for minor in [1u32, 2, 3] {
        let image = wrap(
            minor,
            &body,
            1,
            340,
            if minor >= 2 { 1 } else { 0 },
            300,
            true,
        );
        let a = decode::decode(&image, Some(&sym), &Options::default()).unwrap();
        assert_eq!(a.container.format, BodyFormat::Binary);
        assert!(matches!(a.checksum, ChecksumStatus::Valid { .. }));
        assert_eq!(a.elf_match, ElfMatch::NotRecorded);
        assert_eq!(
            pcs(&a, 0),
            vec![0x400d0010, 0x400d0108, 0x400d0208],
            "v{minor}"
        );
        assert_eq!(a.tasks[0].name.as_deref(), Some("main"));
        let e = a.exception.as_ref().unwrap();
        assert_eq!(e.cause, Some(29));
        // converter-style: epc1..7 and eps2..7 present, zero
        assert_eq!(e.registers.len(), 2 + 7 + 6);
        let ps = a.registers.iter().find(|r| r.name == "ps").unwrap();
        assert_eq!(ps.value, Some(0x60820), "PS.EXCM cleared when PS.UM is set");
    }
}

#[test]
fn riscv_binary_format_decodes() {
    let app = riscv_app();
    let sym = Symbolizer::new(app).unwrap();
    let mut stack = vec![0u8; 0xc0];
    let mut x = [0u32; 32];
    x[0] = RV_TEXT + 0x90;
    x[2] = RV_STACK + 0xa0;
    for (n, v) in x.iter().enumerate() {
        poke(&mut stack, RV_STACK, RV_STACK + 4 * n as u32, *v);
    }
    let tasks = vec![(
        RV_MAIN_TCB,
        RV_STACK,
        tcb("main", 3, RV_STACK, RV_STACK - 0x100, RV_STACK + 0xc0),
        stack,
    )];
    let body = binary_body(&tasks, &[]);
    let image = wrap((5 << 16) | 3, &body, 1, 340, 0, 3, false);
    let a = decode::decode(&image, Some(&sym), &Options::default()).unwrap();
    assert_eq!(a.arch, Arch::Riscv);
    assert_eq!(names(&a, 0), vec!["f2"]);
    assert_eq!(a.tasks[0].stop_reason, StopReason::Outermost);
}

#[test]
fn bad_checksum_is_a_warning_and_decoding_goes_on() {
    let (sym, body) = xt();
    for minor in [0x0102u32, 0x0103] {
        let mut image = wrap(minor, &body, 0, 0, 0, 300, false);
        let n = image.len();
        image[n - 1] ^= 0xff;
        let a = decode::decode(&image, Some(&sym), &Options::default()).unwrap();
        assert!(matches!(a.checksum, ChecksumStatus::Mismatch { .. }));
        assert!(!a.frames_reliable);
        assert!(
            a.warnings
                .iter()
                .any(|w| matches!(w, Warning::ChecksumMismatch)),
            "{:?}",
            a.warnings
        );
        assert_eq!(a.tasks[0].frames.len(), 3);
        assert!(a.report_text().contains("WARNING: "));
    }
}

#[test]
fn wrong_elf_is_reported_loudly() {
    let app = xtensa_app();
    let core = xtensa_core("0123abcde");
    let sym = Symbolizer::new(app).unwrap();
    let a = decode::decode(&core, Some(&sym), &Options::default()).unwrap();
    assert_eq!(a.elf_match, ElfMatch::Mismatch);
    assert!(!a.frames_reliable);
    assert!(
        matches!(a.warnings[0], Warning::WrongFirmwareElf { .. }),
        "{:?}",
        a.warnings
    );
    assert!(a.report_text().starts_with("WARNING: WRONG FIRMWARE ELF"));
}

#[test]
fn elf_of_the_other_architecture_is_not_used() {
    let (_, core) = xt();
    let rv_sym = Symbolizer::new(riscv_app()).unwrap();
    let a = decode::decode(&core, Some(&rv_sym), &Options::default()).unwrap();
    assert!(
        a.warnings
            .iter()
            .any(|w| matches!(w, Warning::ElfArchMismatch { .. }))
    );
    assert_eq!(a.tasks[0].frames[0].function, None);
}

#[test]
fn decodes_without_an_elf() {
    let (_, core) = rv();
    let a = decode::decode(&core, None, &Options::default()).unwrap();
    assert_eq!(a.elf_match, ElfMatch::NoElf);
    assert_eq!(a.tasks.len(), 3);
    assert_eq!(a.tasks[0].frames.len(), 1);
    let (_, core) = xt();
    let a = decode::decode(&core, None, &Options::default()).unwrap();
    assert_eq!(pcs(&a, 0), vec![0x400d0010, 0x400d0108, 0x400d0208]);
}

#[test]
fn wrong_chip_option_is_overridden_with_a_warning() {
    let (sym, core) = xt();
    let opts = Options {
        chip: Some(Chip::Esp32c3),
        ..Options::default()
    };
    let a = decode::decode(&core, Some(&sym), &opts).unwrap();
    assert_eq!(a.chip, Some(Chip::Esp32));
    assert!(a.warnings.iter().any(|w| matches!(
        w,
        Warning::ChipOptionOverridden {
            given: Chip::Esp32c3,
            ..
        }
    )));
}

#[test]
fn truncated_dumps_never_panic_and_degrade() {
    let (sym, body) = rv();
    let image = wrap((5 << 16) | 0x0102, &body, 0, 0, 0, 3, false);
    let mut partial = 0;
    for cut in (0..image.len()).step_by(7) {
        if let Ok(a) = decode::decode(&image[..cut], Some(&sym), &Options::default()) {
            partial += 1;
            assert!(!a.warnings.is_empty(), "cut at {cut} gave no warning");
        }
    }
    assert!(partial > 10);
    // A bare ELF cut after the first task's stack still gives that task.
    let cut = body.len() * 2 / 3;
    let a = decode::decode(&body[..cut], Some(&sym), &Options::default()).unwrap();
    assert!(!a.tasks.is_empty());
}

#[test]
fn garbage_and_empty_inputs_are_clear_errors() {
    assert_eq!(
        decode::decode(&[], None, &Options::default()),
        Err(DecodeError::Empty)
    );
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(matches!(
        decode::decode(&garbage, None, &Options::default()),
        Err(DecodeError::NotACoreDump(_))
    ));
    assert!(matches!(
        decode::decode(
            b"hello world\nthis is not a dump\n",
            None,
            &Options::default()
        ),
        Err(DecodeError::NotACoreDump(_))
    ));
    let mut blank = vec![0xffu8; 64];
    blank[4..16].fill(0);
    assert!(matches!(
        decode::decode(&blank, None, &Options::default()),
        Err(DecodeError::BlankPartition(_))
    ));
    let unknown = le(&[100, 0x0000_0109, 0, 0]);
    assert!(decode::decode(&unknown, None, &Options::default()).is_err());
}

#[test]
fn bare_elf_with_trailing_padding_and_shifted_v2_2_body() {
    let (sym, mut body) = xt();
    body.extend([0u8; 28]);
    let a = decode::decode(&body, Some(&sym), &Options::default()).unwrap();
    assert_eq!(a.tasks[0].frames.len(), 3);
    // V2_2 image uploaded by an uploader that strips 24 header bytes and 4 checksum bytes.
    let image = wrap(0x0104, &body, 0, 0, 0, 1, false);
    let stripped = &image[24..image.len() - 4];
    let a = decode::decode(stripped, Some(&sym), &Options::default()).unwrap();
    assert_eq!(a.tasks[0].frames.len(), 3);
    assert!(a.warnings.contains(&Warning::ShiftedElfRestored));
}

#[test]
fn base64_with_noise_ansi_and_without_markers() {
    let (sym, body) = xt();
    let image = wrap(0x0102, &body, 0, 0, 0, 300, false);
    let mut text = String::from("\x1b[0;32mI (100) boot: noise line here\x1b[0m\r\n");
    text.push_str(&uart_text(&image, 24, true, true));
    text.push_str("\x1b[0;31mE (200) something: more noise\x1b[0m\r\n");
    let a = decode::decode(text.as_bytes(), Some(&sym), &Options::default()).unwrap();
    assert!(matches!(a.checksum, ChecksumStatus::Valid { .. }));
    let plain = uart_text(&image, 24, false, false);
    let b = decode::decode(plain.as_bytes(), Some(&sym), &Options::default()).unwrap();
    assert_eq!(a.tasks, b.tasks);
    // Bare ELF as base64 too.
    let bare = uart_text(&body, 0, false, false);
    let c = decode::decode(bare.as_bytes(), Some(&sym), &Options::default()).unwrap();
    assert_eq!(c.tasks, b.tasks);
}

#[test]
fn frame_and_task_limits_and_deadline_bound_the_work() {
    let (sym, core) = xt();
    let opts = Options {
        max_frames: 2,
        max_tasks: 1,
        ..Options::default()
    };
    let a = decode::decode(&core, Some(&sym), &opts).unwrap();
    assert_eq!(a.tasks.len(), 1);
    assert_eq!(a.tasks[0].frames.len(), 2);
    assert_eq!(a.tasks[0].stop_reason, StopReason::MaxFrames { limit: 2 });
    let past = Options {
        deadline: Some(std::time::Instant::now()),
        ..Options::default()
    };
    assert_eq!(
        decode::decode(&core, Some(&sym), &past),
        Err(DecodeError::DeadlineExceeded)
    );
}

#[test]
fn xtensa_stack_loop_is_detected() {
    let (sym, _) = xt();
    // main's base save area points back at itself: same pc/sp forever.
    let mut stack = vec![0u8; 0x100];
    let sp = XT_STACK + 0x40;
    poke(&mut stack, XT_STACK, sp - 16, 0x800d_0108);
    poke(&mut stack, XT_STACK, sp - 12, sp);
    let mut a = [0u32; 16];
    a[0] = 0x800d_0108;
    a[1] = sp;
    let core = elf_core(
        XTENSA,
        &note(
            "CORE",
            1,
            &prstatus_xtensa(XT_MAIN_TCB, XT_TEXT + 0x110, 0x60820, a),
        ),
        &[(XT_STACK, stack)],
        &[],
    );
    let r = decode::decode(&core, Some(&sym), &Options::default()).unwrap();
    assert!(r.tasks[0].frames.len() <= 3);
    assert!(matches!(
        r.tasks[0].stop_reason,
        StopReason::SameFrame | StopReason::InnerFrame
    ));
}

#[test]
fn analysis_round_trips_through_json() {
    let (sym, core) = rv();
    let a = decode::decode(&core, Some(&sym), &Options::default()).unwrap();
    let j = serde_json::to_string(&a).unwrap();
    let b: decode::Analysis = serde_json::from_str(&j).unwrap();
    assert_eq!(a, b);
    assert!(
        j.contains("\"stop_reason\":{\"reason\":\"pc_not_saved\"}"),
        "{j}"
    );
}

#[test]
fn symbolizer_cache_is_keyed_by_sha_and_bounded() {
    let x = xtensa_app();
    let r = riscv_app();
    let cache = SymbolizerCache::new(usize::MAX);
    let a1 = cache.get_or_build(&x).unwrap();
    let a2 = cache.get_or_build(&x).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a1, &a2));
    cache.get_or_build(&r).unwrap();
    assert_eq!(cache.len(), 2);
    let small = SymbolizerCache::new(1);
    small.get_or_build(&x).unwrap();
    small.get_or_build(&r).unwrap();
    assert_eq!(small.len(), 1, "over the bound only the newest stays");
    assert!(small.get(&a1.elf_sha256()).is_none());
    assert!(matches!(
        cache.get_or_build(b"not an elf"),
        Err(DecodeError::InvalidElf(_))
    ));
}

#[test]
fn rom_elf_names_follow_esp_rom_elfs() {
    assert_eq!(
        decode::parse_rom_elf_name("esp32c3_rev3_rom.elf"),
        Some((Chip::Esp32c3, 3))
    );
    assert_eq!(
        decode::parse_rom_elf_name("esp32_rev300_rom.elf"),
        Some((Chip::Esp32, 300))
    );
    assert_eq!(
        decode::parse_rom_elf_name("esp32c61_rev0_rom.elf"),
        Some((Chip::Esp32c61, 0))
    );
    assert_eq!(decode::parse_rom_elf_name("app.elf"), None);
}

#[test]
fn rom_elf_supplies_rom_cfi_and_names() {
    // A "ROM ELF" with a function at 0x40048000 that returns into f2 (via CFI).
    let rom = AppElf {
        machine: RISCV,
        text_addr: 0x4004_7ff0,
        text: vec![0; 0x40],
        debug_frame: riscv_debug_frame(&[(0x4004_7ff0, 0x40, false)]),
        symbols: vec![("ets_printf".into(), 0x4004_7ff0, 0x40, true)],
        data_addr: 0x3ff0_0000,
        data: vec![],
        extra: Vec::new(),
    }
    .build();
    let mut set = decode::RomElfSet::new();
    // rev 2 only: a rev-3 chip uses the highest lower revision, like esp-rom-elfs says
    set.insert(Chip::Esp32c3, 2, rom).unwrap();
    assert!(decode::RomElfProvider::rom_elf(&set, Chip::Esp32c3, 1).is_none());
    let (sym, body) = rv();
    // esp_timer's ROM frame: CFA = sp+16 above f0's frame; put a return into f2 there.
    let image = wrap((5 << 16) | 0x0102, &body, 0, 0, 0, 3, false);
    let opts = Options {
        rom_elfs: Some(std::sync::Arc::new(set)),
        ..Options::default()
    };
    let a = decode::decode(&image, Some(&sym), &opts).unwrap();
    assert_eq!(a.tasks[2].frames[1].function.as_deref(), Some("ets_printf"));
    assert_ne!(
        a.tasks[2].stop_reason,
        StopReason::NoUnwindInfo { pc: 0x40048000 }
    );
    // Without chip_rev in the container no ROM ELF is chosen, as in esp-coredump.
    let b = decode::decode(&body, Some(&sym), &opts).unwrap();
    assert!(b.rom_elf_note.is_some());
}

#[test]
fn isr_crash_also_unwinds_the_interrupted_task() {
    let (sym, mut core) = rv();
    // ESP_EXTRA_INFO desc = [crashed_tcb, isr_context]: set isr_context = 1.
    let name = b"ESP_EXTRA_INFO\0\0";
    let at = core.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    core[at + 4..at + 8].copy_from_slice(&1u32.to_le_bytes());
    let a = decode::decode(&core, Some(&sym), &Options::default()).unwrap();
    assert_eq!(a.isr_context, Some(true));
    assert!(
        a.report_text()
            .contains("Crash happened in the interrupt context")
    );
    let chain = a.tasks[0].interrupted.as_ref().expect("interrupted chain");
    let names: Vec<_> = chain.frames.iter().map(|f| f.function.clone()).collect();
    assert_eq!(
        names,
        vec![Some("f0".into()), Some("f1".into()), Some("f2".into())]
    );
    assert!(a.tasks[1].interrupted.is_none());
}

#[test]
fn rom_elf_directory_is_indexed_by_esp_rom_elfs_names() {
    let rom = AppElf {
        machine: RISCV,
        text_addr: 0x4004_7ff0,
        text: vec![0; 0x40],
        debug_frame: riscv_debug_frame(&[(0x4004_7ff0, 0x40, false)]),
        symbols: vec![("ets_printf".into(), 0x4004_7ff0, 0x40, true)],
        data_addr: 0x3ff0_0000,
        data: vec![],
        extra: Vec::new(),
    }
    .build();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("esp32c3_rev3_rom.elf"), rom).unwrap();
    std::fs::write(dir.path().join("README.txt"), b"not a ROM ELF").unwrap();
    let roms = decode::rom_elfs_from_dir(dir.path()).unwrap();
    assert_eq!(roms.len(), 1);
    let (sym, body) = rv();
    let image = wrap((5 << 16) | 0x0102, &body, 0, 0, 0, 3, false);
    let opts = Options {
        rom_elfs: Some(std::sync::Arc::new(roms)),
        ..Options::default()
    };
    let a = decode::decode(&image, Some(&sym), &opts).unwrap();
    assert_eq!(a.tasks[2].frames[1].function.as_deref(), Some("ets_printf"));
    assert!(a.rom_elf_note.is_none());
}

/// RISC-V code that calls into mask ROM, which calls back into the app: CFI ends at the ROM
/// frame (no ROM ELF), and the walk recovers the caller by scanning the stack — skipping a
/// word that is app code but not a return address, and a stale return address from a call
/// into the app — then resumes with CFI to the outermost frame. The recovered frame is marked
/// `scan` in the analysis and named after the backtrace in the report.
#[test]
fn riscv_walk_scans_past_rom_code_and_resumes_with_cfi() {
    use crashbox::decode::FrameTrust;

    const ROM_FN: u32 = 0x4004_8100; // a ROM function (no bytes, no CFI)
    const ROM_RET: u32 = 0x4004_8120; // where it called back into f0
    let (f0, f1, f2) = (RV_TEXT, RV_TEXT + 0x40, RV_TEXT + 0x80);
    let mut text = vec![0x13u8; 0xc0]; // `addi x0, x0, 0` (nop) everywhere
    let put = |text: &mut Vec<u8>, at: u32, insn: u32| {
        let o = (at - RV_TEXT) as usize;
        text[o..o + 4].copy_from_slice(&insn.to_le_bytes());
    };
    // f1 + 0x10: `auipc t1, hi; jalr ra, lo(t1)` → ROM_FN (the `call` pseudo-instruction).
    let call_at = f1 + 0x10;
    let delta = ROM_FN.wrapping_sub(call_at);
    let hi = delta.wrapping_add(0x800) & 0xffff_f000;
    let lo = delta.wrapping_sub(hi) & 0xfff;
    put(&mut text, call_at, hi | 6 << 7 | 0x17);
    put(&mut text, call_at + 4, lo << 20 | 6 << 15 | 1 << 7 | 0x67);
    let ret_into_f1 = call_at + 8;
    // f2 + 0x10: `jal ra, f1` (J-type offset -0x50).
    let jal_at = f2 + 0x10;
    let off = f1.wrapping_sub(jal_at);
    let j = (off >> 20 & 1) << 31
        | (off >> 1 & 0x3ff) << 21
        | (off >> 11 & 1) << 20
        | (off >> 12 & 0xff) << 12;
    put(&mut text, jal_at, j | 1 << 7 | 0x6f);
    let ret_into_f2 = jal_at + 4;
    let app = AppElf {
        machine: RISCV,
        text_addr: RV_TEXT,
        text,
        debug_frame: riscv_debug_frame(&[(f0, 0x40, false), (f1, 0x40, false), (f2, 0x40, true)]),
        symbols: vec![
            ("f0".into(), f0, 0x40, true),
            ("f1".into(), f1, 0x40, true),
            ("f2".into(), f2, 0x40, true),
        ],
        data_addr: 0x3fc8_a5fc,
        data: vec![0; 8],
        extra: Vec::new(),
    }
    .build();

    // The stack, from frame 0's sp up: f0's frame (16 bytes, its ra → ROM), the ROM
    // function's frame (app code that is no return address, a stale return address from a
    // call into the app, then the return into f1 at `ra_slot`, 8 bytes of varargs above it),
    // f1's frame (16 bytes, its ra → f2), f2's frame.
    let base = RV_STACK;
    let sp0 = base + 0x40;
    let mut stack = vec![0u8; 0x100];
    poke(&mut stack, base, sp0 + 12, ROM_RET);
    let rom_sp = sp0 + 16;
    poke(&mut stack, base, rom_sp, f0 + 0x20); // app code, but a nop precedes it
    poke(&mut stack, base, rom_sp + 4, ret_into_f2); // returns from a call into f1 (app)
    let ra_slot = rom_sp + 12;
    poke(&mut stack, base, ra_slot, ret_into_f1);
    let f1_sp = ra_slot + 4 + 8;
    poke(&mut stack, base, f1_sp + 12, ret_into_f2);
    let mut x = [0u32; 32];
    x[0] = f0 + 0x10;
    x[2] = sp0;
    let core = note("CORE", 1, &prstatus_riscv(RV_MAIN_TCB, x));
    let loads = vec![
        (RV_MAIN_TCB, tcb("main", 1, sp0, base, base + 0x100)),
        (base, stack),
    ];
    let mut sha = [0u8; 68];
    let prefix = sha256_hex(&app)[..9].to_string();
    sha[..9].copy_from_slice(prefix.as_bytes());
    let mut desc = le(&[0x0005_0102]);
    desc.extend_from_slice(&sha);
    let mut info = note("ESP_CORE_DUMP_INFO", 8266, &desc);
    info.extend(note("ESP_EXTRA_INFO", 677, &le(&[RV_MAIN_TCB, 0])));
    let dump = elf_core(RISCV, &core, &loads, &info);

    let sym = Symbolizer::new(app).unwrap();
    let a = decode::decode(&dump, Some(&sym), &Options::default()).unwrap();
    assert_eq!(
        pcs(&a, 0),
        vec![f0 + 0x10, ROM_RET, ret_into_f1, ret_into_f2]
    );
    assert_eq!(names(&a, 0), vec!["f0", "??", "f1", "f2"]);
    let trust: Vec<_> = a.tasks[0].frames.iter().map(|f| f.found_by).collect();
    assert_eq!(
        trust,
        vec![
            Some(FrameTrust::Context),
            Some(FrameTrust::Cfi),
            Some(FrameTrust::Scan),
            Some(FrameTrust::Cfi)
        ]
    );
    assert_eq!(a.tasks[0].stop_reason, StopReason::Outermost);
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["tasks"][0]["frames"][2]["found_by"], "scan");
    let text = a.report_text();
    assert!(
        text.contains(&format!("#2  0x{ret_into_f1:08x} in f1 ()\n#3  0x{ret_into_f2:08x} in f2 ()\n(crashbox: frame #2 found by stack scanning")),
        "{text}"
    );

    // Without the return into f1 on the stack, nothing is recovered: gdb's silent stop.
    let mut bare = dump.clone();
    let needle = ret_into_f1.to_le_bytes();
    let at = bare.windows(4).position(|w| w == needle).unwrap();
    bare[at..at + 4].copy_from_slice(&[0; 4]);
    let a = decode::decode(&bare, Some(&sym), &Options::default()).unwrap();
    assert_eq!(pcs(&a, 0), vec![f0 + 0x10, ROM_RET]);
    assert_eq!(
        a.tasks[0].stop_reason,
        StopReason::NoUnwindInfo { pc: ROM_RET }
    );
    assert!(!a.report_text().contains("stack scanning"));
}
