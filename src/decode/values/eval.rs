//! DWARF location evaluation for one frame with gimli's [`gimli::Evaluation`]: registers from
//! the frame's recovered register set, memory from the dump (then the ELF's sections), the
//! frame base (`DW_AT_frame_base`), the CFA, base types, and `DW_OP_entry_value` resolved as
//! gdb resolves it: through the caller's call site (`DW_TAG_call_site` at the return address)
//! whose target is this frame's function, and the `DW_AT_call_value` of the parameter passed
//! in that register, evaluated in the caller's frame (recursively, [`MAX_ENTRY_DEPTH`]
//! callers at most).
//!
//! Failures follow gdb's two kinds: [`Fail::NoEntry`] (gdb's `NO_ENTRY_VALUE_ERROR`: the
//! value prints as `<optimized out>`) and [`Fail::Error`] (any other error: the text of
//! `<error reading variable: …>`).

use gimli::Reader as _;
use gimli::{
    AttributeValue, EvaluationResult, Expression, Location, Piece, UnitOffset, Value,
    constants as dw,
};

use std::cell::RefCell;
use std::rc::Rc;

use super::budget::{Budget, MAX_STEPS_PER_EXPR};
use super::scope::{Scopes, VarDie, call_site, call_site_params, entry, scopes_at};
use super::types::{Die, Unit, string, udata};
use crate::decode::memory::Memory;
use crate::decode::symbols::{Lookup, Reader, Symbolizer};
use crate::decode::unwind::RawFrame;

/// Callers an entry value may be resolved through (gdb has no bound but a cycle check).
pub(crate) const MAX_ENTRY_DEPTH: usize = 8;
/// Location-list entries read per lookup.
const MAX_LOCLIST_ENTRIES: usize = 10_000;
/// Bytes of one value read from memory; a larger object reads as optimized out past it.
pub(crate) const MAX_VALUE_BYTES: u64 = 4096;
/// gdb's message for a register or value that is gone when an expression needs it.
pub(crate) const OPTIMIZED_OUT_ERROR: &str = "value has been optimized out";

/// Why a value could not be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fail {
    /// gdb's `NO_ENTRY_VALUE_ERROR`: no entry value; the value is `<optimized out>`.
    NoEntry,
    /// Any other error, with gdb's message.
    Error(String),
}

fn error(m: impl Into<String>) -> Fail {
    Fail::Error(m.into())
}

/// Everything the frames of one walk share, with each frame's DWARF context and its call
/// site (for its callees' entry values) worked out once.
pub(crate) struct Frames<'a> {
    pub raw: &'a [RawFrame],
    pub dwarf: &'a Lookup<'a>,
    pub app: &'a Symbolizer,
    pub memory: &'a Memory,
    pub budget: &'a Budget,
    contexts: RefCell<Vec<Option<Option<Rc<FrameCtx<'a>>>>>>,
    sites: RefCell<Vec<Option<Option<Die>>>>,
}

/// One physical frame's DWARF context.
pub(crate) struct FrameCtx<'a> {
    pub index: usize,
    /// gdb's `get_frame_address_in_block`: the PC for frame 0, the return address - 1 above.
    pub probe: u64,
    pub unit: Unit<'a>,
    pub scopes: Scopes,
}

/// The single register of a location `DW_OP_regN` / `DW_OP_regx` / `DW_OP_regval_type`
/// (gdb's `dwarf_block_to_dwarf_reg`), else `None`.
pub(crate) fn single_reg(expr: &Expression<Reader>) -> Option<u16> {
    let mut r = expr.0.clone();
    let op = r.read_u8().ok()?;
    let reg = match op {
        0x50..=0x6f => u64::from(op - 0x50),
        0x90 => r.read_uleb128().ok()?,
        0xa5 | 0xf5 => {
            let reg = r.read_uleb128().ok()?;
            r.read_uleb128().ok()?;
            reg
        }
        _ => return None,
    };
    if !r.is_empty() {
        return None;
    }
    u16::try_from(reg).ok()
}

fn exprloc(v: Option<AttributeValue<Reader>>) -> Option<Expression<Reader>> {
    match v? {
        AttributeValue::Exprloc(e) => Some(e),
        AttributeValue::Block(b) => Some(Expression(b)),
        _ => None,
    }
}

