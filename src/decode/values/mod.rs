//! Arguments and local variables of the unwound frames, evaluated from DWARF as gdb does and
//! printed in gdb's forms, for the frame lines of the report (`panic_abort (details=...)`)
//! and the per-frame `args`/`locals` of the [`Analysis`](crate::decode::Analysis).
//!
//! For each physical frame with DWARF: `scope.rs` finds the subprogram and inlined
//! subroutines at the frame's PC (the PC for frame 0, the return address - 1 above, gdb's
//! `get_frame_address_in_block`) with their parameters and locals; `eval.rs` evaluates each
//! variable's location (single expression or location-list entry) with gimli against the
//! frame's registers as the unwinder recovered them, the frame base, the CFA, and the dump's
//! memory, resolving `DW_OP_entry_value` through the caller's call site; `types.rs` reads the
//! variable's type; `format.rs` prints the value. A parameter's entry value (gdb's
//! `name@entry=`) is looked up when its location at the function's entry is a single register,
//! and shown as gdb's default `print entry-values` does.
//!
//! Everything is bounded by the decode's [`Budget`] (expression steps, DIEs, memory bytes, the
//! deadline) and the constants of each file; a hostile DWARF or dump gives `<optimized out>`,
//! `<error reading variable: …>` or fewer variables and one warning, never a panic or a hang.

mod budget;
mod eval;
mod format;
mod scope;
mod tailcall;
mod types;

pub(crate) use budget::Budget;
pub(crate) use tailcall::with_tail_calls;

use super::analysis::{Frame, Member, Variable};
use super::memory::Memory;
use super::symbols::Symbolizer;
use super::unwind::RawFrame;
use eval::{Fail, FrameCtx, Frames, const_bytes, single_reg};
use scope::VarDie;
use types::{Ty, resolve, type_name};

/// Members (or array elements) listed in a variable's structured form.
const MAX_LISTED_MEMBERS: usize = 64;

impl format::Target for Frames<'_> {
    fn symbol(&self, addr: u32) -> Option<String> {
        self.app.any_symbol(addr).map(|(n, off)| {
            if off == 0 {
                n.to_string()
            } else {
                format!("{n}+{off}")
            }
        })
    }

    fn read(&self, addr: u32, len: u32) -> Option<Vec<u8>> {
        Frames::read(self, addr, len)
    }
}

/// Fills `args` and `locals` of `frames` (symbolized from `raw`, index for index).
pub(crate) fn describe(
    app: &Symbolizer,
    memory: &Memory,
    budget: &Budget,
    raw: &[RawFrame],
    frames: &mut [Frame],
) {
    // gdb's `get_frame_address_in_block`: the PC of frame 0, the return address - 1 above.
    let probes: Vec<u64> = raw
        .iter()
        .enumerate()
        .map(|(i, r)| u64::from(if i == 0 { r.pc } else { r.pc.wrapping_sub(1) }))
        .collect();
    app.with_dwarf(&probes, |dwarf| {
        let ctx = Frames::new(raw, dwarf, app, memory, budget);
        for (i, frame) in frames.iter_mut().enumerate() {
            if !budget.in_time() {
                return;
            }
            if frame.function.is_none() {
                continue;
            }
            let Some(fc) = ctx.frame(i) else { continue };
            describe_frame(&ctx, &fc, frame);
        }
    });
}

/// The scopes of one physical frame onto the frame and its inline callers: the innermost
/// scope is the frame's own function, the outermost (the subprogram) its last inline caller.
fn describe_frame(ctx: &Frames<'_>, fc: &FrameCtx<'_>, frame: &mut Frame) {
    let n = fc.scopes.scopes.len();
    if n != 1 + frame.inlined.len() {
        return;
    }
    for (k, scope) in fc.scopes.scopes.iter().enumerate().rev() {
        let level = n - 1 - k;
        let name = if level == 0 {
            frame.function.as_deref()
        } else {
            frame
                .inlined
                .get(level - 1)
                .and_then(|f| f.function.as_deref())
        };
        if scope.name.as_deref() != name {
            return;
        }
        let args: Vec<Variable> = scope
            .params
            .iter()
            .map(|p| variable(ctx, fc, p, Some(scope.entry_pc)))
            .collect();
        let locals: Vec<Variable> = scope
            .locals
            .iter()
            .map(|v| variable(ctx, fc, v, None))
            .collect();
        if level == 0 {
            frame.args = args;
            frame.locals = locals;
        } else if let Some(f) = frame.inlined.get_mut(level - 1) {
            f.args = args;
            f.locals = locals;
        }
    }
}

/// What reading a value gave: its bytes (`None` = optimized-out byte) or gdb's error text.
type Read = Result<Vec<Option<u8>>, String>;

fn read_value(ctx: &Frames<'_>, fc: &FrameCtx<'_>, var: &VarDie, ty: &Ty) -> Read {
    let size = ty.size();
    if let Some(c) = &var.const_value {
        return Ok(const_bytes(c, size));
    }
    let Some(expr) = ctx.location_at(fc, var, fc.probe) else {
        return Ok(vec![None; size_usize(size)]);
    };
    let pieces = match ctx.run(fc, expr, 0) {
        Ok(p) => p,
        Err(Fail::NoEntry) => return Ok(vec![None; size_usize(size)]),
        Err(Fail::Error(m)) => return Err(m),
    };
    ctx.bytes(fc, &pieces, size).map_err(|f| match f {
        Fail::Error(m) => m,
        Fail::NoEntry => eval::OPTIMIZED_OUT_ERROR.to_string(),
    })
}

