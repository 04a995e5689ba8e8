//! The DWARF scopes at a PC: the subprogram and the inlined subroutines containing it,
//! outermost first, each with its parameters (gdb's block arguments, including those its
//! abstract origin declares and the concrete instance omits, as gdb's `inherit_abstract_dies`
//! adds them) and the local variables of the lexical blocks containing the PC. Also finds the
//! call site (`DW_TAG_call_site` / `DW_TAG_GNU_call_site`) of a return address inside a
//! subprogram, for entry values.
//!
//! Bounds: every DIE read is charged to the [`Budget`]; nesting is followed at most
//! [`MAX_NESTING`] levels, ranges and variables per scope are capped.

use gimli::{AttributeValue, UnitOffset, constants as dw};

use super::budget::Budget;
use super::types::{Die, Unit, attr_inherited, die, name, unit_ref};
use crate::decode::symbols::Reader;

/// Scope nesting followed below a subprogram (inline depth plus lexical blocks).
const MAX_NESTING: usize = 64;
/// Address ranges read per DIE.
const MAX_RANGES: usize = 4096;
/// Parameters or locals kept per scope.
pub(crate) const MAX_VARS: usize = 128;

/// A parameter or variable DIE, with what evaluation needs.
#[derive(Clone)]
pub(crate) struct VarDie {
    pub name: String,
    pub ty: Option<UnitOffset>,
    /// `DW_AT_location` of the concrete DIE (`None`: optimized out).
    pub location: Option<AttributeValue<Reader>>,
    /// `DW_AT_const_value`.
    pub const_value: Option<AttributeValue<Reader>>,
}

/// A function body containing the PC: the subprogram or an inlined subroutine.
pub(crate) struct Scope {
    pub name: Option<String>,
    /// The scope's entry address: where gdb reads a parameter's location for its entry value.
    pub entry_pc: Option<u64>,
    pub params: Vec<VarDie>,
    pub locals: Vec<VarDie>,
}

/// The scopes at a PC and the subprogram's facts.
pub(crate) struct Scopes {
    /// Outermost (the subprogram) first.
    pub scopes: Vec<Scope>,
    /// The subprogram DIE.
    pub subprogram: UnitOffset,
    /// Its entry address (gdb's `get_frame_func`), when known.
    pub entry_pc: Option<u64>,
}

/// Whether `d` covers `pc`, and its lowest address.
fn covers(unit: &Unit<'_>, d: &Die, pc: u64) -> (bool, Option<u64>) {
    let Ok(mut ranges) = unit.die_ranges(d) else {
        return (false, None);
    };
    let mut low: Option<u64> = None;
    let mut hit = false;
    for _ in 0..MAX_RANGES {
        match ranges.next() {
            Ok(Some(r)) => {
                if r.begin <= pc && pc < r.end {
                    hit = true;
                }
                low = Some(low.map_or(r.begin, |l| l.min(r.begin)));
            }
            _ => break,
        }
    }
    (hit, low)
}

fn var_die(unit: &Unit<'_>, d: &Die, budget: &Budget) -> Option<VarDie> {
    Some(VarDie {
        name: name(unit, d, budget)?,
        ty: attr_inherited(unit, d, dw::DW_AT_type, budget).and_then(|v| unit_ref(unit, v)),
        location: d.attr_value(dw::DW_AT_location),
        const_value: attr_inherited(unit, d, dw::DW_AT_const_value, budget),
    })
}

/// The top-level subprogram of `unit` containing `pc`, with its entry (`DW_AT_entry_pc`, else
/// its lowest address).
pub(crate) fn subprogram_at(
    unit: &Unit<'_>,
    pc: u64,
    budget: &Budget,
) -> Option<(UnitOffset, Option<u64>)> {
    let mut tree = unit.entries_tree(None).ok()?;
    let root = tree.root().ok()?;
    let mut children = root.children();
    while let Ok(Some(node)) = children.next() {
        if !budget.die() {
            return None;
        }
        let e = node.entry();
        if e.tag() != dw::DW_TAG_subprogram {
            continue;
        }
        let (hit, low) = covers(unit, e, pc);
        if !hit {
            continue;
        }
        let entry_pc = match e.attr_value(dw::DW_AT_entry_pc) {
            Some(AttributeValue::Addr(a)) => Some(a),
            _ => low,
        };
        return Some((e.offset(), entry_pc));
    }
    None
}

/// The scopes at `pc` in `unit`.
pub(crate) fn scopes_at(unit: &Unit<'_>, pc: u64, budget: &Budget) -> Option<Scopes> {
    let (subprogram, entry_pc) = subprogram_at(unit, pc, budget)?;
    let mut tree = unit.entries_tree(Some(subprogram)).ok()?;
    let node = tree.root().ok()?;
    let mut scopes = Vec::new();
    let mut first = new_scope(unit, node.entry(), budget);
    first.entry_pc = entry_pc;
    scopes.push(first);
    walk(unit, node, pc, &mut scopes, 0, budget, true);
    Some(Scopes {
        scopes,
        subprogram,
        entry_pc,
    })
}

fn new_scope(unit: &Unit<'_>, d: &Die, budget: &Budget) -> Scope {
    let entry_pc = match d.attr_value(dw::DW_AT_entry_pc) {
        Some(AttributeValue::Addr(a)) => Some(a),
        _ => covers(unit, d, 0).1,
    };
    Scope {
        entry_pc,
        name: name(unit, d, budget),
        params: Vec::new(),
        locals: Vec::new(),
    }
}

