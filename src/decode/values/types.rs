//! C types of variables, read from DWARF type DIEs into a small bounded model ([`Ty`]) with
//! gdb's name for each (`const char *`, `TaskFunction_t`, `struct foo`, `int [4]`).
//!
//! Bounds: aggregates are resolved [`MAX_TYPE_DEPTH`] levels deep (a struct inside a struct
//! inside a variable has no members: it prints as `{...}`), at most [`MAX_MEMBERS`] members
//! and [`MAX_ENUMERATORS`] enumerators are read, typedef/qualifier chains are followed at most
//! [`MAX_CHAIN`] links, and every DIE read is charged to the decode's [`Budget`].

use gimli::{AttributeValue, DwAte, UnitOffset, constants as dw};

use super::budget::Budget;
use crate::decode::symbols::Reader;

/// A compile unit of the firmware's DWARF.
pub(crate) type Unit<'a> = gimli::UnitRef<'a, Reader>;
/// A DIE of it.
pub(crate) type Die = gimli::DebuggingInformationEntry<Reader>;

/// Aggregate levels resolved below a variable.
pub(crate) const MAX_TYPE_DEPTH: usize = 2;
/// Members (or array dimensions) read per aggregate.
pub(crate) const MAX_MEMBERS: usize = 64;
/// Enumerators read per enum.
pub(crate) const MAX_ENUMERATORS: usize = 512;
/// Typedef, qualifier, origin and pointer links followed in a row.
pub(crate) const MAX_CHAIN: usize = 16;

/// What a pointer points to, as far as printing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pointee {
    /// A character type: gdb prints the string it points to.
    Char,
    /// A function: gdb prints `<symbol>`.
    Func,
    /// Anything else.
    Other,
}

/// A member of a struct or union.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub name: String,
    /// Byte offset in the aggregate.
    pub offset: u64,
    /// Bit-field: (bit offset from `offset`, width in bits).
    pub bits: Option<(u64, u64)>,
    pub ty: Ty,
}

/// The shape of a C type (typedefs and qualifiers removed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    Void,
    /// Integer, character, boolean or floating-point type of `size` bytes.
    Base {
        size: u64,
        enc: DwAte,
    },
    Pointer {
        size: u64,
        pointee: Pointee,
    },
    Enum {
        size: u64,
        signed: bool,
        values: Vec<(String, i64)>,
    },
    /// `members` is `None` past [`MAX_TYPE_DEPTH`].
    Struct {
        size: u64,
        union: bool,
        members: Option<Vec<Field>>,
    },
    Array {
        elem: Box<Ty>,
        count: Option<u64>,
    },
    Func,
    Unknown,
}

impl Ty {
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Ty::Base { size, .. }
            | Ty::Pointer { size, .. }
            | Ty::Enum { size, .. }
            | Ty::Struct { size, .. } => *size,
            Ty::Array { elem, count } => elem.size().saturating_mul(count.unwrap_or(0)),
            Ty::Void | Ty::Func | Ty::Unknown => 0,
        }
    }

    /// gdb's `val_print_scalar_type_p`: not a struct, union or array.
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Ty::Struct { .. } | Ty::Array { .. })
    }

    /// A character type (`char`, `signed char`, `unsigned char`, `int8_t`).
    pub fn is_char(&self) -> bool {
        matches!(self, Ty::Base { size: 1, enc } if *enc == dw::DW_ATE_signed_char || *enc == dw::DW_ATE_unsigned_char)
    }
}

/// Reads the DIE at `off`, charging the budget.
pub(crate) fn die(unit: &Unit<'_>, off: UnitOffset, budget: &Budget) -> Option<Die> {
    if !budget.die() {
        return None;
    }
    unit.entry(off).ok()
}

/// An address attribute's value (`DW_FORM_addr`, or an index into `.debug_addr`).
pub(crate) fn address(unit: &Unit<'_>, v: AttributeValue<Reader>) -> Option<u64> {
    match v {
        AttributeValue::Addr(a) => Some(a),
        AttributeValue::DebugAddrIndex(i) => unit.address(i).ok(),
        _ => None,
    }
}

