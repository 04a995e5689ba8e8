//! Symbolization of unwound frames and of the crashed task's registers for gdb's
//! `info registers`: DWARF inline chains, `.symtab` offsets, ROM ELF names, ROM
//! symbol hints, and gdb's frame-0 address rule.

use super::analysis::{Frame, InlinedFrame, Register, RegisterKind};
use super::chip::Chip;
use super::dump::Regs;
use super::symbols::Symbolizer;
use super::unwind::RawFrame;

/// Distance within which an absolute ROM symbol is offered as a hint.
const ROM_HINT_MAX_DIST: u32 = 0x800;

/// The symbol sources of one decode: firmware ELF, optional ROM ELF, chip ROM ranges.
pub(crate) struct Ctx<'a> {
    pub app: Option<&'a Symbolizer>,
    pub rom: Option<&'a Symbolizer>,
    pub chip: Option<Chip>,
}

impl Ctx<'_> {
    pub fn symbolize_all(&self, raw: &[RawFrame]) -> Vec<Frame> {
        raw.iter()
            .enumerate()
            .map(|(level, f)| Frame {
                found_by: Some(f.trust),
                ..self.symbolize(f.pc, level)
            })
            .collect()
    }

    /// Names one physical frame: DWARF inline chain at `pc` (frame 0) or `pc - 1`
    /// (callers), `.symtab` for the offset and as the fallback name, then the ROM ELF.
    fn symbolize(&self, pc: u32, level: usize) -> Frame {
        let rom =
            self.chip.is_some_and(|c| c.is_rom(pc)) || self.rom.is_some_and(|r| r.is_code(pc));
        let mut frame = Frame {
            pc,
            function: None,
            offset: None,
            file: None,
            line: None,
            inlined: Vec::new(),
            rom,
            rom_symbol_hint: None,
            show_address: true,
            found_by: None,
            args: Vec::new(),
            locals: Vec::new(),
        };
        if pc == 0 {
            return frame;
        }
        let probe = if level == 0 { pc } else { pc.wrapping_sub(1) };
        let mut chain = Vec::new();
        let mut sym = None;
        for s in [self.app, self.rom].into_iter().flatten() {
            if !s.is_code(probe) {
                continue;
            }
            chain = s.source_frames(probe);
            sym = s.function_symbol(probe);
            if !chain.is_empty() || sym.is_some() {
                if level == 0 && s.starts_stmt_row(pc) {
                    frame.show_address = false;
                }
                break;
            }
        }
        let mut it = chain.into_iter();
        if let Some(inner) = it.next() {
            frame.function = inner.function.or_else(|| sym.map(|(n, _)| n.to_string()));
            frame.file = inner.file;
            frame.line = inner.line;
        } else {
            frame.function = sym.map(|(n, _)| n.to_string());
        }
        frame.offset = sym.map(|(_, off)| off.wrapping_add(pc.wrapping_sub(probe)));
        frame.inlined = it
            .map(|f| InlinedFrame {
                function: f.function,
                file: f.file,
                line: f.line,
                args: Vec::new(),
                locals: Vec::new(),
            })
            .collect();
        if frame.function.is_none() && rom {
            frame.rom_symbol_hint = self.app.and_then(|s| {
                s.nearest_abs_symbol(probe, ROM_HINT_MAX_DIST)
                    .map(|(n, off)| sym_plus(n, off.wrapping_add(pc.wrapping_sub(probe))))
            });
        }
        frame
    }

    fn code_symbol(&self, v: u32) -> Option<String> {
        [self.app, self.rom]
            .into_iter()
            .flatten()
            .find_map(|s| s.function_symbol(v).map(|(n, o)| sym_plus(n, o)))
    }

    fn data_symbol(&self, v: u32) -> Option<String> {
        self.app
            .and_then(|s| s.any_symbol(v).map(|(n, o)| sym_plus(n, o)))
    }

    /// The crashed thread's registers in gdb `info registers` order (xtensa-esp32-elf-gdb's
    /// for Xtensa: pc, lbeg, lend, lcount, sar, ps, the unavailable special registers,
    /// a0..a15; RISC-V: ra..t6, then pc).
    pub fn registers(&self, regs: &Regs) -> Vec<Register> {
        let mut out = Vec::new();
        let mut push = |name: &str, value: Option<u32>, kind: RegisterKind| {
            let symbol = match (kind, value) {
                (RegisterKind::Code, Some(v)) => self.code_symbol(v),
                (RegisterKind::Data, Some(v)) => self.data_symbol(v),
                _ => None,
            };
            out.push(Register {
                name: name.to_string(),
                value,
                kind,
                symbol,
            });
        };
        match regs {
            Regs::Xtensa(r) => {
                push("pc", Some(r.pc), RegisterKind::Code);
                push("lbeg", Some(r.lbeg), RegisterKind::Int);
                push("lend", Some(r.lend), RegisterKind::Int);
                push("lcount", Some(r.lcount), RegisterKind::Int);
                push("sar", Some(r.sar), RegisterKind::Int);
                push("ps", Some(r.ps), RegisterKind::Int);
                for n in [
                    "threadptr",
                    "br",
                    "scompare1",
                    "acclo",
                    "acchi",
                    "m0",
                    "m1",
                    "m2",
                    "m3",
                    "expstate",
                    "f64r_lo",
                    "f64r_hi",
                    "f64s",
                    "fcr",
                    "fsr",
                ] {
                    push(n, None, RegisterKind::Int);
                }
                for (i, v) in r.a.iter().enumerate() {
                    push(&format!("a{i}"), Some(*v), RegisterKind::Int);
                }
            }
            Regs::Riscv(r) => {
                const NAMES: [&str; 32] = [
                    "pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2",
                    "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9",
                    "s10", "s11", "t3", "t4", "t5", "t6",
                ];
                // x0 is the zero register; the prstatus holds the pc there, printed last.
                for (name, v) in NAMES.iter().zip(r.x.iter()).skip(1) {
                    // gdb's types: ra is a code pointer, sp/gp/tp/fp data pointers.
                    let kind = match *name {
                        "ra" => RegisterKind::Code,
                        "sp" | "gp" | "tp" | "fp" => RegisterKind::Data,
                        _ => RegisterKind::Int,
                    };
                    push(name, Some(*v), kind);
                }
                push("pc", Some(r.x[0]), RegisterKind::Code);
            }
        }
        out
    }
}

fn sym_plus(name: &str, off: u32) -> String {
    if off == 0 {
        name.to_string()
    } else {
        format!("{name}+{off}")
    }
}
