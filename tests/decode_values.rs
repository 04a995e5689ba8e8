//! Frame arguments and locals on a synthetic RISC-V firmware with hand-written DWARF (built
//! with `gimli::write`): every location kind the evaluator handles (register, frame base over
//! the CFA, memory through the ELF, stack value, constant, location list, no location,
//! unreadable memory), entry values through the callers' call sites (`name=name@entry=`, both
//! values, a current value that is itself an entry value, and an outermost frame without a
//! caller), and gdb's forms for ints, chars, bools, enums, pointers to strings, functions and
//! objects, and structs (`...` on the frame line, one level in the JSON).

mod decode_support;

use crashbox::decode::{self, Options, Symbolizer};
use decode_support::dwarf::{die, expr, name, sections_of};
use decode_support::*;
use gimli::write::{Address, AttributeValue as A, DwarfUnit, Expression, Location, LocationList};
use gimli::{Register, constants as dw};

const TAG_ADDR: u32 = 0x3fc8_a5fc;

/// The DWARF sections of the firmware: f0 (0x42000000), f1 (+0x40), f2 (+0x80).
fn dwarf() -> Vec<(String, Vec<u8>)> {
    let encoding = gimli::Encoding {
        address_size: 4,
        format: gimli::Format::Dwarf32,
        version: 4,
    };
    let mut u = DwarfUnit::new(encoding);
    let root = u.unit.root();
    u.unit
        .get_mut(root)
        .set(dw::DW_AT_name, A::String(b"values.c".to_vec()));
    u.unit.get_mut(root).set(
        dw::DW_AT_low_pc,
        A::Address(Address::Constant(u64::from(RV_TEXT))),
    );
    u.unit.get_mut(root).set(dw::DW_AT_high_pc, A::Udata(0xc0));
    let base = |u: &mut DwarfUnit, n: &str, size: u8, enc: gimli::DwAte| {
        die(
            u,
            root,
            dw::DW_TAG_base_type,
            vec![
                name(n),
                (dw::DW_AT_byte_size, A::Data1(size)),
                (dw::DW_AT_encoding, A::Encoding(enc)),
            ],
        )
    };
    let int = base(&mut u, "int", 4, dw::DW_ATE_signed);
    let chr = base(&mut u, "char", 1, dw::DW_ATE_unsigned_char);
    let boolean = base(&mut u, "_Bool", 1, dw::DW_ATE_boolean);
    let cchr = die(
        &mut u,
        root,
        dw::DW_TAG_const_type,
        vec![(dw::DW_AT_type, A::UnitRef(chr))],
    );
    let str_ptr = die(
        &mut u,
        root,
        dw::DW_TAG_pointer_type,
        vec![
            (dw::DW_AT_byte_size, A::Data1(4)),
            (dw::DW_AT_type, A::UnitRef(cchr)),
        ],
    );
    let func = die(
        &mut u,
        root,
        dw::DW_TAG_subroutine_type,
        vec![(dw::DW_AT_prototyped, A::Flag(true))],
    );
    die(
        &mut u,
        func,
        dw::DW_TAG_formal_parameter,
        vec![(dw::DW_AT_type, A::UnitRef(int))],
    );
    let func_ptr = die(
        &mut u,
        root,
        dw::DW_TAG_pointer_type,
        vec![
            (dw::DW_AT_byte_size, A::Data1(4)),
            (dw::DW_AT_type, A::UnitRef(func)),
        ],
    );
    let handler = die(
        &mut u,
        root,
        dw::DW_TAG_typedef,
        vec![name("handler_t"), (dw::DW_AT_type, A::UnitRef(func_ptr))],
    );
    let s = die(
        &mut u,
        root,
        dw::DW_TAG_structure_type,
        vec![name("pair"), (dw::DW_AT_byte_size, A::Data1(8))],
    );
    die(
        &mut u,
        s,
        dw::DW_TAG_member,
        vec![
            name("a"),
            (dw::DW_AT_type, A::UnitRef(int)),
            (dw::DW_AT_data_member_location, A::Udata(0)),
        ],
    );
    die(
        &mut u,
        s,
        dw::DW_TAG_member,
        vec![
            name("b"),
            (dw::DW_AT_type, A::UnitRef(int)),
            (dw::DW_AT_data_member_location, A::Udata(4)),
        ],
    );
    let e = die(
        &mut u,
        root,
        dw::DW_TAG_enumeration_type,
        vec![
            name("color"),
            (dw::DW_AT_byte_size, A::Data1(4)),
            (dw::DW_AT_type, A::UnitRef(int)),
        ],
    );
    die(
        &mut u,
        e,
        dw::DW_TAG_enumerator,
        vec![name("RED"), (dw::DW_AT_const_value, A::Sdata(0))],
    );
    die(
        &mut u,
        e,
        dw::DW_TAG_enumerator,
        vec![name("GREEN"), (dw::DW_AT_const_value, A::Sdata(1))],
    );

    let sub = |u: &mut DwarfUnit, n: &str, at: u32| {
        die(
            u,
            root,
            dw::DW_TAG_subprogram,
            vec![
                name(n),
                (
                    dw::DW_AT_low_pc,
                    A::Address(Address::Constant(u64::from(at))),
                ),
                (dw::DW_AT_high_pc, A::Udata(0x40)),
                (
                    dw::DW_AT_frame_base,
                    expr(|e| e.op(dw::DW_OP_call_frame_cfa)),
                ),
            ],
        )
    };
    let param = |u: &mut DwarfUnit, parent, n: &str, ty, loc: Option<A>| {
        let mut attrs = vec![name(n), (dw::DW_AT_type, A::UnitRef(ty))];
        if let Some(l) = loc {
            attrs.push((dw::DW_AT_location, l));
        }
        die(u, parent, dw::DW_TAG_formal_parameter, attrs)
    };
    let f0 = sub(&mut u, "f0", RV_TEXT);
    param(&mut u, f0, "n", int, Some(expr(|e| e.op_reg(Register(10)))));
    param(&mut u, f0, "m", int, Some(expr(|e| e.op_reg(Register(13)))));
    param(&mut u, f0, "c", chr, Some(expr(|e| e.op_fbreg(-20))));
    param(&mut u, f0, "s", s, Some(expr(|e| e.op_fbreg(-16))));
    param(
        &mut u,
        f0,
        "msg",
        str_ptr,
        Some(expr(|e| e.op_reg(Register(11)))),
    );
    param(
        &mut u,
        f0,
        "fn",
        handler,
        Some(expr(|e| e.op_reg(Register(12)))),
    );
    param(
        &mut u,
        f0,
        "col",
        e,
        Some(expr(|e| {
            e.op(dw::DW_OP_lit1);
            e.op(dw::DW_OP_stack_value);
        })),
    );
    param(&mut u, f0, "gone", int, None);
    let flag = param(&mut u, f0, "flag", boolean, None);
    u.unit.get_mut(flag).set(dw::DW_AT_const_value, A::Udata(1));
    param(
        &mut u,
        f0,
        "bad",
        int,
        Some(expr(|e| e.op_addr(Address::Constant(0x10)))),
    );
    let mut e7 = Expression::new();
    e7.op(dw::DW_OP_lit7);
    e7.op(dw::DW_OP_stack_value);
    let mut r13 = Expression::new();
    r13.op_reg(Register(13));
    let list = u.unit.locations.add(LocationList(vec![
        Location::OffsetPair {
            begin: 0,
            end: 8,
            data: r13,
        },
        Location::OffsetPair {
            begin: 8,
            end: 0x40,
            data: e7,
        },
    ]));
    die(
        &mut u,
        f0,
        dw::DW_TAG_variable,
        vec![
            name("i"),
            (dw::DW_AT_type, A::UnitRef(int)),
            (dw::DW_AT_location, A::LocationListRef(list)),
        ],
    );

    let f1 = sub(&mut u, "f1", RV_TEXT + 0x40);
    param(
        &mut u,
        f1,
        "x",
        int,
        Some(expr(|e| {
            let mut inner = Expression::new();
            inner.op_reg(Register(10));
            e.op_entry_value(inner);
            e.op(dw::DW_OP_stack_value);
        })),
    );
    let site = die(
        &mut u,
        f1,
        dw::DW_TAG_GNU_call_site,
        vec![
            (
                dw::DW_AT_low_pc,
                A::Address(Address::Constant(u64::from(RV_TEXT + 0x50))),
            ),
            (dw::DW_AT_abstract_origin, A::UnitRef(f0)),
        ],
    );
    die(
        &mut u,
        site,
        dw::DW_TAG_GNU_call_site_parameter,
        vec![
            (dw::DW_AT_location, expr(|e| e.op_reg(Register(10)))),
            (
                dw::DW_AT_GNU_call_site_value,
                expr(|e| e.op(dw::DW_OP_lit5)),
            ),
        ],
    );
    die(
        &mut u,
        site,
        dw::DW_TAG_GNU_call_site_parameter,
        vec![
            (dw::DW_AT_location, expr(|e| e.op_reg(Register(13)))),
            (
                dw::DW_AT_GNU_call_site_value,
                expr(|e| e.op(dw::DW_OP_lit3)),
            ),
        ],
    );

    let f2 = sub(&mut u, "f2", RV_TEXT + 0x80);
    param(
        &mut u,
        f2,
        "p",
        int,
        Some(expr(|e| {
            let mut inner = Expression::new();
            inner.op_reg(Register(10));
            e.op_entry_value(inner);
            e.op(dw::DW_OP_stack_value);
        })),
    );
    // A hostile expression: jumps to itself forever.
    param(
        &mut u,
        f2,
        "spin",
        int,
        Some(expr(|e| {
            e.op(dw::DW_OP_nop);
            let i = e.op_skip();
            e.set_target(i, 0);
        })),
    );
    let site = die(
        &mut u,
        f2,
        dw::DW_TAG_GNU_call_site,
        vec![
            (
                dw::DW_AT_low_pc,
                A::Address(Address::Constant(u64::from(RV_TEXT + 0x90))),
            ),
            (dw::DW_AT_abstract_origin, A::UnitRef(f1)),
        ],
    );
    die(
        &mut u,
        site,
        dw::DW_TAG_GNU_call_site_parameter,
        vec![
            (dw::DW_AT_location, expr(|e| e.op_reg(Register(10)))),
            (dw::DW_AT_GNU_call_site_value, expr(|e| e.op_constu(0x1234))),
        ],
    );

    sections_of(&mut u)
}