/// The unit offset an attribute refers to (`DW_FORM_ref*`, or a `.debug_info` reference
/// inside this unit).
pub(crate) fn unit_ref(unit: &Unit<'_>, v: AttributeValue<Reader>) -> Option<UnitOffset> {
    match v {
        AttributeValue::UnitRef(o) => Some(o),
        AttributeValue::DebugInfoRef(o) => o.to_unit_offset(&unit.header),
        _ => None,
    }
}

/// An attribute of `die`, or of the DIE its `DW_AT_abstract_origin`/`DW_AT_specification`
/// names (concrete inlined and out-of-line instances keep names and types there).
pub(crate) fn attr_inherited(
    unit: &Unit<'_>,
    die_: &Die,
    at: gimli::DwAt,
    budget: &Budget,
) -> Option<AttributeValue<Reader>> {
    if let Some(v) = die_.attr_value(at) {
        return Some(v);
    }
    let mut cur = origin(unit, die_, budget)?;
    for _ in 0..MAX_CHAIN {
        if let Some(v) = cur.attr_value(at) {
            return Some(v);
        }
        cur = origin(unit, &cur, budget)?;
    }
    None
}

/// The DIE named by `DW_AT_abstract_origin` or `DW_AT_specification`.
pub(crate) fn origin(unit: &Unit<'_>, d: &Die, budget: &Budget) -> Option<Die> {
    let v = d
        .attr_value(dw::DW_AT_abstract_origin)
        .or_else(|| d.attr_value(dw::DW_AT_specification))?;
    die(unit, unit_ref(unit, v)?, budget)
}

/// A string attribute as text.
pub(crate) fn string(unit: &Unit<'_>, v: AttributeValue<Reader>) -> Option<String> {
    let r = unit.attr_string(v).ok()?;
    let s = gimli::Reader::to_string_lossy(&r).ok()?;
    Some(s.into_owned())
}

/// The name of `d` (inherited from its origin).
pub(crate) fn name(unit: &Unit<'_>, d: &Die, budget: &Budget) -> Option<String> {
    string(unit, attr_inherited(unit, d, dw::DW_AT_name, budget)?)
}

/// An unsigned constant attribute.
pub(crate) fn udata(v: &AttributeValue<Reader>) -> Option<u64> {
    match *v {
        AttributeValue::Data1(x) => Some(u64::from(x)),
        AttributeValue::Data2(x) => Some(u64::from(x)),
        AttributeValue::Data4(x) => Some(u64::from(x)),
        AttributeValue::Data8(x) => Some(x),
        AttributeValue::Udata(x) => Some(x),
        AttributeValue::Sdata(x) => u64::try_from(x).ok(),
        _ => None,
    }
}

/// A signed constant attribute (fixed-size forms are taken as unsigned, as GCC writes them).
pub(crate) fn sdata(v: &AttributeValue<Reader>) -> Option<i64> {
    match *v {
        AttributeValue::Sdata(x) => Some(x),
        _ => udata(v).map(|x| x as i64),
    }
}

fn byte_size(d: &Die) -> u64 {
    d.attr_value(dw::DW_AT_byte_size)
        .as_ref()
        .and_then(udata)
        .unwrap_or(0)
}

/// The target of `DW_AT_type`, if any (`None` = void).
fn type_of(unit: &Unit<'_>, d: &Die) -> Option<UnitOffset> {
    unit_ref(unit, d.attr_value(dw::DW_AT_type)?)
}

/// Follows typedefs and qualifiers from `off` to the DIE that gives the type its shape.
fn strip(unit: &Unit<'_>, off: UnitOffset, budget: &Budget) -> Option<Die> {
    let mut d = die(unit, off, budget)?;
    for _ in 0..MAX_CHAIN {
        match d.tag() {
            dw::DW_TAG_typedef
            | dw::DW_TAG_const_type
            | dw::DW_TAG_volatile_type
            | dw::DW_TAG_restrict_type
            | dw::DW_TAG_atomic_type => match type_of(unit, &d) {
                Some(next) => d = die(unit, next, budget)?,
                None => return Some(d),
            },
            _ => return Some(d),
        }
    }
    None
}

