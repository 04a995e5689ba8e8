//! The "ALL MEMORY REGIONS" listing: firmware sections merged with the dumped segments, in
//! the order and format of esp-coredump's `print_all_memory_regions`.

use object::elf::{
    PF_R, PF_W, PF_X, SHF_ALLOC, SHF_EXECINSTR, SHF_MASKPROC, SHF_WRITE, SHT_PROGBITS,
};

use super::analysis::MemoryRegion;
use super::dump::Dump;
use super::symbols::Symbolizer;

/// "ALL MEMORY REGIONS", as esp-coredump's `print_all_memory_regions` builds it:
/// PROGBITS sections with an address, each merged with the dumped segments that touch it
/// (those segments are then consumed), then the remaining segments.
pub(crate) fn memory_regions(app: Option<&Symbolizer>, dump: &Dump) -> Vec<MemoryRegion> {
    let mut out = Vec::new();
    let mut segs: Vec<(u64, u64, u32)> = dump
        .segments
        .iter()
        .map(|s| (u64::from(s.addr), u64::from(s.size), s.flags))
        .collect();
    if let Some(sym) = app {
        for sec in sym.sections() {
            if sec.sh_type != SHT_PROGBITS.0 || sec.addr == 0 {
                continue;
            }
            let has = |flag: u64| u64::from(sec.sh_flags) & flag != 0;
            let attrs = if has(SHF_MASKPROC) {
                "MS".to_string()
            } else {
                format!(
                    "R{}{}{}",
                    if has(SHF_WRITE.0) { 'W' } else { ' ' },
                    if has(SHF_EXECINSTR.0) { 'X' } else { ' ' },
                    if has(SHF_ALLOC.0) { 'A' } else { ' ' }
                )
            };
            let (sa, sl) = (u64::from(sec.addr), u64::from(sec.size));
            let mut merged = false;
            // Python iterates the list while removing from it, which skips the element after
            // each removed one; mirror that so the listing stays identical.
            let mut i = 0;
            while let Some(&(ga, gl, _)) = segs.get(i) {
                let row = if ga <= sa && sa <= ga + gl {
                    Some((
                        ga,
                        if ga + gl <= sa + sl {
                            sl + (sa - ga)
                        } else {
                            gl
                        },
                    ))
                } else if sa <= ga && ga <= sa + sl {
                    Some((
                        sa,
                        if ga + gl >= sa + sl {
                            sl + (ga + gl) - (sa + sl)
                        } else {
                            sl
                        },
                    ))
                } else {
                    None
                };
                if let Some((addr, len)) = row {
                    out.push(MemoryRegion {
                        name: sec.name.clone(),
                        address: addr as u32,
                        size: len.min(u64::from(u32::MAX)) as u32,
                        attrs: attrs.clone(),
                    });
                    segs.remove(i);
                    merged = true;
                }
                i += 1;
            }
            if !merged {
                out.push(MemoryRegion {
                    name: sec.name.clone(),
                    address: sec.addr,
                    size: sec.size,
                    attrs,
                });
            }
        }
    }
    for (addr, len, flags) in segs {
        // core dump exec segments are from ROM, the others belong to tasks
        let has = |flag: u32| flags & flag != 0;
        let name = if has(PF_X.0) {
            ".coredump.rom.text"
        } else {
            ".coredump.tasks.data"
        };
        let attrs = format!(
            "{}{}{}",
            if has(PF_R.0) { 'R' } else { ' ' },
            if has(PF_W.0) { 'W' } else { ' ' },
            if has(PF_X.0) { 'E' } else { ' ' }
        );
        out.push(MemoryRegion {
            name: name.into(),
            address: addr as u32,
            size: len as u32,
            attrs,
        });
    }
    out
}
