//! gdb's tail-call frames and inlined frames on a synthetic RISC-V firmware with hand-written
//! DWARF (built with `gimli::write`, a line program giving every 4 bytes its own line):
//! an unambiguous tail call (A calls B, B tail-calls C) shows B between C and A with the PC of
//! its tail-call site's return address, `"found_by": "tailcall"`, its arguments and its
//! callee's entry values through the tail-call site; two different tail-call paths add no
//! frame; paths that share their last tail call add only that one (gdb's common suffix); a
//! hostile web of self tail calls and cycles ends within the search bounds; inlined frames
//! print as gdb prints them (no `0x… in` on the outer frames of an inline chain); and a chain
//! through a compile unit no frame is in (DWARF 4 GNU call sites, targets named by
//! declarations) is found both with every unit indexed and with units loaded lazily.

mod decode_support;

use std::time::{Duration, Instant};

use crashbox::decode::{self, ElfData, FrameTrust, Options, Symbolizer};
use decode_support::dwarf::{die, expr, name, named, sections_of};
use decode_support::*;
use gimli::write::{
    Address, AttributeValue as A, DwarfUnit, EndianVec, Expression, LineProgram, LineString,
    Sections, UnitEntryId,
};
use gimli::{Register, constants as dw};

/// Bytes per function; function `i` starts at `RV_TEXT + i * FN`.
const FN: u32 = 0x40;
const FUNCS: [&str; 12] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "K", "L", "P"];
const TEXT_LEN: u32 = FN * FUNCS.len() as u32;

fn at(name: &str) -> u32 {
    let i = FUNCS.iter().position(|f| *f == name).unwrap();
    RV_TEXT + FN * i as u32
}

/// The line of an address: one row every 4 bytes.
fn line(addr: u32) -> u32 {
    (addr - RV_TEXT) / 4 + 1
}

fn addr(a: u32) -> A {
    A::Address(Address::Constant(u64::from(a)))
}

/// A DWARF 5 call site in `parent` returning to `ret`, calling `target`.
fn site(
    u: &mut DwarfUnit,
    parent: UnitEntryId,
    ret: u32,
    target: UnitEntryId,
    tail: bool,
) -> UnitEntryId {
    let mut attrs = vec![
        (dw::DW_AT_call_return_pc, addr(ret)),
        (dw::DW_AT_call_origin, A::UnitRef(target)),
    ];
    if tail {
        attrs.push((dw::DW_AT_call_tail_call, A::Flag(true)));
    }
    die(u, parent, dw::DW_TAG_call_site, attrs)
}

/// A call site parameter: `reg` holds `lit` (0..=31) at the call.
fn site_param(u: &mut DwarfUnit, site: UnitEntryId, reg: u16, lit: u8) {
    die(
        u,
        site,
        dw::DW_TAG_call_site_parameter,
        vec![
            (dw::DW_AT_location, expr(|e| e.op_reg(Register(reg)))),
            (
                dw::DW_AT_call_value,
                expr(|e| e.op(gimli::DwOp(dw::DW_OP_lit0.0 + lit))),
            ),
        ],
    );
}