/// The type at `off` (`None` = `void`), resolved `depth` aggregate levels below a variable.
pub(crate) fn resolve(
    unit: &Unit<'_>,
    off: Option<UnitOffset>,
    depth: usize,
    budget: &Budget,
) -> Ty {
    let Some(off) = off else { return Ty::Void };
    let Some(d) = strip(unit, off, budget) else {
        return Ty::Unknown;
    };
    match d.tag() {
        dw::DW_TAG_base_type => {
            let enc = match d.attr_value(dw::DW_AT_encoding) {
                Some(AttributeValue::Encoding(e)) => e,
                _ => dw::DW_ATE_signed,
            };
            Ty::Base {
                size: byte_size(&d),
                enc,
            }
        }
        dw::DW_TAG_pointer_type | dw::DW_TAG_reference_type | dw::DW_TAG_rvalue_reference_type => {
            let size = match byte_size(&d) {
                0 => u64::from(unit.encoding().address_size),
                n => n,
            };
            let pointee = match type_of(unit, &d).and_then(|t| strip(unit, t, budget)) {
                Some(t) if t.tag() == dw::DW_TAG_subroutine_type => Pointee::Func,
                Some(t)
                    if t.tag() == dw::DW_TAG_base_type
                        && byte_size(&t) == 1
                        && matches!(
                            t.attr_value(dw::DW_AT_encoding),
                            Some(AttributeValue::Encoding(e))
                                if e == dw::DW_ATE_signed_char || e == dw::DW_ATE_unsigned_char
                        ) =>
                {
                    Pointee::Char
                }
                _ => Pointee::Other,
            };
            Ty::Pointer { size, pointee }
        }
        dw::DW_TAG_enumeration_type => enumeration(unit, &d, budget),
        dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type => Ty::Struct {
            size: byte_size(&d),
            union: d.tag() == dw::DW_TAG_union_type,
            members: (depth < MAX_TYPE_DEPTH).then(|| fields(unit, &d, depth, budget)),
        },
        dw::DW_TAG_array_type => array(unit, &d, depth, budget),
        dw::DW_TAG_subroutine_type => Ty::Func,
        _ => Ty::Unknown,
    }
}

fn enumeration(unit: &Unit<'_>, d: &Die, budget: &Budget) -> Ty {
    let mut values = Vec::new();
    if let Ok(mut tree) = unit.entries_tree(Some(d.offset()))
        && let Ok(root) = tree.root()
    {
        let mut children = root.children();
        while let Ok(Some(c)) = children.next() {
            if !budget.die() || values.len() >= MAX_ENUMERATORS {
                break;
            }
            let e = c.entry();
            if e.tag() != dw::DW_TAG_enumerator {
                continue;
            }
            let (Some(n), Some(v)) = (
                e.attr_value(dw::DW_AT_name).and_then(|n| string(unit, n)),
                e.attr_value(dw::DW_AT_const_value).as_ref().and_then(sdata),
            ) else {
                continue;
            };
            values.push((n, v));
        }
    }
    let signed = match type_of(unit, d).and_then(|t| strip(unit, t, budget)) {
        Some(t) => matches!(
            t.attr_value(dw::DW_AT_encoding),
            Some(AttributeValue::Encoding(e)) if e == dw::DW_ATE_signed || e == dw::DW_ATE_signed_char
        ),
        None => values.iter().any(|(_, v)| *v < 0),
    };
    Ty::Enum {
        size: byte_size(d),
        signed,
        values,
    }
}

