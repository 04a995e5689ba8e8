//! FreeRTOS TCB (`tskTaskControlBlock`, typedef `TCB_t`) layout and task fields.
//!
//! Member offsets come from the firmware's DWARF (they vary by build, spec §2.11); without
//! DWARF the two layouts seen in ESP-IDF v5 builds are chosen by TCB size (340 bytes with
//! `xCoreID`, 336 without).

use gimli::Reader as _;

use super::memory::Memory;
use super::symbols::Reader;

/// Offsets of the TCB members the report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TcbLayout {
    pub size: Option<u32>,
    pub px_top_of_stack: u32,
    pub ux_priority: u32,
    pub px_stack: u32,
    pub pc_task_name: u32,
    pub name_len: u32,
    pub px_end_of_stack: Option<u32>,
    pub ux_base_priority: Option<u32>,
}

impl TcbLayout {
    /// The ESP-IDF v5 layout for a TCB of `size` bytes (spec §2.11 table).
    pub fn fallback(size: Option<u32>) -> TcbLayout {
        let with_core_id = size != Some(336);
        TcbLayout {
            size,
            px_top_of_stack: 0,
            ux_priority: 44,
            px_stack: 48,
            pc_task_name: 52,
            name_len: 16,
            px_end_of_stack: Some(if with_core_id { 72 } else { 68 }),
            ux_base_priority: Some(if with_core_id { 76 } else { 72 }),
        }
    }
}

/// TCB fields of one task, read from dumped memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct TcbFields {
    pub name: Option<String>,
    pub top_of_stack: Option<u32>,
    pub priority: Option<u32>,
    pub base_priority: Option<u32>,
    pub stack: Option<u32>,
    pub end_of_stack: Option<u32>,
}

/// Reads the fields of the TCB at `tcb` with `layout`.
pub(crate) fn read_fields(mem: &Memory, tcb: u32, layout: &TcbLayout) -> TcbFields {
    let rd = |off: u32| tcb.checked_add(off).and_then(|a| mem.read_u32(a));
    let name = tcb
        .checked_add(layout.pc_task_name)
        .and_then(|a| mem.read(a, layout.name_len))
        .map(|b| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
        });
    TcbFields {
        name,
        top_of_stack: rd(layout.px_top_of_stack),
        priority: rd(layout.ux_priority),
        base_priority: layout.ux_base_priority.and_then(rd),
        stack: rd(layout.px_stack),
        end_of_stack: layout.px_end_of_stack.and_then(rd),
    }
}

/// Finds `struct tskTaskControlBlock` in DWARF. Looks in the `tasks.c` unit first (where
/// FreeRTOS defines it), then in all units, with a bounded number of DIEs visited.
pub(crate) fn layout_from_dwarf(dwarf: &gimli::Dwarf<Reader>) -> Option<TcbLayout> {
    let mut others = Vec::new();
    let mut units = dwarf.units();
    let mut n = 0;
    while let Ok(Some(header)) = units.next() {
        n += 1;
        if n > 100_000 {
            break;
        }
        let Ok(unit) = dwarf.unit(header.clone()) else {
            continue;
        };
        let is_tasks = unit
            .name
            .as_ref()
            .and_then(|r| r.to_slice().ok().map(|s| s.ends_with(b"tasks.c")))
            .unwrap_or(false);
        if is_tasks {
            if let Some(l) = search_unit(dwarf, &unit) {
                return Some(l);
            }
        } else if others.len() < 4096 {
            others.push(header);
        }
    }
    let mut budget = 0usize;
    for header in others {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        budget += 1;
        if budget > 64 {
            break;
        }
        if let Some(l) = search_unit(dwarf, &unit) {
            return Some(l);
        }
    }
    None
}

fn search_unit(dwarf: &gimli::Dwarf<Reader>, unit: &gimli::Unit<Reader>) -> Option<TcbLayout> {
    let mut cursor = unit.entries();
    let mut visited = 0usize;
    // Only top-level DIEs (depth 1) can be the struct definition.
    while let Ok(Some(entry)) = cursor.next_dfs() {
        visited += 1;
        if visited > 2_000_000 {
            return None;
        }
        if entry.depth() != 1 || entry.tag() != gimli::DW_TAG_structure_type {
            continue;
        }
        let name = entry
            .attr_value(gimli::DW_AT_name)
            .and_then(|v| dwarf.attr_string(unit, v).ok())
            .and_then(|r| r.to_string_lossy().ok().map(|c| c.into_owned()));
        if name.as_deref() != Some("tskTaskControlBlock") {
            continue;
        }
        if entry.attr_value(gimli::DW_AT_declaration).is_some() {
            continue;
        }
        let size = entry
            .attr_value(gimli::DW_AT_byte_size)
            .and_then(|v| v.udata_value())
            .map(|v| v as u32);
        return members(dwarf, unit, entry.offset(), size);
    }
    None
}

fn members(
    dwarf: &gimli::Dwarf<Reader>,
    unit: &gimli::Unit<Reader>,
    at: gimli::UnitOffset<usize>,
    size: Option<u32>,
) -> Option<TcbLayout> {
    let mut tree = unit.entries_tree(Some(at)).ok()?;
    let root = tree.root().ok()?;
    let mut children = root.children();
    let mut fields: Vec<(String, u32)> = Vec::new();
    while let Ok(Some(child)) = children.next() {
        if fields.len() > 256 {
            break;
        }
        let e = child.entry();
        if e.tag() != gimli::DW_TAG_member {
            continue;
        }
        let Some(name) = e
            .attr_value(gimli::DW_AT_name)
            .and_then(|v| dwarf.attr_string(unit, v).ok())
            .and_then(|r| r.to_string_lossy().ok().map(|c| c.into_owned()))
        else {
            continue;
        };
        let off = match e.attr_value(gimli::DW_AT_data_member_location) {
            Some(gimli::AttributeValue::Exprloc(expr)) => plus_uconst(expr.0),
            Some(v) => v.udata_value().map(|v| v as u32),
            None => Some(0),
        };
        if let Some(off) = off {
            fields.push((name, off));
        }
    }
    let get = |n: &str| fields.iter().find(|(f, _)| f == n).map(|(_, o)| *o);
    let name_off = get("pcTaskName")?;
    // Name length: distance to the next member (configMAX_TASK_NAME_LEN), 16 if unknown.
    let name_len = fields
        .iter()
        .map(|(_, o)| *o)
        .filter(|&o| o > name_off)
        .min()
        .map(|next| (next - name_off).min(64))
        .unwrap_or(16);
    Some(TcbLayout {
        size,
        px_top_of_stack: get("pxTopOfStack").unwrap_or(0),
        ux_priority: get("uxPriority")?,
        px_stack: get("pxStack")?,
        pc_task_name: name_off,
        name_len,
        px_end_of_stack: get("pxEndOfStack"),
        ux_base_priority: get("uxBasePriority"),
    })
}

/// `DW_OP_plus_uconst n` (the DWARF 2 form of a member offset).
fn plus_uconst(mut r: Reader) -> Option<u32> {
    let op = r.read_u8().ok()?;
    if op != gimli::DW_OP_plus_uconst.0 {
        return None;
    }
    r.read_uleb128().ok().map(|v| v as u32)
}