fn app() -> Vec<u8> {
    let mut data = b"sensor\0".to_vec();
    data.push(0);
    AppElf {
        data,
        extra: dwarf(),
        ..riscv_app_elf()
    }
    .build()
}

/// One task: f0 <- f1 <- f2, registers a0 = 5, a1 = TAG, a2 = f1, a3 = 9.
fn core() -> Vec<u8> {
    let mut stack = vec![0u8; 0x1a0];
    let sp = RV_STACK + 0xa0;
    let mut x = [0u32; 32];
    x[0] = RV_TEXT + 0x10;
    x[2] = sp;
    x[10] = 5;
    x[11] = TAG_ADDR;
    x[12] = RV_TEXT + 0x40;
    x[13] = 9;
    for (n, v) in x.iter().enumerate() {
        poke(&mut stack, RV_STACK, RV_STACK + 4 * n as u32, *v);
    }
    let cfa = sp + 16;
    poke(&mut stack, RV_STACK, cfa - 20, 97); // c = 'a'
    poke(&mut stack, RV_STACK, cfa - 16, 1); // s.a
    poke(&mut stack, RV_STACK, cfa - 12, 2); // s.b
    poke(&mut stack, RV_STACK, cfa - 4, RV_TEXT + 0x50); // f0 saved ra -> f1
    poke(&mut stack, RV_STACK, cfa + 16 - 4, RV_TEXT + 0x90); // f1 saved ra -> f2
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

fn decoded() -> decode::Analysis {
    let sym = Symbolizer::new(app()).unwrap();
    decode::decode(&core(), Some(&sym), &Options::default()).unwrap()
}

#[test]
fn frame_lines_print_arguments_as_gdb() {
    let a = decoded();
    let report = a.report_text();
    let lines: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with('#'))
        .take(3)
        .collect();
    assert_eq!(
        lines,
        [
            "#0  0x42000010 in f0 (n=n@entry=5, m=9, m@entry=3, c=97 'a', s=..., msg=0x3fc8a5fc <TAG> \"sensor\", fn=0x42000040 <f1>, col=GREEN, gone=<optimized out>, flag=true, bad=<error reading variable: Cannot access memory at address 0x10>)",
            "#1  0x42000050 in f1 (x=4660)",
            "#2  0x42000090 in f2 (p=<optimized out>, spin=<error reading variable: DWARF expression error: exceeded maximum expression iterations>)",
        ],
        "{report}"
    );
}