fn fields(unit: &Unit<'_>, d: &Die, depth: usize, budget: &Budget) -> Vec<Field> {
    let mut out = Vec::new();
    let Ok(mut tree) = unit.entries_tree(Some(d.offset())) else {
        return out;
    };
    let Ok(root) = tree.root() else { return out };
    let mut children = root.children();
    while let Ok(Some(c)) = children.next() {
        if !budget.die() || out.len() >= MAX_MEMBERS {
            break;
        }
        let e = c.entry();
        if e.tag() != dw::DW_TAG_member {
            continue;
        }
        let name = e
            .attr_value(dw::DW_AT_name)
            .and_then(|n| string(unit, n))
            .unwrap_or_default();
        let ty = resolve(unit, type_of(unit, e), depth + 1, budget);
        let byte_off = e
            .attr_value(dw::DW_AT_data_member_location)
            .as_ref()
            .and_then(udata);
        let bit_size = e.attr_value(dw::DW_AT_bit_size).as_ref().and_then(udata);
        let (offset, bits) = match bit_size {
            Some(w) => {
                // DWARF 4+: DW_AT_data_bit_offset from the start of the struct; DWARF 2/3:
                // DW_AT_bit_offset counts from the storage unit's most significant bit.
                if let Some(dbo) = e
                    .attr_value(dw::DW_AT_data_bit_offset)
                    .as_ref()
                    .and_then(udata)
                {
                    (dbo / 8, Some((dbo % 8, w)))
                } else {
                    let unit_size = byte_size(e).max(ty.size());
                    let msb = e
                        .attr_value(dw::DW_AT_bit_offset)
                        .as_ref()
                        .and_then(udata)
                        .unwrap_or(0);
                    let lsb = (unit_size * 8).saturating_sub(msb).saturating_sub(w);
                    (byte_off.unwrap_or(0), Some((lsb, w)))
                }
            }
            None => (byte_off.unwrap_or(0), None),
        };
        out.push(Field {
            name,
            offset,
            bits,
            ty,
        });
    }
    out
}

fn array(unit: &Unit<'_>, d: &Die, depth: usize, budget: &Budget) -> Ty {
    let elem = resolve(unit, type_of(unit, d), depth + 1, budget);
    let mut dims = Vec::new();
    if let Ok(mut tree) = unit.entries_tree(Some(d.offset()))
        && let Ok(root) = tree.root()
    {
        let mut children = root.children();
        while let Ok(Some(c)) = children.next() {
            if !budget.die() || dims.len() >= MAX_CHAIN {
                break;
            }
            let e = c.entry();
            if e.tag() != dw::DW_TAG_subrange_type {
                continue;
            }
            let count = e
                .attr_value(dw::DW_AT_count)
                .as_ref()
                .and_then(udata)
                .or_else(|| {
                    let hi = e
                        .attr_value(dw::DW_AT_upper_bound)
                        .as_ref()
                        .and_then(sdata)?;
                    let lo = e
                        .attr_value(dw::DW_AT_lower_bound)
                        .as_ref()
                        .and_then(sdata)
                        .unwrap_or(0);
                    u64::try_from(hi.checked_sub(lo)?.checked_add(1)?).ok()
                });
            dims.push(count);
        }
    }
    if dims.is_empty() {
        dims.push(None);
    }
    dims.iter().rev().fold(elem, |inner, count| Ty::Array {
        elem: Box::new(inner),
        count: *count,
    })
}

/// gdb's name for the type at `off` (`None` = `void`).
pub(crate) fn type_name(unit: &Unit<'_>, off: Option<UnitOffset>, budget: &Budget) -> String {
    let (prefix, suffix) = name_parts(unit, off, budget, 0);
    format!("{prefix}{suffix}")
}