/// The firmware's DWARF:
/// - A calls B (returning to A+0x10), D (A+0x20), H (A+0x28) and L (A+0x30); P calls C
///   (P+0x10) from inside the inlined Q;
/// - B(x) tail-calls C (returning to B+0x20), passing a0 = 7; C(n) reads n as an entry value;
/// - D tail-calls E or F, both of which tail-call C: ambiguous;
/// - H tail-calls I or K, both of which tail-call G, which tail-calls C: only G is certain;
/// - L tail-calls B, and itself from 40 sites: 40! chains, all ending L -> B -> C.
fn dwarf() -> Vec<(String, Vec<u8>)> {
    let encoding = gimli::Encoding {
        address_size: 4,
        format: gimli::Format::Dwarf32,
        version: 5,
    };
    let mut u = DwarfUnit::new(encoding);
    let mut program = LineProgram::new(
        encoding,
        gimli::LineEncoding::default(),
        LineString::String(b"/src".to_vec()),
        None,
        LineString::String(b"tail.c".to_vec()),
        None,
    );
    let dir = program.default_directory();
    let file = program.add_file(LineString::String(b"tail.c".to_vec()), dir, None);
    program.begin_sequence(Some(Address::Constant(u64::from(RV_TEXT))));
    for off in (0..TEXT_LEN).step_by(4) {
        let row = program.row();
        row.address_offset = u64::from(off);
        row.file = file;
        row.line = u64::from(line(RV_TEXT + off));
        row.is_statement = true;
        program.generate_row();
    }
    program.end_sequence(u64::from(TEXT_LEN));
    u.unit.line_program = program;
    let root = u.unit.root();
    u.unit
        .get_mut(root)
        .set(dw::DW_AT_name, A::String(b"/src/tail.c".to_vec()));
    u.unit
        .get_mut(root)
        .set(dw::DW_AT_comp_dir, A::String(b"/src".to_vec()));
    u.unit.get_mut(root).set(dw::DW_AT_low_pc, addr(RV_TEXT));
    u.unit
        .get_mut(root)
        .set(dw::DW_AT_high_pc, A::Udata(u64::from(TEXT_LEN)));
    let int = die(
        &mut u,
        root,
        dw::DW_TAG_base_type,
        vec![
            name("int"),
            (dw::DW_AT_byte_size, A::Data1(4)),
            (dw::DW_AT_encoding, A::Encoding(dw::DW_ATE_signed)),
        ],
    );
    let mut subs = std::collections::HashMap::new();
    for f in FUNCS {
        let id = die(
            &mut u,
            root,
            dw::DW_TAG_subprogram,
            vec![
                name(f),
                (dw::DW_AT_low_pc, addr(at(f))),
                (dw::DW_AT_high_pc, A::Udata(u64::from(FN))),
                (
                    dw::DW_AT_frame_base,
                    expr(|e| e.op(dw::DW_OP_call_frame_cfa)),
                ),
            ],
        );
        subs.insert(f, id);
    }
    let s = |f: &str| subs[f];
    // B(x): x in a0. C(n): n is the entry value of a0.
    die(
        &mut u,
        s("B"),
        dw::DW_TAG_formal_parameter,
        vec![
            name("x"),
            (dw::DW_AT_type, A::UnitRef(int)),
            (dw::DW_AT_location, expr(|e| e.op_reg(Register(10)))),
        ],
    );
    die(
        &mut u,
        s("C"),
        dw::DW_TAG_formal_parameter,
        vec![
            name("n"),
            (dw::DW_AT_type, A::UnitRef(int)),
            (
                dw::DW_AT_location,
                expr(|e| {
                    let mut inner = Expression::new();
                    inner.op_reg(Register(10));
                    e.op_entry_value(inner);
                    e.op(dw::DW_OP_stack_value);
                }),
            ),
        ],
    );

    // 1. A -> B, B tail-calls C.
    let a_b = site(&mut u, s("A"), at("A") + 0x10, s("B"), false);
    site_param(&mut u, a_b, 10, 3);
    let b_c = site(&mut u, s("B"), at("B") + 0x20, s("C"), true);
    site_param(&mut u, b_c, 10, 7);

    // 2. A -> D; D tail-calls E or F; both tail-call C.
    site(&mut u, s("A"), at("A") + 0x20, s("D"), false);
    site(&mut u, s("D"), at("D") + 0x10, s("E"), true);
    site(&mut u, s("D"), at("D") + 0x20, s("F"), true);
    site(&mut u, s("E"), at("E") + 0x10, s("C"), true);
    site(&mut u, s("F"), at("F") + 0x10, s("C"), true);

    // 2b. A -> H; H tail-calls I or K; both tail-call G; G tail-calls C.
    site(&mut u, s("A"), at("A") + 0x28, s("H"), false);
    site(&mut u, s("H"), at("H") + 0x10, s("I"), true);
    site(&mut u, s("H"), at("H") + 0x20, s("K"), true);
    site(&mut u, s("I"), at("I") + 0x10, s("G"), true);
    site(&mut u, s("K"), at("K") + 0x10, s("G"), true);
    // A tail call site inside a lexical block is still G's.
    let block = die(
        &mut u,
        s("G"),
        dw::DW_TAG_lexical_block,
        vec![
            (dw::DW_AT_low_pc, addr(at("G") + 0x8)),
            (dw::DW_AT_high_pc, A::Udata(0x20)),
        ],
    );
    site(&mut u, block, at("G") + 0x10, s("C"), true);

    // 3. A -> L; L tail-calls B (then C), and itself from 40 sites, which gdb's order (the
    // reverse of the DIEs') tries first: every chain ends L -> B -> C, so no early ambiguity.
    site(&mut u, s("A"), at("A") + 0x30, s("L"), false);
    site(&mut u, s("L"), at("L") + 0x34, s("B"), true);
    for k in 0..40 {
        site(&mut u, s("L"), at("L") + 0x4 + k, s("L"), true);
    }

    // 4. P calls C from inside the inlined Q(q = 3), called on line 500.
    let q = die(
        &mut u,
        root,
        dw::DW_TAG_subprogram,
        vec![name("Q"), (dw::DW_AT_inline, A::Inline(dw::DW_INL_inlined))],
    );
    let q_param = die(
        &mut u,
        q,
        dw::DW_TAG_formal_parameter,
        vec![name("q"), (dw::DW_AT_type, A::UnitRef(int))],
    );
    let inl = die(
        &mut u,
        s("P"),
        dw::DW_TAG_inlined_subroutine,
        vec![
            (dw::DW_AT_abstract_origin, A::UnitRef(q)),
            (dw::DW_AT_low_pc, addr(at("P") + 0x8)),
            (dw::DW_AT_high_pc, A::Udata(0x20)),
            (dw::DW_AT_call_file, A::FileIndex(Some(file))),
            (dw::DW_AT_call_line, A::Udata(500)),
        ],
    );
    die(
        &mut u,
        inl,
        dw::DW_TAG_formal_parameter,
        vec![
            (dw::DW_AT_abstract_origin, A::UnitRef(q_param)),
            (dw::DW_AT_const_value, A::Sdata(3)),
        ],
    );
    site(&mut u, inl, at("P") + 0x10, s("C"), false);

    sections_of(&mut u)
}