#[test]
fn analysis_has_values_types_entry_values_members_and_locals() {
    let a = decoded();
    let f0 = &a.tasks[0].frames[0];
    let arg = |n: &str| f0.args.iter().find(|v| v.name == n).unwrap();
    assert_eq!(arg("msg").type_name.as_deref(), Some("const char *"));
    assert_eq!(arg("fn").type_name.as_deref(), Some("handler_t"));
    assert_eq!(arg("s").type_name.as_deref(), Some("struct pair"));
    assert_eq!(arg("s").value, "{a = 1, b = 2}");
    let members: Vec<(&str, &str)> = arg("s")
        .members
        .iter()
        .map(|m| (m.name.as_str(), m.value.as_str()))
        .collect();
    assert_eq!(members, [("a", "1"), ("b", "2")]);
    assert_eq!(arg("m").entry_value.as_deref(), Some("3"));
    assert_eq!(
        arg("n").entry_value,
        None,
        "equal to the value: not repeated"
    );
    let locals: Vec<(&str, &str)> = f0
        .locals
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        locals,
        [("i", "7")],
        "the location-list entry covering the PC"
    );
    assert!(f0.locals[0].frame_text.is_empty());
    // The JSON keeps the new fields and reads back.
    let json = serde_json::to_string(&a).unwrap();
    let back: decode::Analysis = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

#[test]
fn a_passed_deadline_is_an_error_not_a_hang() {
    let sym = Symbolizer::new(app()).unwrap();
    let opts = Options {
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_millis(0)),
        ..Options::default()
    };
    // The deadline has passed by the time the decode starts: a decode error, no hang.
    assert!(decode::decode(&core(), Some(&sym), &opts).is_err());
}