impl<'a> Frames<'a> {
    pub fn new(
        raw: &'a [RawFrame],
        dwarf: &'a Lookup<'a>,
        app: &'a Symbolizer,
        memory: &'a Memory,
        budget: &'a Budget,
    ) -> Frames<'a> {
        Frames {
            raw,
            dwarf,
            app,
            memory,
            budget,
            contexts: RefCell::new(vec![None; raw.len()]),
            sites: RefCell::new(vec![None; raw.len()]),
        }
    }

    /// The DWARF context of physical frame `index`, if its PC has DWARF (computed once).
    pub fn frame(&self, index: usize) -> Option<Rc<FrameCtx<'a>>> {
        if let Some(Some(known)) = self.contexts.borrow().get(index) {
            return known.clone();
        }
        let ctx = self.compute_frame(index).map(Rc::new);
        if let Some(slot) = self.contexts.borrow_mut().get_mut(index) {
            *slot = Some(ctx.clone());
        }
        ctx
    }

    /// The call site at frame `index`'s PC (a return address) in its function (computed once).
    fn call_site_of(&self, caller: &FrameCtx<'_>) -> Option<Die> {
        if let Some(Some(known)) = self.sites.borrow().get(caller.index) {
            return known.clone();
        }
        let pc = self.raw.get(caller.index)?.pc;
        let site = call_site(
            &caller.unit,
            caller.scopes.subprogram,
            u64::from(pc),
            self.budget,
        );
        if let Some(slot) = self.sites.borrow_mut().get_mut(caller.index) {
            *slot = Some(site.clone());
        }
        site
    }

    fn compute_frame(&self, index: usize) -> Option<FrameCtx<'a>> {
        let raw = self.raw.get(index)?;
        if raw.pc == 0 {
            return None;
        }
        let probe = if index == 0 {
            raw.pc
        } else {
            raw.pc.wrapping_sub(1)
        };
        let unit = self
            .dwarf
            .context(u64::from(probe))?
            .find_dwarf_and_unit(u64::from(probe))
            .skip_all_loads()?;
        let scopes = scopes_at(&unit, u64::from(probe), self.budget)?;
        Some(FrameCtx {
            index,
            probe: u64::from(probe),
            unit,
            scopes,
        })
    }

    /// `len` bytes of target memory: the dump, else the ELF's section contents.
    pub fn read(&self, addr: u32, len: u32) -> Option<Vec<u8>> {
        if !self.budget.memory(u64::from(len)) {
            return None;
        }
        self.memory
            .read(addr, len)
            .or_else(|| self.app.section_bytes(addr, len))
            .map(<[u8]>::to_vec)
    }

    fn typed(&self, unit: &Unit<'_>, base_type: UnitOffset, v: u64) -> Result<Value, Fail> {
        if base_type.0 == 0 {
            return Ok(Value::Generic(v));
        }
        let vt = self.base_type(unit, base_type)?;
        Value::from_u64(vt, v).map_err(|e| error(format!("DWARF expression error: {e}")))
    }

    fn base_type(&self, unit: &Unit<'_>, off: UnitOffset) -> Result<gimli::ValueType, Fail> {
        if off.0 == 0 {
            // `DW_OP_convert 0`: back to the generic type.
            return Ok(gimli::ValueType::Generic);
        }
        let d = entry(unit, off, self.budget).ok_or_else(|| error("bad DWARF base type"))?;
        let enc = match d.attr_value(dw::DW_AT_encoding) {
            Some(AttributeValue::Encoding(e)) => e,
            _ => return Err(error("bad DWARF base type")),
        };
        let size = d
            .attr_value(dw::DW_AT_byte_size)
            .as_ref()
            .and_then(udata)
            .unwrap_or(0);
        gimli::ValueType::from_encoding(enc, size).ok_or_else(|| error("bad DWARF base type"))
    }

    /// Evaluates `expr` in frame `fc`.
    pub fn run(
        &self,
        fc: &FrameCtx<'_>,
        expr: Expression<Reader>,
        depth: usize,
    ) -> Result<Vec<Piece<Reader>>, Fail> {
        if depth > MAX_ENTRY_DEPTH {
            return Err(Fail::NoEntry);
        }
        let mut eval = expr.evaluation(fc.unit.encoding());
        eval.set_max_iterations(MAX_STEPS_PER_EXPR);
        let mut r = eval.evaluate();
        let regs = self.raw.get(fc.index).map(|f| f.regs).unwrap_or_default();
        loop {
            if !self.budget.step(1) {
                return Err(error("crashbox evaluation limit reached"));
            }
            let step = r.map_err(|e| error(format!("DWARF expression error: {e}")))?;
            r = match step {
                EvaluationResult::Complete => break,
                EvaluationResult::RequiresMemory {
                    address,
                    size,
                    base_type,
                    ..
                } => {
                    let a = u32::try_from(address).map_err(|_| {
                        error(format!("Cannot access memory at address 0x{address:x}"))
                    })?;
                    let b = self
                        .read(a, u32::from(size))
                        .ok_or_else(|| error(format!("Cannot access memory at address 0x{a:x}")))?;
                    let v = b
                        .iter()
                        .rev()
                        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
                    let val = self.typed(&fc.unit, base_type, v)?;
                    eval.resume_with_memory(val)
                }
                EvaluationResult::RequiresRegister {
                    register,
                    base_type,
                } => {
                    let v = regs
                        .get(register.0)
                        .ok_or_else(|| error(OPTIMIZED_OUT_ERROR))?;
                    let val = self.typed(&fc.unit, base_type, u64::from(v))?;
                    eval.resume_with_register(val)
                }
                EvaluationResult::RequiresFrameBase => {
                    let fb = self.frame_base(fc, depth)?;
                    eval.resume_with_frame_base(fb)
                }
                EvaluationResult::RequiresCallFrameCfa => {
                    let cfa = regs
                        .cfa
                        .ok_or_else(|| error("can't compute CFA for this frame"))?;
                    eval.resume_with_call_frame_cfa(u64::from(cfa))
                }
                EvaluationResult::RequiresEntryValue(inner) => {
                    let Some(reg) = single_reg(&inner) else {
                        return Err(error(
                            "DWARF-2 expression error: DW_OP_entry_value is supported only for single DW_OP_reg* or for DW_OP_breg*(0)+DW_OP_deref*",
                        ));
                    };
                    let (caller, value) = self.call_site_value(fc, reg, depth)?;
                    let v = self
                        .value_of(&caller, value, depth + 1)?
                        .ok_or_else(|| error(OPTIMIZED_OUT_ERROR))?;
                    eval.resume_with_entry_value(Value::Generic(v))
                }
                EvaluationResult::RequiresBaseType(off) => {
                    let vt = self.base_type(&fc.unit, off)?;
                    eval.resume_with_base_type(vt)
                }
                EvaluationResult::RequiresRelocatedAddress(a) => {
                    eval.resume_with_relocated_address(a)
                }
                EvaluationResult::RequiresIndexedAddress { index, .. } => {
                    let a = fc
                        .unit
                        .address(index)
                        .map_err(|e| error(format!("DWARF expression error: {e}")))?;
                    eval.resume_with_indexed_address(a)
                }
                _ => return Err(error("unsupported DWARF operation")),
            };
        }
        Ok(eval.result())
    }

    /// A DWARF expression used as a value (a call value or call target): the address of a
    /// memory location, the value of a register or stack value; `None` when it is gone.
    pub fn value_of(
        &self,
        fc: &FrameCtx<'_>,
        expr: Expression<Reader>,
        depth: usize,
    ) -> Result<Option<u64>, Fail> {
        let pieces = self.run(fc, expr, depth)?;
        let [piece] = pieces.as_slice() else {
            return Ok(None);
        };
        let regs = self.raw.get(fc.index).map(|f| f.regs).unwrap_or_default();
        Ok(match &piece.location {
            Location::Address { address } => Some(*address),
            Location::Value { value } => value.to_u64(u64::MAX).ok(),
            Location::Register { register } => regs.get(register.0).map(u64::from),
            _ => None,
        })
    }

    fn frame_base(&self, fc: &FrameCtx<'_>, depth: usize) -> Result<u64, Fail> {
        let sub = entry(&fc.unit, fc.scopes.subprogram, self.budget)
            .ok_or_else(|| error("no frame base"))?;
        let expr = exprloc(sub.attr_value(dw::DW_AT_frame_base))
            .ok_or_else(|| error("Could not find the frame base"))?;
        if expr.0.len() == 1 && expr.0.clone().read_u8_first() == Some(0x9c) {
            // DW_OP_call_frame_cfa, the usual case: no nested evaluation needed.
            let regs = self.raw.get(fc.index).map(|f| f.regs).unwrap_or_default();
            return regs
                .cfa
                .map(u64::from)
                .ok_or_else(|| error("can't compute CFA for this frame"));
        }
        self.value_of(fc, expr, depth + 1)?
            .ok_or_else(|| error(OPTIMIZED_OUT_ERROR))
    }

    /// gdb's `dwarf_expr_reg_to_entry_parameter`: the caller's call site for this frame's
    /// function, and the `DW_AT_call_value` of the parameter it passed in `reg`.
    pub fn call_site_value(
        &self,
        fc: &FrameCtx<'_>,
        reg: u16,
        depth: usize,
    ) -> Result<(Rc<FrameCtx<'a>>, Expression<Reader>), Fail> {
        if depth >= MAX_ENTRY_DEPTH {
            return Err(Fail::NoEntry);
        }
        let caller = self.frame(fc.index + 1).ok_or(Fail::NoEntry)?;
        let site = self.call_site_of(&caller).ok_or(Fail::NoEntry)?;
        let target = self.call_target(&caller, &site, depth)?;
        if fc.scopes.entry_pc != Some(target) {
            return Err(Fail::NoEntry);
        }
        for p in call_site_params(&caller.unit, &site, self.budget) {
            let Some(loc) = exprloc(p.attr_value(dw::DW_AT_location)) else {
                continue;
            };
            if single_reg(&loc) != Some(reg) {
                continue;
            }
            let value = exprloc(
                p.attr_value(dw::DW_AT_call_value)
                    .or_else(|| p.attr_value(dw::DW_AT_GNU_call_site_value)),
            )
            .ok_or(Fail::NoEntry)?;
            return Ok((caller, value));
        }
        Err(Fail::NoEntry)
    }

    /// gdb's `call_site_to_target_addr`: the origin's address (by symbol name for a
    /// declaration), or the `DW_AT_call_target` expression evaluated in the caller.
    fn call_target(&self, caller: &FrameCtx<'_>, site: &Die, depth: usize) -> Result<u64, Fail> {
        let origin = site
            .attr_value(dw::DW_AT_call_origin)
            .or_else(|| site.attr_value(dw::DW_AT_abstract_origin))
            .and_then(|v| super::types::unit_ref(&caller.unit, v));
        if let Some(off) = origin {
            let d = entry(&caller.unit, off, self.budget).ok_or(Fail::NoEntry)?;
            if d.attr_value(dw::DW_AT_declaration).is_some() {
                let name = d
                    .attr_value(dw::DW_AT_linkage_name)
                    .or_else(|| d.attr_value(dw::DW_AT_name))
                    .and_then(|n| string(&caller.unit, n))
                    .ok_or(Fail::NoEntry)?;
                return self
                    .app
                    .function_address(&name)
                    .map(u64::from)
                    .ok_or(Fail::NoEntry);
            }
            return d
                .attr_value(dw::DW_AT_low_pc)
                .and_then(|v| super::types::address(&caller.unit, v))
                .ok_or(Fail::NoEntry);
        }
        let expr = exprloc(
            site.attr_value(dw::DW_AT_call_target)
                .or_else(|| site.attr_value(dw::DW_AT_GNU_call_site_target)),
        )
        .ok_or(Fail::NoEntry)?;
        match self.value_of(caller, expr, depth + 1) {
            Ok(Some(a)) => Ok(a),
            Ok(None) | Err(Fail::NoEntry) => Err(error(OPTIMIZED_OUT_ERROR)),
            Err(e) => Err(e),
        }
    }

    /// The location expression of `var` at `pc` (a single expression, or the entry of its
    /// location list covering `pc`); `None`: no location there (optimized out).
    pub fn location_at(
        &self,
        fc: &FrameCtx<'_>,
        var: &VarDie,
        pc: u64,
    ) -> Option<Expression<Reader>> {
        let loc = var.location.clone()?;
        if let Some(e) = exprloc(Some(loc.clone())) {
            return Some(e);
        }
        let mut iter = fc.unit.attr_locations(loc).ok()??;
        for _ in 0..MAX_LOCLIST_ENTRIES {
            if !self.budget.die() {
                return None;
            }
            let e = iter.next().ok()??;
            if e.range.begin <= pc && pc < e.range.end {
                return Some(e.data);
            }
        }
        None
    }

    /// The bytes of a location of `size` bytes (`None` = optimized-out byte).
    pub fn bytes(
        &self,
        fc: &FrameCtx<'_>,
        pieces: &[Piece<Reader>],
        size: u64,
    ) -> Result<Vec<Option<u8>>, Fail> {
        let size = usize::try_from(size.min(MAX_VALUE_BYTES)).unwrap_or(0);
        let regs = self.raw.get(fc.index).map(|f| f.regs).unwrap_or_default();
        let mut out: Vec<Option<u8>> = Vec::with_capacity(size);
        for p in pieces {
            if out.len() >= size {
                break;
            }
            let want = match p.size_in_bits {
                Some(bits) => usize::try_from(bits.div_ceil(8)).unwrap_or(size),
                None => size - out.len(),
            }
            .min(size - out.len());
            if want == 0 {
                continue;
            }
            match &p.location {
                Location::Empty | Location::ImplicitPointer { .. } => {
                    out.extend(std::iter::repeat_n(None, want))
                }
                Location::Register { register } => {
                    let skip = usize::try_from(p.bit_offset.unwrap_or(0) / 8).unwrap_or(0);
                    let mut reg_bytes = Vec::new();
                    let mut r = register.0;
                    while reg_bytes.len() < want + skip {
                        match regs.get(r) {
                            Some(v) => reg_bytes.extend(v.to_le_bytes().map(Some)),
                            None => reg_bytes.extend([None; 4]),
                        }
                        r = r.saturating_add(1);
                    }
                    out.extend(reg_bytes.into_iter().skip(skip).take(want));
                }
                Location::Address { address } => {
                    let a = u32::try_from(*address).map_err(|_| {
                        error(format!("Cannot access memory at address 0x{address:x}"))
                    })?;
                    let len = u32::try_from(want).unwrap_or(0);
                    let b = self
                        .read(a, len)
                        .ok_or_else(|| error(format!("Cannot access memory at address 0x{a:x}")))?;
                    out.extend(b.into_iter().map(Some));
                }
                Location::Value { value } => {
                    let v = value.to_u64(u64::MAX).unwrap_or(0);
                    out.extend(
                        v.to_le_bytes()
                            .into_iter()
                            .map(Some)
                            .chain(std::iter::repeat(None))
                            .take(want),
                    );
                }
                Location::Bytes { value } => {
                    let b = value.to_slice().map(|c| c.into_owned()).unwrap_or_default();
                    out.extend(
                        b.into_iter()
                            .map(Some)
                            .chain(std::iter::repeat(None))
                            .take(want),
                    );
                }
            }
        }
        out.resize(size, None);
        Ok(out)
    }
}