/// The firmware: every function has CFI (`ra` at CFA - 4), A and P are outermost (`ra`
/// undefined, like vPortTaskWrapper).
fn app() -> Vec<u8> {
    let fdes: Vec<(u32, u32, bool)> = FUNCS
        .iter()
        .map(|f| (at(f), FN, matches!(*f, "A" | "P")))
        .collect();
    AppElf {
        text: vec![0x13; TEXT_LEN as usize],
        debug_frame: riscv_debug_frame(&fdes),
        symbols: FUNCS
            .iter()
            .map(|f| (f.to_string(), at(f), FN, true))
            .collect(),
        extra: dwarf(),
        ..riscv_app_elf()
    }
    .build()
}

/// One task stopped at `pc` with a0 = 5, whose caller's return address is `ra` (saved at
/// CFA - 4 when `pc` is past the 4-byte prologue).
fn core(pc: u32, ra: u32) -> Vec<u8> {
    let mut stack = vec![0u8; 0x1a0];
    let sp = RV_STACK + 0xa0;
    let mut x = [0u32; 32];
    x[0] = pc;
    x[2] = sp;
    x[10] = 5;
    for (n, v) in x.iter().enumerate() {
        poke(&mut stack, RV_STACK, RV_STACK + 4 * n as u32, *v);
    }
    poke(&mut stack, RV_STACK, sp + 16 - 4, ra);
    let notes = note("CORE", 1, &prstatus_riscv(RV_MAIN_TCB, x));
    let loads = vec![
        (
            RV_MAIN_TCB,
            tcb("main", 1, RV_STACK, RV_STACK - 0xe00, RV_STACK + 0x1a0),
        ),
        (RV_STACK, stack),
    ];
    elf_core(
        RISCV,
        &notes,
        &loads,
        &note("ESP_EXTRA_INFO", 677, &le(&[RV_MAIN_TCB, 0])),
    )
}

fn decoded(pc: u32, ra: u32) -> decode::Analysis {
    let sym = Symbolizer::new(app()).unwrap();
    decode::decode(&core(pc, ra), Some(&sym), &Options::default()).unwrap()
}

/// The `#N` lines of the crashed thread's backtrace.
fn frame_lines(a: &decode::Analysis) -> Vec<String> {
    let report = a.report_text();
    let mut lines = report
        .lines()
        .skip_while(|l| !l.contains("CURRENT THREAD STACK"))
        .skip(1);
    let mut out = Vec::new();
    for l in lines.by_ref() {
        if l.starts_with('#') {
            out.push(l.to_string());
        } else if !out.is_empty() {
            break;
        }
    }
    out
}