/// Collects the children of a scope node into the last scope of `scopes`; descends into
/// lexical blocks and the inlined subroutine containing `pc` (which starts a new scope).
/// `top`: `node` is the scope's own DIE (its parameters and its origin's count).
fn walk(
    unit: &Unit<'_>,
    node: gimli::EntriesTreeNode<'_, '_, Reader>,
    pc: u64,
    scopes: &mut Vec<Scope>,
    depth: usize,
    budget: &Budget,
    top: bool,
) {
    if depth > MAX_NESTING {
        return;
    }
    let own = node.entry().clone();
    let mut referenced: Vec<UnitOffset> = Vec::new();
    let mut children = node.children();
    let mut inner: Option<UnitOffset> = None;
    while let Ok(Some(child)) = children.next() {
        if !budget.die() {
            return;
        }
        let e = child.entry();
        if let Some(o) = e
            .attr_value(dw::DW_AT_abstract_origin)
            .and_then(|v| unit_ref(unit, v))
        {
            referenced.push(o);
        }
        match e.tag() {
            dw::DW_TAG_formal_parameter if top => {
                if let (Some(v), Some(s)) = (var_die(unit, e, budget), scopes.last_mut())
                    && s.params.len() < MAX_VARS
                {
                    s.params.push(v);
                }
            }
            dw::DW_TAG_variable => {
                if let (Some(v), Some(s)) = (var_die(unit, e, budget), scopes.last_mut())
                    && s.locals.len() < MAX_VARS
                {
                    s.locals.push(v);
                }
            }
            dw::DW_TAG_lexical_block if covers(unit, e, pc).0 => {
                walk(unit, child, pc, scopes, depth + 1, budget, false);
            }
            dw::DW_TAG_inlined_subroutine if inner.is_none() && covers(unit, e, pc).0 => {
                inner = Some(e.offset());
            }
            _ => {}
        }
    }
    if top {
        inherit_abstract(unit, &own, &referenced, scopes, budget);
    }
    if let Some(off) = inner
        && let Ok(mut tree) = unit.entries_tree(Some(off))
        && let Ok(node) = tree.root()
    {
        let scope = new_scope(unit, node.entry(), budget);
        scopes.push(scope);
        walk(unit, node, pc, scopes, depth + 1, budget, true);
    }
}

/// gdb's `inherit_abstract_dies`: parameters of the abstract origin that the concrete
/// instance does not mention are still the function's arguments, with no location.
fn inherit_abstract(
    unit: &Unit<'_>,
    own: &Die,
    referenced: &[UnitOffset],
    scopes: &mut [Scope],
    budget: &Budget,
) {
    let Some(origin) = own
        .attr_value(dw::DW_AT_abstract_origin)
        .and_then(|v| unit_ref(unit, v))
    else {
        return;
    };
    let Ok(mut tree) = unit.entries_tree(Some(origin)) else {
        return;
    };
    let Ok(root) = tree.root() else { return };
    let mut children = root.children();
    while let Ok(Some(child)) = children.next() {
        if !budget.die() {
            return;
        }
        let e = child.entry();
        if referenced.contains(&e.offset()) {
            continue;
        }
        let is_param = e.tag() == dw::DW_TAG_formal_parameter;
        if !is_param {
            continue;
        }
        if let (Some(mut v), Some(s)) = (var_die(unit, e, budget), scopes.last_mut())
            && s.params.len() < MAX_VARS
        {
            v.location = None;
            s.params.push(v);
        }
    }
}

/// A call site DIE inside the subprogram at `subprogram` whose return address is `ret`.
pub(crate) fn call_site(
    unit: &Unit<'_>,
    subprogram: UnitOffset,
    ret: u64,
    budget: &Budget,
) -> Option<Die> {
    let mut cursor = unit.entries_at_offset(subprogram).ok()?;
    let first = cursor.next_dfs().ok()??;
    let base_depth = first.depth();
    loop {
        if !budget.die() {
            return None;
        }
        let e = cursor.next_dfs().ok()??;
        if e.depth() <= base_depth {
            return None;
        }
        if e.tag() != dw::DW_TAG_call_site && e.tag() != dw::DW_TAG_GNU_call_site {
            continue;
        }
        let pc = e
            .attr_value(dw::DW_AT_call_return_pc)
            .or_else(|| e.attr_value(dw::DW_AT_low_pc))
            .and_then(|v| super::types::address(unit, v));
        if pc == Some(ret) {
            return Some(e.clone());
        }
    }
}

/// The parameters (`DW_TAG_call_site_parameter` / GNU) of a call site.
pub(crate) fn call_site_params(unit: &Unit<'_>, site: &Die, budget: &Budget) -> Vec<Die> {
    let mut out = Vec::new();
    let Ok(mut tree) = unit.entries_tree(Some(site.offset())) else {
        return out;
    };
    let Ok(root) = tree.root() else { return out };
    let mut children = root.children();
    while let Ok(Some(child)) = children.next() {
        if !budget.die() || out.len() >= MAX_VARS {
            break;
        }
        let e = child.entry();
        if e.tag() == dw::DW_TAG_call_site_parameter
            || e.tag() == dw::DW_TAG_GNU_call_site_parameter
        {
            out.push(e.clone());
        }
    }
    out
}

/// The DIE at `off`, for callers outside this module.
pub(crate) fn entry(unit: &Unit<'_>, off: UnitOffset, budget: &Budget) -> Option<Die> {
    die(unit, off, budget)
}