/// The bytes of a `DW_AT_const_value`.
pub(crate) fn const_bytes(v: &AttributeValue<Reader>, size: u64) -> Vec<Option<u8>> {
    let size = usize::try_from(size.min(MAX_VALUE_BYTES)).unwrap_or(0);
    let raw: Vec<u8> = match v {
        AttributeValue::Block(b) => b.to_slice().map(|c| c.into_owned()).unwrap_or_default(),
        AttributeValue::Sdata(x) => x.to_le_bytes().to_vec(),
        other => udata(other)
            .map(|x| x.to_le_bytes().to_vec())
            .unwrap_or_default(),
    };
    raw.into_iter()
        .map(Some)
        .chain(std::iter::repeat(None))
        .take(size)
        .collect()
}

trait FirstByte {
    fn read_u8_first(self) -> Option<u8>;
}

impl FirstByte for Reader {
    fn read_u8_first(mut self) -> Option<u8> {
        gimli::Reader::read_u8(&mut self).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::symbols::ElfBytes;

    fn expr(bytes: &[u8]) -> Expression<Reader> {
        Expression(gimli::EndianReader::new(
            ElfBytes::from_vec(bytes.to_vec()),
            gimli::LittleEndian,
        ))
    }

    #[test]
    fn single_register_locations_are_recognized_as_gdb_does() {
        assert_eq!(single_reg(&expr(&[0x5a])), Some(10), "DW_OP_reg10");
        assert_eq!(single_reg(&expr(&[0x90, 0x21])), Some(33), "DW_OP_regx 33");
        assert_eq!(
            single_reg(&expr(&[0xf5, 0x0a, 0x25])),
            Some(10),
            "DW_OP_GNU_regval_type a0, type 0x25"
        );
        assert_eq!(
            single_reg(&expr(&[0xa5, 0x0b, 0x2c])),
            Some(11),
            "DW_OP_regval_type"
        );
        assert_eq!(
            single_reg(&expr(&[0x7a, 0x00])),
            None,
            "DW_OP_breg10 0 is not a register"
        );
        assert_eq!(
            single_reg(&expr(&[0x5a, 0x9f])),
            None,
            "trailing operations"
        );
        assert_eq!(single_reg(&expr(&[])), None);
        assert_eq!(single_reg(&expr(&[0x90])), None, "truncated ULEB");
        assert_eq!(
            single_reg(&expr(&[0x90, 0xff, 0xff, 0xff, 0xff, 0x0f])),
            None,
            "register number beyond u16"
        );
    }

    #[test]
    fn constant_values_fill_the_type_size() {
        assert_eq!(
            const_bytes(&AttributeValue::Sdata(-2), 2),
            vec![Some(0xfe), Some(0xff)]
        );
        assert_eq!(
            const_bytes(&AttributeValue::Data1(7), 4),
            vec![Some(7), Some(0), Some(0), Some(0)]
        );
        assert_eq!(const_bytes(&AttributeValue::Data1(7), 10).len(), 10);
        assert_eq!(const_bytes(&AttributeValue::Data1(7), 10)[9], None);
    }
}