fn trusts(a: &decode::Analysis) -> Vec<Option<FrameTrust>> {
    a.tasks[0].frames.iter().map(|f| f.found_by).collect()
}

/// Frame 0 in C, 0x10 into its body (past the prologue, on a line-table row start: gdb
/// prints frame 0 without its address there).
fn in_c() -> u32 {
    at("C") + 0x10
}

#[test]
fn an_unambiguous_tail_call_is_shown_as_gdb_shows_it() {
    let a = decoded(in_c(), at("A") + 0x10);
    let c = in_c();
    let b_ret = at("B") + 0x20;
    let a_ret = at("A") + 0x10;
    assert_eq!(
        frame_lines(&a),
        [
            format!("#0  C (n=7) at /src/tail.c:{}", line(c)),
            format!(
                "#1  0x{b_ret:08x} in B (x=5, x@entry=3) at /src/tail.c:{}",
                line(b_ret - 1)
            ),
            format!(
                "#2  0x{a_ret:08x} in A () at /src/tail.c:{}",
                line(a_ret - 1)
            ),
        ],
        "{}",
        a.report_text()
    );
    assert_eq!(
        trusts(&a),
        [
            Some(FrameTrust::Context),
            Some(FrameTrust::TailCall),
            Some(FrameTrust::Cfi)
        ]
    );
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["tasks"][0]["frames"][1]["found_by"], "tailcall");
    assert_eq!(json["tasks"][0]["frames"][1]["pc"], b_ret);
    let back: decode::Analysis = serde_json::from_value(json).unwrap();
    assert_eq!(back, a);
    // The report marks nothing: gdb prints tail-call frames as ordinary frames.
    assert!(!a.report_text().contains("crashbox: frame"));
    assert_eq!(a.tasks[0].stop_reason, decode::StopReason::Outermost);
    // The parse workers' path, the index with the unpacked ELF's DWARF beside it, finds the
    // same frames with the same values.
    let from_elf = Symbolizer::new(app()).unwrap();
    let indexed = Symbolizer::from_index(from_elf.to_index([0; 16]).unwrap(), None)
        .unwrap()
        .with_elf_dwarf(ElfData::Heap(app()))
        .unwrap();
    let i = decode::decode(&core(in_c(), a_ret), Some(&indexed), &Options::default()).unwrap();
    assert_eq!(i, a);
}

#[test]
fn two_different_tail_call_paths_add_no_frame() {
    let a = decoded(in_c(), at("A") + 0x20);
    let a_ret = at("A") + 0x20;
    assert_eq!(
        frame_lines(&a),
        [
            // A's call site calls D, not C: no entry value for n.
            format!("#0  C (n=<optimized out>) at /src/tail.c:{}", line(in_c())),
            format!(
                "#1  0x{a_ret:08x} in A () at /src/tail.c:{}",
                line(a_ret - 1)
            ),
        ],
        "{}",
        a.report_text()
    );
    assert_eq!(
        trusts(&a),
        [Some(FrameTrust::Context), Some(FrameTrust::Cfi)]
    );
}

#[test]
fn paths_that_share_their_last_tail_call_show_only_that_one() {
    // H -> I -> G -> C and H -> K -> G -> C: gdb keeps the common suffix, G.
    let a = decoded(in_c(), at("A") + 0x28);
    let g_ret = at("G") + 0x10;
    let a_ret = at("A") + 0x28;
    assert_eq!(
        frame_lines(&a),
        [
            format!("#0  C (n=<optimized out>) at /src/tail.c:{}", line(in_c())),
            format!(
                "#1  0x{g_ret:08x} in G () at /src/tail.c:{}",
                line(g_ret - 1)
            ),
            format!(
                "#2  0x{a_ret:08x} in A () at /src/tail.c:{}",
                line(a_ret - 1)
            ),
        ],
        "{}",
        a.report_text()
    );
    assert_eq!(
        trusts(&a),
        [
            Some(FrameTrust::Context),
            Some(FrameTrust::TailCall),
            Some(FrameTrust::Cfi)
        ]
    );
}