/// The name in two parts, as C declarators need: `char [4]` is ("char ", "[4]"), a function
/// pointer `void (*)(void *)` is ("void (*", ")(void *)").
fn name_parts(
    unit: &Unit<'_>,
    off: Option<UnitOffset>,
    budget: &Budget,
    depth: usize,
) -> (String, String) {
    let Some(off) = off else {
        return ("void".into(), String::new());
    };
    if depth > MAX_CHAIN {
        return ("?".into(), String::new());
    }
    let Some(d) = die(unit, off, budget) else {
        return ("?".into(), String::new());
    };
    let own = || d.attr_value(dw::DW_AT_name).and_then(|n| string(unit, n));
    let next = type_of(unit, &d);
    match d.tag() {
        dw::DW_TAG_base_type | dw::DW_TAG_typedef => {
            (own().unwrap_or_else(|| "?".into()), String::new())
        }
        dw::DW_TAG_structure_type => (
            format!("struct {}", own().unwrap_or_else(|| "{...}".into())),
            String::new(),
        ),
        dw::DW_TAG_class_type => (
            format!("class {}", own().unwrap_or_else(|| "{...}".into())),
            String::new(),
        ),
        dw::DW_TAG_union_type => (
            format!("union {}", own().unwrap_or_else(|| "{...}".into())),
            String::new(),
        ),
        dw::DW_TAG_enumeration_type => (
            format!("enum {}", own().unwrap_or_else(|| "{...}".into())),
            String::new(),
        ),
        dw::DW_TAG_const_type | dw::DW_TAG_volatile_type => {
            let q = if d.tag() == dw::DW_TAG_const_type {
                "const"
            } else {
                "volatile"
            };
            let (p, s) = name_parts(unit, next, budget, depth + 1);
            if p.ends_with('*') {
                (format!("{p} {q}"), s)
            } else {
                (format!("{q} {p}"), s)
            }
        }
        dw::DW_TAG_pointer_type | dw::DW_TAG_reference_type => {
            let star = if d.tag() == dw::DW_TAG_pointer_type {
                "*"
            } else {
                "&"
            };
            let target = next.and_then(|t| die(unit, t, budget));
            if let Some(t) = target
                .as_ref()
                .filter(|t| t.tag() == dw::DW_TAG_subroutine_type)
            {
                let (rp, rs) = name_parts(unit, type_of(unit, t), budget, depth + 1);
                let params = subroutine_params(unit, t, budget, depth);
                (format!("{rp} ({star}"), format!("){params}{rs}"))
            } else {
                let (p, s) = name_parts(unit, next, budget, depth + 1);
                if s.is_empty() {
                    let sep = if p.ends_with('*') { "" } else { " " };
                    (format!("{p}{sep}{star}"), s)
                } else {
                    (format!("{p}({star}"), format!("){s}"))
                }
            }
        }
        dw::DW_TAG_array_type => {
            let (p, s) = name_parts(unit, next, budget, depth + 1);
            let dims = match resolve(unit, Some(off), MAX_TYPE_DEPTH, budget) {
                Ty::Array { count, .. } => count.map(|c| c.to_string()).unwrap_or_default(),
                _ => String::new(),
            };
            (format!("{p} "), format!("[{dims}]{s}"))
        }
        dw::DW_TAG_subroutine_type => {
            let (rp, rs) = name_parts(unit, next, budget, depth + 1);
            (
                format!("{rp} "),
                format!("{}{rs}", subroutine_params(unit, &d, budget, depth)),
            )
        }
        _ => ("?".into(), String::new()),
    }
}

fn subroutine_params(unit: &Unit<'_>, d: &Die, budget: &Budget, depth: usize) -> String {
    let mut params = Vec::new();
    let mut variadic = false;
    if let Ok(mut tree) = unit.entries_tree(Some(d.offset()))
        && let Ok(root) = tree.root()
    {
        let mut children = root.children();
        while let Ok(Some(c)) = children.next() {
            if !budget.die() || params.len() >= MAX_MEMBERS {
                break;
            }
            match c.entry().tag() {
                dw::DW_TAG_formal_parameter => {
                    let (p, s) = name_parts(unit, type_of(unit, c.entry()), budget, depth + 1);
                    params.push(format!("{p}{s}"));
                }
                dw::DW_TAG_unspecified_parameters => variadic = true,
                _ => {}
            }
        }
    }
    if variadic {
        params.push("...".into());
    }
    if params.is_empty() && d.attr_value(dw::DW_AT_prototyped).is_some() {
        params.push("void".into());
    }
    format!("({})", params.join(", "))
}