fn size_usize(size: u64) -> usize {
    usize::try_from(size.min(eval::MAX_VALUE_BYTES)).unwrap_or(0)
}

/// gdb's `read_variable_at_entry`: the value the caller passed, when the parameter's location
/// at the function's entry is a single register and the caller's call site says what it held.
/// `None` when unknown (gdb's `NO_ENTRY_VALUE_ERROR` or an optimized-out value).
fn entry_value(
    ctx: &Frames<'_>,
    fc: &FrameCtx<'_>,
    var: &VarDie,
    entry_pc: Option<u64>,
    ty: &Ty,
) -> Option<Read> {
    let pc = entry_pc?;
    let expr = ctx.location_at(fc, var, pc)?;
    let reg = single_reg(&expr)?;
    let (caller, value) = match ctx.call_site_value(fc, reg, 0) {
        Ok(x) => x,
        Err(Fail::NoEntry) => return None,
        Err(Fail::Error(m)) => return Some(Err(m)),
    };
    match ctx.value_of(&caller, value, 1) {
        Ok(Some(v)) => {
            let size = size_usize(ty.size());
            Some(Ok(v
                .to_le_bytes()
                .into_iter()
                .map(Some)
                .chain(std::iter::repeat(None))
                .take(size)
                .collect()))
        }
        Ok(None) | Err(Fail::NoEntry) => None,
        Err(Fail::Error(m)) => Some(Err(m)),
    }
}

fn text(r: &Read, ty: &Ty, ctx: &Frames<'_>, summary: bool) -> String {
    match r {
        Ok(b) => format::value(ty, b, ctx, summary),
        Err(m) => format!("<error reading variable: {m}>"),
    }
}

/// One variable: its value and, for a parameter (`entry_pc` given), its entry value and the
/// frame-line text gdb prints for it.
fn variable(
    ctx: &Frames<'_>,
    fc: &FrameCtx<'_>,
    var: &VarDie,
    entry_pc: Option<Option<u64>>,
) -> Variable {
    let ty = resolve(&fc.unit, var.ty, 0, ctx.budget);
    let val = read_value(ctx, fc, var, &ty);
    let mut entry = entry_pc.and_then(|pc| entry_value(ctx, fc, var, pc, &ty));
    // gdb drops an entry error equal to the value's error.
    if let (Err(a), Some(Err(b))) = (&val, &entry)
        && a == b
    {
        entry = None;
    }
    let equal =
        matches!((&val, &entry), (Ok(a), Some(Ok(b))) if a == b && a.iter().all(Option::is_some));
    let value = text(&val, &ty, ctx, false);
    let mut frame_text = String::new();
    let mut entry_value_text = None;
    if entry_pc.is_some() {
        let name = &var.name;
        let line = text(&val, &ty, ctx, true);
        frame_text = if equal {
            format!("{name}={name}@entry={line}")
        } else {
            match &entry {
                Some(e) => {
                    let et = text(e, &ty, ctx, true);
                    entry_value_text = Some(text(e, &ty, ctx, false));
                    format!("{name}={line}, {name}@entry={et}")
                }
                None => format!("{name}={line}"),
            }
        };
    }
    let members = match &val {
        Ok(b) => members(&ty, b, ctx),
        Err(_) => Vec::new(),
    };
    Variable {
        name: var.name.clone(),
        type_name: Some(type_name(&fc.unit, var.ty, ctx.budget)),
        value,
        entry_value: entry_value_text,
        frame_text,
        members,
    }
}

/// The one-level structured form of a struct, union or array.
fn members(ty: &Ty, bytes: &[Option<u8>], ctx: &Frames<'_>) -> Vec<Member> {
    match ty {
        Ty::Struct {
            members: Some(fields),
            ..
        } => fields
            .iter()
            .take(MAX_LISTED_MEMBERS)
            .map(|f| {
                let start = usize::try_from(f.offset).unwrap_or(usize::MAX);
                let end = start.saturating_add(size_usize(f.ty.size()));
                let value = match (f.bits, bytes.get(start..end)) {
                    (None, Some(b)) => format::member(&f.ty, b, ctx),
                    _ => {
                        // Bit-fields and short reads: the struct's own printer extracts them.
                        let one = Ty::Struct {
                            size: ty.size(),
                            union: false,
                            members: Some(vec![f.clone()]),
                        };
                        let s = format::value(&one, bytes, ctx, false);
                        s.trim_start_matches('{')
                            .trim_end_matches('}')
                            .split_once(" = ")
                            .map(|(_, v)| v.to_string())
                            .unwrap_or(s)
                    }
                };
                Member {
                    name: f.name.clone(),
                    value,
                }
            })
            .collect(),
        Ty::Array { elem, count } if !elem.is_char() => {
            let size = size_usize(elem.size());
            if size == 0 {
                return Vec::new();
            }
            (0..count.unwrap_or(0).min(MAX_LISTED_MEMBERS as u64))
                .map(|i| {
                    let start = usize::try_from(i).unwrap_or(0) * size;
                    let value = match bytes.get(start..start + size) {
                        Some(b) => format::member(elem, b, ctx),
                        None => format::OPTIMIZED_OUT.to_string(),
                    };
                    Member {
                        name: format!("[{i}]"),
                        value,
                    }
                })
                .collect()
        }
        _ => Vec::new(),
    }
}