#[test]
fn a_hostile_web_of_tail_calls_ends_within_the_bounds() {
    // L tail-calls itself from 40 sites (40! orders of them) before B: the search stops at its
    // bounds and, unambiguity not proven, adds nothing.
    let start = Instant::now();
    let a = decoded(in_c(), at("A") + 0x30);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let a_ret = at("A") + 0x30;
    assert_eq!(
        frame_lines(&a),
        [
            format!("#0  C (n=<optimized out>) at /src/tail.c:{}", line(in_c())),
            format!(
                "#1  0x{a_ret:08x} in A () at /src/tail.c:{}",
                line(a_ret - 1)
            ),
        ],
        "{}",
        a.report_text()
    );
}

#[test]
fn a_return_address_without_a_call_site_adds_no_frame() {
    // No call site returns to A+0x18: no chain can be computed.
    let a = decoded(in_c(), at("A") + 0x18);
    assert_eq!(
        trusts(&a),
        [Some(FrameTrust::Context), Some(FrameTrust::Cfi)]
    );
}

#[test]
fn inlined_frames_print_as_gdb_prints_them() {
    // C called from P at a return address inside the inlined Q: `0x… in Q` for the physical
    // frame, then P without an address, at Q's call line.
    let p_ret = at("P") + 0x10;
    let a = decoded(in_c(), p_ret);
    assert_eq!(
        frame_lines(&a),
        [
            format!("#0  C (n=<optimized out>) at /src/tail.c:{}", line(in_c())),
            format!(
                "#1  0x{p_ret:08x} in Q (q=3) at /src/tail.c:{}",
                line(p_ret - 1)
            ),
            "#2  P () at /src/tail.c:500".to_string(),
        ],
        "{}",
        a.report_text()
    );
    let f = &a.tasks[0].frames[1];
    assert_eq!(
        f.found_by,
        Some(FrameTrust::Cfi),
        "a plain call: no tail-call frame"
    );
    assert_eq!(f.function.as_deref(), Some("Q"));
    assert_eq!(f.inlined.len(), 1);
    assert_eq!(f.inlined[0].function.as_deref(), Some("P"));

    // Frame 0 inside the inlined Q, off a row start: gdb shows its address; P still has none.
    let pc = at("P") + 0x12;
    let a = decoded(pc, 0);
    assert_eq!(
        frame_lines(&a),
        [
            format!("#0  0x{pc:08x} in Q (q=3) at /src/tail.c:{}", line(pc & !3)),
            "#1  P () at /src/tail.c:500".to_string(),
        ],
        "{}",
        a.report_text()
    );
}

