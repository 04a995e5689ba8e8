//! Builders for synthetic ESP-IDF core dumps and firmware ELFs, shared by the `decode_*`
//! tests. Everything is built from scratch here: no corpus needed.
#![allow(dead_code)]

pub mod dwarf;

use base64::Engine;
use sha2::{Digest, Sha256};

pub const XTENSA: u16 = 0x5E;
pub const RISCV: u16 = 0xF3;

pub fn le(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

/// One ELF note; `namesz` includes the NUL and padding, like the device writes it.
pub fn note(name: &str, ntype: u32, desc: &[u8]) -> Vec<u8> {
    let mut n = name.as_bytes().to_vec();
    n.push(0);
    pad4(&mut n);
    let mut out = le(&[n.len() as u32, desc.len() as u32, ntype]);
    out.extend_from_slice(&n);
    out.extend_from_slice(desc);
    pad4(&mut out);
    out
}

/// Xtensa prstatus: 72-byte prefix (pid = TCB at 24) + 129 words (pc, ps, ..., ar0 at 64).
pub fn prstatus_xtensa(tcb: u32, pc: u32, ps: u32, a: [u32; 16]) -> Vec<u8> {
    let mut d = vec![0u8; 72 + 129 * 4];
    d[24..28].copy_from_slice(&tcb.to_le_bytes());
    let mut put = |i: usize, v: u32| d[72 + 4 * i..76 + 4 * i].copy_from_slice(&v.to_le_bytes());
    put(0, pc);
    put(1, ps);
    for (n, v) in a.iter().enumerate() {
        put(64 + n, *v);
    }
    d
}

/// RISC-V prstatus: 72-byte prefix + 32 words (pc, x1..x31) + 4 zero bytes.
pub fn prstatus_riscv(tcb: u32, x: [u32; 32]) -> Vec<u8> {
    let mut d = vec![0u8; 204];
    d[24..28].copy_from_slice(&tcb.to_le_bytes());
    for (n, v) in x.iter().enumerate() {
        d[72 + 4 * n..76 + 4 * n].copy_from_slice(&v.to_le_bytes());
    }
    d
}

/// A 340-byte TCB with the ESP-IDF v5 layout (name at 52, pxEndOfStack 72).
pub fn tcb(name: &str, prio: u32, top: u32, stack: u32, end: u32) -> Vec<u8> {
    let mut t = vec![0u8; 340];
    t[0..4].copy_from_slice(&top.to_le_bytes());
    t[44..48].copy_from_slice(&prio.to_le_bytes());
    t[48..52].copy_from_slice(&stack.to_le_bytes());
    t[52..52 + name.len()].copy_from_slice(name.as_bytes());
    t[72..76].copy_from_slice(&end.to_le_bytes());
    t[76..80].copy_from_slice(&prio.to_le_bytes());
    t
}

/// An ELF core: PT_NOTE (CORE notes), PT_LOADs, PT_NOTE (info notes).
pub fn elf_core(
    machine: u16,
    core_notes: &[u8],
    loads: &[(u32, Vec<u8>)],
    info_notes: &[u8],
) -> Vec<u8> {
    let phnum = loads.len() + 2;
    let mut data_off = 52 + 32 * phnum;
    let mut ph = Vec::new();
    let mut data = Vec::new();
    let mut add = |ph: &mut Vec<u8>, ptype: u32, vaddr: u32, bytes: &[u8]| {
        ph.extend(le(&[
            ptype,
            data_off as u32,
            vaddr,
            vaddr,
            bytes.len() as u32,
            bytes.len() as u32,
            6,
            0,
        ]));
        data.extend_from_slice(bytes);
        data_off += bytes.len();
    };
    add(&mut ph, 4, 0, core_notes);
    for (addr, bytes) in loads {
        add(&mut ph, 1, *addr, bytes);
    }
    add(&mut ph, 4, 0, info_notes);
    let mut out = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    out.extend(4u16.to_le_bytes());
    out.extend(machine.to_le_bytes());
    out.extend(le(&[1, 0, 52, 0, 0]));
    out.extend(52u16.to_le_bytes());
    out.extend(32u16.to_le_bytes());
    out.extend((phnum as u16).to_le_bytes());
    out.extend(40u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    assert_eq!(out.len(), 52);
    out.extend(ph);
    out.extend(data);
    out
}

/// Length of the ESP-IDF core dump header for each format version.
pub fn header_len(version: u32) -> usize {
    match version & 0xFFFF {
        0x0001 => 16,
        0x0002 | 0x0100 | 0x0101 => 20,
        0x0003 | 0x0102 | 0x0103 => 24,
        0x0104 => 12,
        _ => panic!("unknown version"),
    }
}

pub fn is_sha(version: u32) -> bool {
    matches!(version & 0xFFFF, 0x0101 | 0x0103 | 0x0104)
}

/// A partition image: header + body (+ zero padding to 32 when `flash`) + checksum.
pub fn wrap(
    version: u32,
    body: &[u8],
    task_num: u32,
    tcb_sz: u32,
    segs: u32,
    chip_rev: u32,
    flash: bool,
) -> Vec<u8> {
    let hl = header_len(version);
    let cs = if is_sha(version) { 32 } else { 4 };
    let mut len = hl + body.len();
    let padding = if flash {
        (32 - (len + cs) % 32) % 32
    } else {
        0
    };
    len += padding + cs;
    let mut out = le(&[len as u32, version]);
    match hl {
        12 => out.extend(le(&[chip_rev])),
        16 => out.extend(le(&[task_num, tcb_sz])),
        20 => out.extend(le(&[task_num, tcb_sz, segs])),
        24 => out.extend(le(&[task_num, tcb_sz, segs, chip_rev])),
        _ => unreachable!(),
    }
    out.extend_from_slice(body);
    out.extend(std::iter::repeat_n(0u8, padding));
    if cs == 32 {
        let d = Sha256::digest(&out);
        out.extend_from_slice(&d);
    } else {
        let c = crc32fast::hash(&out);
        out.extend(c.to_le_bytes());
    }
    out
}

/// UART text: the header as its own line, then 48-byte chunks, each base64'd separately.
pub fn uart_text(image: &[u8], header: usize, markers: bool, crlf: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let e = base64::engine::general_purpose::STANDARD;
    let mut s = String::new();
    if markers {
        s.push_str("I (1234) esp_core_dump_uart: Core dump started (further output muted)");
        s.push_str(eol);
        s.push_str("================= CORE DUMP START =================");
        s.push_str(eol);
    }
    let (h, rest) = image.split_at(header.min(image.len()));
    s.push_str(&e.encode(h));
    s.push_str(eol);
    for chunk in rest.chunks(48) {
        s.push_str(&e.encode(chunk));
        s.push_str(eol);
    }
    if markers {
        s.push_str("================= CORE DUMP END =================");
        s.push_str(eol);
        s.push_str("I (2345) esp_core_dump_uart: Core dump printed");
        s.push_str(eol);
    }
    s
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A firmware ELF with one executable section, an optional `.debug_frame`, and a symtab.
pub struct AppElf {
    pub machine: u16,
    pub text_addr: u32,
    pub text: Vec<u8>,
    pub debug_frame: Vec<u8>,
    /// (name, addr, size, is_func)
    pub symbols: Vec<(String, u32, u32, bool)>,
    /// A data section (PROGBITS, WA) and its address.
    pub data_addr: u32,
    pub data: Vec<u8>,
    /// Further non-allocated sections (`.debug_info`, ...), appended after `.shstrtab`.
    pub extra: Vec<(String, Vec<u8>)>,
}

impl AppElf {
    pub fn build(&self) -> Vec<u8> {
        let mut shstr = vec![0u8];
        let mut name_of = |n: &str| {
            let o = shstr.len() as u32;
            shstr.extend_from_slice(n.as_bytes());
            shstr.push(0);
            o
        };
        let n_text = name_of(".iram0.text");
        let n_data = name_of(".dram0.data");
        let n_df = name_of(".debug_frame");
        let n_sym = name_of(".symtab");
        let n_str = name_of(".strtab");
        let n_shs = name_of(".shstrtab");
        let n_extra: Vec<u32> = self.extra.iter().map(|(n, _)| name_of(n)).collect();
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 16];
        for (name, addr, size, is_func) in &self.symbols {
            let o = strtab.len() as u32;
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
            symtab.extend(le(&[o, *addr, *size]));
            symtab.push(0x10 | if *is_func { 2 } else { 1 });
            symtab.push(0);
            let shndx: u16 = if *is_func { 1 } else { 2 };
            symtab.extend(shndx.to_le_bytes());
        }
        let mut body = Vec::new();
        let mut off = 52usize;
        let mut place = |body: &mut Vec<u8>, bytes: &[u8]| {
            let o = off;
            body.extend_from_slice(bytes);
            off += bytes.len();
            while !off.is_multiple_of(4) {
                body.push(0);
                off += 1;
            }
            o as u32
        };
        let o_text = place(&mut body, &self.text);
        let o_data = place(&mut body, &self.data);
        let o_df = place(&mut body, &self.debug_frame);
        let o_sym = place(&mut body, &symtab);
        let o_str = place(&mut body, &strtab);
        let o_shs = place(&mut body, &shstr);
        let o_extra: Vec<u32> = self
            .extra
            .iter()
            .map(|(_, b)| place(&mut body, b))
            .collect();
        let shoff = off as u32;
        let mut sh = vec![0u8; 40];
        let mut sec = |name, ty, flags, addr, o, size, link, info, align, entsize| {
            sh.extend(le(&[
                name, ty, flags, addr, o, size, link, info, align, entsize,
            ]));
        };
        sec(
            n_text,
            1,
            6,
            self.text_addr,
            o_text,
            self.text.len() as u32,
            0,
            0,
            4,
            0,
        );
        sec(
            n_data,
            1,
            3,
            self.data_addr,
            o_data,
            self.data.len() as u32,
            0,
            0,
            4,
            0,
        );
        sec(
            n_df,
            1,
            0,
            0,
            o_df,
            self.debug_frame.len() as u32,
            0,
            0,
            4,
            0,
        );
        sec(n_sym, 2, 0, 0, o_sym, symtab.len() as u32, 5, 1, 4, 16);
        sec(n_str, 3, 0, 0, o_str, strtab.len() as u32, 0, 0, 1, 0);
        sec(n_shs, 3, 0, 0, o_shs, shstr.len() as u32, 0, 0, 1, 0);
        for ((name, o), (_, b)) in n_extra.iter().zip(&o_extra).zip(&self.extra) {
            sec(*name, 1, 0, 0, *o, b.len() as u32, 0, 0, 1, 0);
        }
        let mut out = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        out.extend(2u16.to_le_bytes());
        out.extend(self.machine.to_le_bytes());
        out.extend(le(&[1, self.text_addr, 0, shoff, 0]));
        out.extend(52u16.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(40u16.to_le_bytes());
        out.extend((7 + self.extra.len() as u16).to_le_bytes());
        out.extend(6u16.to_le_bytes());
        out.extend(body);
        out.extend(sh);
        out
    }
}

/// `.debug_frame` for RISC-V: CIE (code 1, data -4, ra = x1, CFA = x2 + 0) and one FDE per
/// `(start, len, ra_undefined)`: `def_cfa_offset 16` then `ra at cfa-4` (or `undefined ra`)
/// after 4 bytes of prologue.
pub fn riscv_debug_frame(fdes: &[(u32, u32, bool)]) -> Vec<u8> {
    use gimli::write::{
        Address, CallFrameInstruction as I, CommonInformationEntry, DebugFrame, EndianVec,
        FrameDescriptionEntry, FrameTable,
    };
    let encoding = gimli::Encoding {
        address_size: 4,
        format: gimli::Format::Dwarf32,
        version: 3,
    };
    let mut cie = CommonInformationEntry::new(encoding, 1, -4, gimli::Register(1));
    cie.add_instruction(I::Cfa(gimli::Register(2), 0));
    let mut table = FrameTable::default();
    let id = table.add_cie(cie);
    for &(start, len, undef) in fdes {
        let mut fde = FrameDescriptionEntry::new(Address::Constant(u64::from(start)), len);
        fde.add_instruction(4, I::CfaOffset(16));
        if undef {
            fde.add_instruction(4, I::Undefined(gimli::Register(1)));
        } else {
            fde.add_instruction(4, I::Offset(gimli::Register(1), -4));
        }
        table.add_fde(id, fde);
    }
    let mut df = DebugFrame(EndianVec::new(gimli::LittleEndian));
    table.write_debug_frame(&mut df).unwrap();
    df.0.into_vec()
}

/// Sets the u32 at `addr` inside a region that starts at `base`.
pub fn poke(region: &mut [u8], base: u32, addr: u32, v: u32) {
    let o = (addr - base) as usize;
    region[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

// ---------------------------------------------------------------------------------------
// Ready-made scenarios.

pub const XT_TEXT: u32 = 0x400d_0000;
pub const XT_MAIN_TCB: u32 = 0x3ffb_0000;
pub const XT_IDLE_TCB: u32 = 0x3ffb_0200;
pub const XT_STACK: u32 = 0x3ffb_1e00;
pub const XT_IDLE_STACK: u32 = 0x3ffb_3000;

/// Xtensa firmware: func_a/b/c at 0x400d0000/0100/0200, an ENTRY (0x36) at 0x400d0300
/// (`task_wrapper`), a data object `g_obj` at 0x3ffb8000.
pub fn xtensa_app() -> Vec<u8> {
    let mut text = vec![0u8; 0x400];
    text[0x300] = 0x36;
    text[0x301] = 0x41;
    AppElf {
        machine: XTENSA,
        text_addr: XT_TEXT,
        text,
        debug_frame: Vec::new(),
        symbols: vec![
            ("func_a".into(), XT_TEXT, 0x100, true),
            ("func_b".into(), XT_TEXT + 0x100, 0x100, true),
            ("func_c".into(), XT_TEXT + 0x200, 0x100, true),
            ("task_wrapper".into(), XT_TEXT + 0x300, 0x100, true),
            ("g_obj".into(), 0x3ffb_8000, 16, false),
        ],
        data_addr: 0x3ffb_8000,
        data: vec![0; 16],
        extra: Vec::new(),
    }
    .build()
}

/// Xtensa ELF core body: "main" crashed in func_a (called by func_b, called by func_c),
/// "IDLE" never ran (PC on ENTRY of task_wrapper).
pub fn xtensa_core(app_sha_prefix: &str) -> Vec<u8> {
    let mut stack = vec![0u8; 0x200];
    let sp0 = XT_STACK + 0x40;
    poke(&mut stack, XT_STACK, sp0 - 16, 0x800d_0208); // caller's a0: into func_c
    poke(&mut stack, XT_STACK, sp0 - 12, XT_STACK + 0x80); // caller's sp
    poke(&mut stack, XT_STACK, XT_STACK + 0x80 - 16, 0); // func_c's caller: none
    poke(&mut stack, XT_STACK, XT_STACK + 0x80 - 12, XT_STACK + 0xc0);
    let mut a = [0u32; 16];
    a[0] = 0x800d_0108; // return into func_b+8 (CALL8)
    a[1] = sp0;
    a[2] = 0x1234;
    let mut core = note(
        "CORE",
        1,
        &prstatus_xtensa(XT_MAIN_TCB, XT_TEXT + 0x10, 0x60820, a),
    );
    let mut ia = [0u32; 16];
    ia[1] = XT_IDLE_STACK + 0x40;
    core.extend(note(
        "CORE",
        1,
        &prstatus_xtensa(XT_IDLE_TCB, XT_TEXT + 0x300, 0x50020, ia),
    ));
    let loads = vec![
        (
            XT_MAIN_TCB,
            tcb("main", 1, XT_STACK, XT_STACK - 0xe00, XT_STACK + 0x200),
        ),
        (XT_STACK, stack),
        (
            XT_IDLE_TCB,
            tcb(
                "IDLE",
                0,
                XT_IDLE_STACK,
                XT_IDLE_STACK - 0x400,
                XT_IDLE_STACK + 0x80,
            ),
        ),
        (XT_IDLE_STACK, vec![0u8; 0x80]),
    ];
    let mut info = Vec::new();
    let mut sha = [0u8; 68];
    sha[..app_sha_prefix.len()].copy_from_slice(app_sha_prefix.as_bytes());
    let mut desc = le(&[0x0000_0102]);
    desc.extend_from_slice(&sha);
    info.extend(note("ESP_CORE_DUMP_INFO", 8266, &desc));
    let mut extra = vec![XT_MAIN_TCB, 232, 29, 238, 0];
    for n in 2..=6 {
        extra.extend([192 + n, 0]);
    }
    for n in 1..=6 {
        extra.extend([176 + n, if n == 1 { XT_TEXT + 0x13 } else { 0 }]);
    }
    while extra.len() < 37 {
        extra.push(0);
    }
    extra.push(0); // isr_context
    info.extend(note("ESP_EXTRA_INFO", 677, &le(&extra)));
    info.extend(note(
        "ESP_PANIC_DETAILS",
        679,
        b"abort() was called at PC 0x400d0013 on core 0",
    ));
    elf_core(XTENSA, &core, &loads, &info)
}

pub const RV_TEXT: u32 = 0x4200_0000;
pub const RV_MAIN_TCB: u32 = 0x3fc8_0000;
pub const RV_IDLE_TCB: u32 = 0x3fc8_0200;
pub const RV_TIMER_TCB: u32 = 0x3fc8_0400;
pub const RV_STACK: u32 = 0x3fc8_0e60;
pub const RV_IDLE_STACK: u32 = 0x3fc8_2000;
pub const RV_TIMER_STACK: u32 = 0x3fc8_3000;

/// RISC-V firmware: f0/f1/f2 at 0x42000000/40/80 with `.debug_frame`; f2 marks ra undefined
/// after its prologue (like vPortTaskWrapper); `TAG` object at 0x3fc8a5fc.
pub fn riscv_app() -> Vec<u8> {
    riscv_app_elf().build()
}

/// The parts of [`riscv_app`], for tests that add data or DWARF to it.
pub fn riscv_app_elf() -> AppElf {
    AppElf {
        machine: RISCV,
        text_addr: RV_TEXT,
        text: vec![0x13; 0xc0],
        debug_frame: riscv_debug_frame(&[
            (RV_TEXT, 0x40, false),
            (RV_TEXT + 0x40, 0x40, false),
            (RV_TEXT + 0x80, 0x40, true),
        ]),
        symbols: vec![
            ("f0".into(), RV_TEXT, 0x40, true),
            ("f1".into(), RV_TEXT + 0x40, 0x40, true),
            ("f2".into(), RV_TEXT + 0x80, 0x40, true),
            ("TAG".into(), 0x3fc8_a5fc, 7, false),
        ],
        data_addr: 0x3fc8_a5fc,
        data: vec![0; 8],
        extra: Vec::new(),
    }
}

/// RISC-V ELF core body: main (f0 ← f1 ← f2, exception frame with mcause 7), IDLE (never
/// ran: pc = f2 entry, ra = sp = 0), esp_timer (f0 returning into ROM 0x40048000).
pub fn riscv_core(app_sha_prefix: &str) -> Vec<u8> {
    // main: exception frame (0xa0 bytes) at RV_STACK, sp just above it.
    let mut stack = vec![0u8; 0x1a0];
    let sp = RV_STACK + 0xa0;
    let mut x = [0u32; 32];
    x[0] = RV_TEXT + 0x10;
    x[1] = RV_TEXT + 0x50; // stale ra; CFI reads the saved one
    x[2] = sp;
    x[3] = 0x3fc8_a600; // gp → TAG+4
    for (n, v) in x.iter().enumerate() {
        poke(&mut stack, RV_STACK, RV_STACK + 4 * n as u32, *v);
    }
    poke(&mut stack, RV_STACK, RV_STACK + 128, 0x1881); // mstatus
    poke(&mut stack, RV_STACK, RV_STACK + 132, 0x4038_0001); // mtvec
    poke(&mut stack, RV_STACK, RV_STACK + 136, 7); // mcause: store access fault
    poke(&mut stack, RV_STACK, RV_STACK + 140, 0); // mtval
    poke(&mut stack, RV_STACK, sp + 16 - 4, RV_TEXT + 0x50); // f0 saved ra → f1
    poke(&mut stack, RV_STACK, sp + 32 - 4, RV_TEXT + 0x90); // f1 saved ra → f2
    let mut core = note("CORE", 1, &prstatus_riscv(RV_MAIN_TCB, x));
    let mut ix = [0u32; 32];
    ix[0] = RV_TEXT + 0x80;
    core.extend(note("CORE", 1, &prstatus_riscv(RV_IDLE_TCB, ix)));
    let mut tstack = vec![0u8; 0x100];
    let mut tx = [0u32; 32];
    tx[0] = RV_TEXT + 0x10;
    tx[2] = RV_TIMER_STACK + 0xa0;
    poke(
        &mut tstack,
        RV_TIMER_STACK,
        RV_TIMER_STACK + 0xa0 + 12,
        0x4004_8000,
    );
    core.extend(note("CORE", 1, &prstatus_riscv(RV_TIMER_TCB, tx)));
    let loads = vec![
        (
            RV_MAIN_TCB,
            tcb("main", 1, RV_STACK, RV_STACK - 0xe00, RV_STACK + 0x1a0),
        ),
        (RV_STACK, stack),
        (
            RV_IDLE_TCB,
            tcb(
                "IDLE",
                0,
                RV_IDLE_STACK,
                RV_IDLE_STACK - 0x500,
                RV_IDLE_STACK + 0xa0,
            ),
        ),
        (RV_IDLE_STACK, vec![0u8; 0xa0]),
        (
            RV_TIMER_TCB,
            tcb(
                "esp_timer",
                22,
                RV_TIMER_STACK,
                RV_TIMER_STACK - 0xf00,
                RV_TIMER_STACK + 0x100,
            ),
        ),
        (RV_TIMER_STACK, tstack),
    ];
    let mut sha = [0u8; 68];
    sha[..app_sha_prefix.len()].copy_from_slice(app_sha_prefix.as_bytes());
    let mut desc = le(&[0x0005_0102]);
    desc.extend_from_slice(&sha);
    let mut info = note("ESP_CORE_DUMP_INFO", 8266, &desc);
    info.extend(note("ESP_EXTRA_INFO", 677, &le(&[RV_MAIN_TCB, 0])));
    info.extend(note(
        "ESP_PANIC_DETAILS",
        679,
        b"abort() was called at PC 0x42000013 on core 0",
    ));
    elf_core(RISCV, &core, &loads, &info)
}

/// A legacy binary body: task records (tcb_addr, stack_start, stack_end, TCB, stack) and
/// memory segments (start, size, data).
pub fn binary_body(tasks: &[(u32, u32, Vec<u8>, Vec<u8>)], segs: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tcb_addr, stack_start, tcb, stack) in tasks {
        out.extend(le(&[
            *tcb_addr,
            *stack_start,
            stack_start + stack.len() as u32,
        ]));
        out.extend_from_slice(tcb);
        out.extend_from_slice(stack);
    }
    for (start, data) in segs {
        out.extend(le(&[*start, data.len() as u32]));
        out.extend_from_slice(data);
    }
    out
}

/// The Xtensa scenario as binary task records: XtExcFrame at the start of each stack.
pub fn xtensa_binary_tasks() -> Vec<(u32, u32, Vec<u8>, Vec<u8>)> {
    let mut stack = vec![0u8; 0x200];
    // XtExcFrame at XT_STACK: exit, pc, ps, a0..a15, sar, exccause, excvaddr, lbeg, lend, lcount
    let sp0 = XT_STACK + 0x100;
    let mut frame = vec![0x4008_2758, XT_TEXT + 0x10, 0x60830, 0x800d_0108, sp0];
    frame.extend([0u32; 14]);
    frame.extend([0x10, 29, 0, 0, 0, 0]);
    for (i, w) in frame.iter().enumerate() {
        poke(&mut stack, XT_STACK, XT_STACK + 4 * i as u32, *w);
    }
    poke(&mut stack, XT_STACK, sp0 - 16, 0x800d_0208);
    poke(&mut stack, XT_STACK, sp0 - 12, sp0 + 0x40);
    poke(&mut stack, XT_STACK, sp0 + 0x40 - 16, 0);
    poke(&mut stack, XT_STACK, sp0 + 0x40 - 12, sp0 + 0x80);
    vec![(
        XT_MAIN_TCB,
        XT_STACK,
        tcb("main", 1, XT_STACK, XT_STACK - 0xe00, XT_STACK + 0x200),
        stack,
    )]
}
