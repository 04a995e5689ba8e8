//! FreeRTOS TCB (`tskTaskControlBlock`, typedef `TCB_t`) layout and task fields.
//!
//! Member offsets come from the firmware's DWARF (they vary by build: `xCoreID` exists only
//! on multi-core configurations); without
//! DWARF the two layouts seen in ESP-IDF v5 builds are chosen by TCB size (340 bytes with
//! `xCoreID`, 336 without).

use gimli::Reader as _;

use super::memory::Memory;
use super::symbols::Reader;

// The FreeRTOS `TCB_t` of ESP-IDF v5 builds, for ELFs without DWARF (member offsets read
// from the DWARF of such builds; `xCoreID` at 68 shifts the members after it by 4).

/// `sizeof(TCB_t)` of builds without `xCoreID` (single-core targets); 340 with it.
const TCB_SIZE_WITHOUT_CORE_ID: u32 = 336;
/// Offset of `pxTopOfStack`, the saved stack pointer (first member).
const PX_TOP_OF_STACK: u32 = 0;
/// Offset of `uxPriority`.
const UX_PRIORITY: u32 = 44;
/// Offset of `pxStack`, the stack's lowest address.
const PX_STACK: u32 = 48;
/// Offset of `pcTaskName` (also ESP-IDF's `StaticTask_t.ucDummy7`).
const PC_TASK_NAME: u32 = 52;
/// `configMAX_TASK_NAME_LEN` of ESP-IDF (the `pcTaskName` array length).
const MAX_TASK_NAME_LEN: u32 = 16;
/// Offset of `pxEndOfStack` with `xCoreID`.
const PX_END_OF_STACK: u32 = 72;
/// Offset of `uxBasePriority` with `xCoreID`.
const UX_BASE_PRIORITY: u32 = 76;
/// Bytes `xCoreID` takes; the members after it move down by this without it.
const CORE_ID_SIZE: u32 = 4;

/// Compile units looked at for the TCB type.
const MAX_UNITS: usize = 100_000;
/// Units other than `tasks.c` remembered for a second search.
const MAX_OTHER_UNITS: usize = 4096;
/// Units other than `tasks.c` searched.
const MAX_OTHER_UNITS_SEARCHED: usize = 64;
/// DIEs visited in one unit.
const MAX_DIES_PER_UNIT: usize = 2_000_000;
/// Members read from the TCB type.
const MAX_MEMBERS: usize = 256;
/// Longest task name read when DWARF gives its array length.
const MAX_NAME_LEN: u32 = 64;

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
    /// The ESP-IDF v5 layout for a TCB of `size` bytes: without `xCoreID` when the size says
    /// so, with it otherwise.
    pub fn fallback(size: Option<u32>) -> TcbLayout {
        let shift = if size == Some(TCB_SIZE_WITHOUT_CORE_ID) {
            CORE_ID_SIZE
        } else {
            0
        };
        TcbLayout {
            size,
            px_top_of_stack: PX_TOP_OF_STACK,
            ux_priority: UX_PRIORITY,
            px_stack: PX_STACK,
            pc_task_name: PC_TASK_NAME,
            name_len: MAX_TASK_NAME_LEN,
            px_end_of_stack: Some(PX_END_OF_STACK - shift),
            ux_base_priority: Some(UX_BASE_PRIORITY - shift),
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
        if n > MAX_UNITS {
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
        } else if others.len() < MAX_OTHER_UNITS {
            others.push(header);
        }
    }
    let mut budget = 0usize;
    for header in others {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        budget += 1;
        if budget > MAX_OTHER_UNITS_SEARCHED {
            break;
        }
        if let Some(l) = search_unit(dwarf, &unit) {
            return Some(l);
        }
    }
    None
}

/// `struct tskTaskControlBlock` in one unit (the `tasks.c` unit, found by a caller that knows
/// its address).
pub(crate) fn layout_in_unit(
    dwarf: &gimli::Dwarf<Reader>,
    unit: &gimli::Unit<Reader>,
) -> Option<TcbLayout> {
    search_unit(dwarf, unit)
}

fn search_unit(dwarf: &gimli::Dwarf<Reader>, unit: &gimli::Unit<Reader>) -> Option<TcbLayout> {
    let mut cursor = unit.entries();
    let mut visited = 0usize;
    // Only top-level DIEs (depth 1) can be the struct definition.
    while let Ok(Some(entry)) = cursor.next_dfs() {
        visited += 1;
        if visited > MAX_DIES_PER_UNIT {
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
        if fields.len() > MAX_MEMBERS {
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
    // Name length: distance to the next member (configMAX_TASK_NAME_LEN).
    let name_len = fields
        .iter()
        .map(|(_, o)| *o)
        .filter(|&o| o > name_off)
        .min()
        .map(|next| (next - name_off).min(MAX_NAME_LEN))
        .unwrap_or(MAX_TASK_NAME_LEN);
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