/// Three compile units with `.debug_aranges`, so that `Symbolizer::new_lazy` parses each unit
/// on first use: A and B in the first (B tail-calls X, declared there), C in the second, X in
/// the third (X tail-calls C, declared there); DWARF 4 with GNU call sites. No frame is in
/// X's unit: the search meets it only through B's tail-call site.
fn three_units() -> Vec<(String, Vec<u8>)> {
    use gimli::write::{Dwarf, LineProgram, Unit};
    let encoding = gimli::Encoding {
        address_size: 4,
        format: gimli::Format::Dwarf32,
        version: 4,
    };
    let x_at = at("D");
    let mut d = Dwarf::new();
    let mut ranges: Vec<Vec<(u32, u32)>> = Vec::new();
    let mut unit = |d: &mut Dwarf, file: &str, lo: u32, len: u32| {
        let id = d.units.add(Unit::new(encoding, LineProgram::none()));
        let u = d.units.get_mut(id);
        let root = u.root();
        let r = u.get_mut(root);
        r.set(dw::DW_AT_name, A::String(file.as_bytes().to_vec()));
        r.set(dw::DW_AT_low_pc, addr(lo));
        r.set(dw::DW_AT_high_pc, A::Udata(u64::from(len)));
        ranges.push(vec![(lo, len)]);
        id
    };
    let sub = |u: &mut gimli::write::Unit, n: &str, lo: u32| {
        let root = u.root();
        let id = u.add(root, dw::DW_TAG_subprogram);
        let e = u.get_mut(id);
        e.set(dw::DW_AT_name, A::String(n.as_bytes().to_vec()));
        e.set(dw::DW_AT_low_pc, addr(lo));
        e.set(dw::DW_AT_high_pc, A::Udata(u64::from(FN)));
        id
    };
    let decl = |u: &mut gimli::write::Unit, n: &str| {
        let root = u.root();
        let id = u.add(root, dw::DW_TAG_subprogram);
        let e = u.get_mut(id);
        e.set(dw::DW_AT_name, A::String(n.as_bytes().to_vec()));
        e.set(dw::DW_AT_external, A::Flag(true));
        e.set(dw::DW_AT_declaration, A::Flag(true));
        id
    };
    let gnu_site = |u: &mut gimli::write::Unit, parent, ret: u32, target, tail: bool| {
        let id = u.add(parent, dw::DW_TAG_GNU_call_site);
        let e = u.get_mut(id);
        e.set(dw::DW_AT_low_pc, addr(ret));
        e.set(dw::DW_AT_abstract_origin, A::UnitRef(target));
        if tail {
            e.set(dw::DW_AT_GNU_tail_call, A::Flag(true));
        }
    };
    let one = unit(&mut d, "one.c", at("A"), 2 * FN);
    {
        let u = d.units.get_mut(one);
        let a = sub(u, "A", at("A"));
        let b = sub(u, "B", at("B"));
        let x = decl(u, "X");
        gnu_site(u, a, at("A") + 0x10, b, false);
        gnu_site(u, b, at("B") + 0x20, x, true);
    }
    let two = unit(&mut d, "two.c", at("C"), FN);
    sub(d.units.get_mut(two), "C", at("C"));
    let three = unit(&mut d, "three.c", x_at, FN);
    {
        let u = d.units.get_mut(three);
        let x = sub(u, "X", x_at);
        let c = decl(u, "C");
        gnu_site(u, x, x_at + 0x10, c, true);
    }
    let mut sections = Sections::new(EndianVec::new(gimli::LittleEndian));
    d.write(&mut sections).unwrap();
    let mut out = named(&sections);
    // `.debug_aranges`: one set per unit, at the unit's offset in `.debug_info`.
    let info = out
        .iter()
        .find(|(n, _)| n == ".debug_info")
        .map(|(_, b)| b.clone())
        .unwrap();
    let mut offsets = Vec::new();
    let mut headers = gimli::DebugInfo::new(&info, gimli::LittleEndian).units();
    while let Some(h) = headers.next().unwrap() {
        offsets.push(h.offset().0 as u32);
    }
    assert_eq!(offsets.len(), 3);
    let mut aranges = Vec::new();
    for (off, set) in offsets.iter().zip(&ranges) {
        let len: u32 = 12 + 8 * (set.len() as u32 + 1);
        aranges.extend(len.to_le_bytes());
        aranges.extend(2u16.to_le_bytes());
        aranges.extend(off.to_le_bytes());
        aranges.extend([4u8, 0, 0, 0, 0, 0]);
        for (lo, n) in set {
            aranges.extend(le(&[*lo, *n]));
        }
        aranges.extend(le(&[0, 0]));
    }
    out.push((".debug_aranges".into(), aranges));
    out
}

#[test]
fn a_tail_call_through_a_unit_not_loaded_yet_is_found_when_units_load_lazily() {
    let x_at = at("D");
    let elf = AppElf {
        text: vec![0x13; TEXT_LEN as usize],
        debug_frame: riscv_debug_frame(&[
            (at("A"), FN, true),
            (at("B"), FN, false),
            (at("C"), FN, false),
            (x_at, FN, false),
        ]),
        symbols: vec![
            ("A".into(), at("A"), FN, true),
            ("B".into(), at("B"), FN, true),
            ("C".into(), at("C"), FN, true),
            ("X".into(), x_at, FN, true),
        ],
        extra: three_units(),
        ..riscv_app_elf()
    }
    .build();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &elf).unwrap();
    let lazy = Symbolizer::new_lazy(decode::map_elf(file.path()).unwrap()).unwrap();
    let whole = Symbolizer::new(elf).unwrap();
    let want = [
        format!("#0  0x{:08x} in C ()", in_c()),
        format!("#1  0x{:08x} in X ()", x_at + 0x10),
        format!("#2  0x{:08x} in B ()", at("B") + 0x20),
        format!("#3  0x{:08x} in A ()", at("A") + 0x10),
    ];
    for sym in [&lazy, &whole] {
        let a = decode::decode(
            &core(in_c(), at("A") + 0x10),
            Some(sym),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(frame_lines(&a), want, "{}", a.report_text());
    }
}
