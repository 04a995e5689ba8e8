//! gdb's tail-call frames (`gdb/dwarf2/frame-tailcall.c`, `call_site_find_chain` in
//! `gdb/dwarf2/loc.c`): a function that ends in a jump (`j`/`jr`, a sibling call) leaves no
//! return address of its own, so the unwound caller skips it. gdb rebuilds such functions from
//! the DWARF call sites when the chain is unambiguous, and shows them as ordinary frames whose
//! PC is the tail-call site's return address; [`with_tail_calls`] does the same.
//!
//! For each pair of physical frames where the caller was unwound with CFI (gdb's DWARF
//! unwinder is the only one that looks for tail calls: none on Xtensa's windowed walk, none
//! past a scanned frame):
//! 1. the caller's call site whose return address (`DW_AT_call_return_pc`, or `DW_AT_low_pc`
//!    of a `DW_TAG_GNU_call_site`) is the caller frame's PC gives the function T it called
//!    (`DW_AT_call_origin` / `DW_AT_abstract_origin`: its low PC, or by symbol name for a
//!    declaration). T being the callee frame's function means a plain call: nothing to add;
//! 2. otherwise every chain of tail-call sites (`DW_AT_call_tail_call` / `DW_AT_GNU_tail_call`)
//!    from T that ends by tail-calling the callee is enumerated, as gdb does (depth first, a
//!    site at most once per chain), and only the part common to all of them is kept: their
//!    common prefix from the caller's side and common suffix from the callee's side. Nothing
//!    in common (two different paths), a target that cannot be computed without registers (a
//!    `DW_AT_call_target` expression, as gdb's `call_site_to_target_addr` without a frame) or
//!    an address that is no function's entry gives no frame at all.
//!
//! A tail-call frame has the registers the callee's CFI unwinds for the caller (gdb's
//! `dwarf2_tailcall_prev_register_first` changes only the PC and SP) and the callee's CFA (a
//! sibling call leaves the stack as the tail-calling function found it), so its arguments are
//! evaluated like any frame's; its callee's entry values go through its tail-call site.
//!
//! With compile units loaded lazily (`Symbolizer::new_lazy`), a function met in a unit that is
//! not loaded yet is noted and the search runs again with that unit loaded, at most
//! [`MAX_ROUNDS`] times.
//!
//! Bounds (the DWARF comes from uploaded files): chains of at most [`MAX_CHAIN_DEPTH`] sites,
//! [`MAX_VISITS`] sites entered per frame pair, [`MAX_SITES_PER_FUNCTION`] tail-call sites read
//! per function, [`MAX_CACHED_SITES`] kept per walk, [`MAX_ADDED_PER_WALK`] frames added per
//! walk, and the decode's [`Budget`] for every DIE read. Hitting a bound adds no frame for that pair: unambiguity is not proven.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use gimli::{AttributeValue, constants as dw};

use super::budget::Budget;
use super::scope::{call_site, subprogram_at};
use super::types::{Die, Unit, address, die, string, unit_ref};
use crate::decode::symbols::{Lookup, Symbolizer};
use crate::decode::unwind::{FrameTrust, RawFrame};

/// Tail-call sites in one chain (gdb has no bound; its search is exponential on hostile DWARF).
pub(crate) const MAX_CHAIN_DEPTH: usize = 32;
/// Tail-call sites entered while searching the chains between one pair of frames.
pub(crate) const MAX_VISITS: usize = 4096;
/// Tail-call sites read from one function.
pub(crate) const MAX_SITES_PER_FUNCTION: usize = 1024;
/// Tail-call frames added to one walk.
pub(crate) const MAX_ADDED_PER_WALK: usize = 64;
/// Tail-call sites kept in memory for one walk.
const MAX_CACHED_SITES: usize = 1 << 16;
/// Rounds of the search: each loads the units the previous one met and lacked.
const MAX_ROUNDS: usize = 8;
/// Addresses whose units one walk loads.
const MAX_PROBES: usize = 1024;
/// DWARF register number of the RISC-V stack pointer (x2).
const SP_REG: usize = 2;

/// The physical frames of a walk with gdb's tail-call frames inserted where the DWARF call
/// sites determine them unambiguously (trust [`FrameTrust::TailCall`]).
pub(crate) fn with_tail_calls(
    app: &Symbolizer,
    budget: &Budget,
    raw: Vec<RawFrame>,
) -> Vec<RawFrame> {
    if raw.len() < 2 {
        return raw;
    }
    // The units of the frames' functions first; those of the functions the search meets in
    // other units are loaded for the next round (units are loaded lazily, see `symbols`).
    let mut probes: Vec<u64> = raw
        .iter()
        .enumerate()
        .map(|(i, r)| u64::from(if i == 0 { r.pc } else { r.pc.wrapping_sub(1) }))
        .collect();
    let mut inserts = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let Some((found, missing)) =
            app.with_dwarf(&probes, |lookup| search_walk(lookup, app, budget, &raw))
        else {
            return raw;
        };
        inserts = found;
        let before = probes.len();
        for a in missing {
            if probes.len() >= MAX_PROBES {
                break;
            }
            if !probes.contains(&a) {
                probes.push(a);
            }
        }
        if probes.len() == before {
            break;
        }
    }
    if inserts.is_empty() {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len() + MAX_ADDED_PER_WALK);
    let mut pending = inserts.into_iter().peekable();
    for (i, f) in raw.iter().enumerate() {
        out.push(*f);
        let Some((_, pcs)) = pending.next_if(|(at, _)| *at == i) else {
            continue;
        };
        let Some(caller) = raw.get(i + 1) else {
            continue;
        };
        for pc in pcs {
            let Ok(pc) = u32::try_from(pc) else { break };
            out.push(tail_frame(f, caller, pc));
        }
    }
    out
}

/// One round of the search over every pair of frames: the tail-call frames' PCs to insert
/// after each callee index, and the addresses whose DWARF was not loaded.
fn search_walk(
    lookup: &Lookup<'_>,
    app: &Symbolizer,
    budget: &Budget,
    raw: &[RawFrame],
) -> (Vec<(usize, Vec<u64>)>, Vec<u64>) {
    let mut search = Search {
        dwarf: lookup,
        app,
        budget,
        tails: HashMap::new(),
        cached: 0,
        missing: RefCell::new(Vec::new()),
    };
    let mut out: Vec<(usize, Vec<u64>)> = Vec::new();
    let mut added = 0usize;
    for (i, pair) in raw.windows(2).enumerate() {
        if added >= MAX_ADDED_PER_WALK || !budget.in_time() {
            break;
        }
        let [callee, caller] = pair else { continue };
        if !matches!(callee.trust, FrameTrust::Context | FrameTrust::Cfi)
            || caller.trust != FrameTrust::Cfi
        {
            continue;
        }
        // gdb's `get_frame_address_in_block` for the callee.
        let probe = if i == 0 {
            callee.pc
        } else {
            callee.pc.wrapping_sub(1)
        };
        if let Some(mut pcs) = search.chain(caller.pc, probe) {
            pcs.truncate(MAX_ADDED_PER_WALK - added);
            added += pcs.len();
            out.push((i, pcs));
        }
    }
    (out, search.missing.into_inner())
}

/// A tail-call frame between `callee` and `caller`: the caller's unwound registers, the
/// callee's CFA as its CFA and stack pointer.
fn tail_frame(callee: &RawFrame, caller: &RawFrame, pc: u32) -> RawFrame {
    let mut regs = caller.regs;
    regs.cfa = callee.regs.cfa;
    if let (Some(cfa), Some(slot)) = (callee.regs.cfa, regs.regs.get_mut(SP_REG)) {
        *slot = Some(cfa);
    }
    RawFrame {
        pc,
        sp: callee.regs.cfa.or(caller.sp),
        trust: FrameTrust::TailCall,
        regs,
    }
}

/// A tail-call site: its return address and its target, when computable without registers.
#[derive(Clone, Copy)]
struct Site {
    pc: u64,
    target: Option<u64>,
}

/// The DWARF lookups of one walk, with each function's tail-call sites read once.
struct Search<'a> {
    dwarf: &'a Lookup<'a>,
    app: &'a Symbolizer,
    budget: &'a Budget,
    /// Function entry → its tail-call sites (gdb's `TYPE_TAIL_CALL_LIST` order), or `None`
    /// when the address is no function's entry.
    tails: HashMap<u64, Option<Rc<Vec<Site>>>>,
    /// Sites held by `tails`.
    cached: usize,
    /// Addresses looked up whose unit is not loaded (at most [`MAX_PROBES`]).
    missing: RefCell<Vec<u64>>,
}

/// The chains found so far, reduced to what they share (gdb's `call_site_chain`).
struct Chain {
    /// Return addresses of the first chain's sites, caller side first.
    sites: Vec<u64>,
    /// Length of the prefix all chains share.
    callers: usize,
    /// Length of the suffix all chains share.
    callees: usize,
}

impl Chain {
    /// The tail-call frames' PCs, innermost first (gdb's `pretended_chain_levels` and
    /// `pretend_pc`): the shared suffix from the callee's side, then the shared prefix, or the
    /// whole chain when there was only one.
    fn frames(&self) -> Vec<u64> {
        let len = self.sites.len();
        let levels = if self.callers == len && self.callees == len {
            len
        } else {
            (self.callers + self.callees).min(len)
        };
        (0..levels)
            .filter_map(|k| {
                if k < self.callees {
                    self.sites.iter().rev().nth(k).copied()
                } else if self.callees != len {
                    let k = k - self.callees;
                    self.callers
                        .checked_sub(k + 1)
                        .and_then(|j| self.sites.get(j).copied())
                } else {
                    None
                }
            })
            .collect()
    }
}

/// Why the search gives up: ambiguity, an unresolvable target, or a bound.
struct GiveUp;

impl<'a> Search<'a> {
    /// gdb's `call_site_find_chain` between the caller frame (PC `caller_pc`, a return
    /// address) and the callee frame (`callee_probe` inside its function): the tail-call
    /// frames' PCs, innermost (next to the callee) first; `None` when there are none or they
    /// are ambiguous.
    fn chain(&mut self, caller_pc: u32, callee_probe: u32) -> Option<Vec<u64>> {
        let callee = self.function_start(callee_probe)?;
        let ret = u64::from(caller_pc);
        let in_caller = ret.checked_sub(1)?;
        let unit = self.unit(in_caller)?;
        let (func, _) = subprogram_at(&unit, in_caller, self.budget)?;
        let site = call_site(&unit, func, ret, self.budget)?;
        let target = self.target(&unit, &site)?;
        if target == callee {
            return None;
        }
        let mut dfs = Dfs {
            callee,
            path: Vec::new(),
            on_path: HashSet::new(),
            visits: 0,
            result: None,
        };
        dfs.visit(self, target).ok()?;
        let pcs = dfs.result?.frames();
        (!pcs.is_empty()).then_some(pcs)
    }

    /// The compile unit covering `addr`; `None` without DWARF there, or when its unit is not
    /// loaded yet (then noted for the next round).
    fn unit(&self, addr: u64) -> Option<Unit<'a>> {
        let Some(ctx) = self.dwarf.context(addr) else {
            let mut missing = self.missing.borrow_mut();
            if missing.len() < MAX_PROBES && !missing.contains(&addr) {
                missing.push(addr);
            }
            return None;
        };
        ctx.find_dwarf_and_unit(addr).skip_all_loads()
    }

    /// gdb's `get_pc_function_start`: the entry of the DWARF subprogram containing `pc`, else
    /// of its function symbol.
    fn function_start(&self, pc: u32) -> Option<u64> {
        let dwarf = self
            .unit(u64::from(pc))
            .and_then(|unit| subprogram_at(&unit, u64::from(pc), self.budget))
            .and_then(|(_, entry)| entry);
        dwarf.or_else(|| {
            self.app
                .function_symbol(pc)
                .map(|(_, off)| u64::from(pc.wrapping_sub(off)))
        })
    }

    /// gdb's `call_site_to_target_addr` without a caller frame: the origin's entry (by
    /// symbol name for a declaration); a `DW_AT_call_target` expression needs registers.
    fn target(&self, unit: &Unit<'_>, site: &Die) -> Option<u64> {
        let off = site
            .attr_value(dw::DW_AT_call_origin)
            .or_else(|| site.attr_value(dw::DW_AT_abstract_origin))
            .and_then(|v| unit_ref(unit, v))?;
        let d = die(unit, off, self.budget)?;
        if d.attr_value(dw::DW_AT_declaration).is_some() {
            let name = d
                .attr_value(dw::DW_AT_linkage_name)
                .or_else(|| d.attr_value(dw::DW_AT_name))
                .and_then(|n| string(unit, n))?;
            return self.app.function_address(&name).map(u64::from);
        }
        address(unit, d.attr_value(dw::DW_AT_low_pc)?)
    }

    /// gdb's `func_addr_to_tail_call_list`: the tail-call sites of the function whose entry is
    /// `entry`; `None` when no function starts there (or the cache is full: give up).
    fn tail_sites(&mut self, entry: u64) -> Option<Rc<Vec<Site>>> {
        if let Some(known) = self.tails.get(&entry) {
            return known.clone();
        }
        if self.cached >= MAX_CACHED_SITES {
            return None;
        }
        let sites = self.read_tail_sites(entry).map(Rc::new);
        self.cached += sites.as_ref().map_or(1, |s| s.len().max(1));
        self.tails.insert(entry, sites.clone());
        sites
    }

    fn read_tail_sites(&self, entry: u64) -> Option<Vec<Site>> {
        let unit = self.unit(entry)?;
        let (func, start) = subprogram_at(&unit, entry, self.budget)?;
        if start != Some(entry) {
            return None;
        }
        let mut cursor = unit.entries_at_offset(func).ok()?;
        let base = cursor.next_dfs().ok()??.depth();
        let mut out = Vec::new();
        // Call sites belong to the nearest enclosing subprogram: skip nested ones.
        let mut nested: Option<isize> = None;
        while out.len() < MAX_SITES_PER_FUNCTION {
            if !self.budget.die() {
                return None;
            }
            let Ok(Some(e)) = cursor.next_dfs() else {
                break;
            };
            let depth = e.depth();
            if depth <= base {
                break;
            }
            if let Some(n) = nested {
                if depth > n {
                    continue;
                }
                nested = None;
            }
            match e.tag() {
                dw::DW_TAG_subprogram => nested = Some(depth),
                dw::DW_TAG_call_site | dw::DW_TAG_GNU_call_site if is_tail_call(e) => {
                    let pc = e
                        .attr_value(dw::DW_AT_call_return_pc)
                        .or_else(|| e.attr_value(dw::DW_AT_low_pc))
                        .and_then(|v| address(&unit, v));
                    if let Some(pc) = pc {
                        let target = self.target(&unit, e);
                        out.push(Site { pc, target });
                    }
                }
                _ => {}
            }
        }
        // gdb prepends each site to the function's list while reading the DIEs.
        out.reverse();
        Some(out)
    }
}

/// The depth-first enumeration of `call_site_find_chain_1`.
struct Dfs {
    /// The callee frame's function entry.
    callee: u64,
    /// The current chain's sites (return addresses), caller side first.
    path: Vec<u64>,
    on_path: HashSet<u64>,
    visits: usize,
    result: Option<Chain>,
}

impl Dfs {
    /// Follows the tail calls of the function at `func`; a chain ends when it reaches the
    /// callee (which is not searched further, as in gdb).
    fn visit(&mut self, search: &mut Search<'_>, func: u64) -> Result<(), GiveUp> {
        if func == self.callee {
            return self.candidate();
        }
        let sites = search.tail_sites(func).ok_or(GiveUp)?;
        for site in sites.iter() {
            if !search.budget.in_time() {
                return Err(GiveUp);
            }
            if self.on_path.contains(&site.pc) {
                continue;
            }
            self.visits += 1;
            if self.visits > MAX_VISITS || self.path.len() >= MAX_CHAIN_DEPTH {
                return Err(GiveUp);
            }
            let target = site.target.ok_or(GiveUp)?;
            self.on_path.insert(site.pc);
            self.path.push(site.pc);
            let r = self.visit(search, target);
            self.path.pop();
            self.on_path.remove(&site.pc);
            r?;
        }
        Ok(())
    }

    /// gdb's `chain_candidate`: the first chain is kept whole, each further one reduces it to
    /// the common prefix and suffix; nothing in common is ambiguous.
    fn candidate(&mut self) -> Result<(), GiveUp> {
        let chain = &self.path;
        let Some(r) = &mut self.result else {
            self.result = Some(Chain {
                sites: chain.clone(),
                callers: chain.len(),
                callees: chain.len(),
            });
            return Ok(());
        };
        let n = r.callers.min(chain.len());
        if let Some(k) = (0..n).find(|&k| r.sites.get(k) != chain.get(k)) {
            r.callers = k;
        }
        let n = r.callees.min(chain.len());
        if let Some(k) = (0..n).find(|&k| r.sites.iter().rev().nth(k) != chain.iter().rev().nth(k))
        {
            r.callees = k;
        }
        if r.callers == 0 && r.callees == 0 {
            return Err(GiveUp);
        }
        Ok(())
    }
}

/// Whether a call site DIE is a tail call.
fn is_tail_call(e: &Die) -> bool {
    [dw::DW_AT_call_tail_call, dw::DW_AT_GNU_tail_call]
        .into_iter()
        .any(|at| matches!(e.attr_value(at), Some(AttributeValue::Flag(true))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain gdb keeps after `chains` (site return addresses, caller side first).
    fn reduce(chains: &[&[u64]]) -> Option<Vec<u64>> {
        let mut dfs = Dfs {
            callee: 0,
            path: Vec::new(),
            on_path: HashSet::new(),
            visits: 0,
            result: None,
        };
        for c in chains {
            dfs.path = c.to_vec();
            dfs.candidate().ok()?;
        }
        dfs.result.map(|r| r.frames())
    }

    #[test]
    fn one_chain_is_kept_whole_innermost_first() {
        assert_eq!(reduce(&[&[1, 2, 3]]), Some(vec![3, 2, 1]));
    }

    #[test]
    fn several_chains_keep_their_common_prefix_and_suffix() {
        // gdb's frames: the shared suffix from the callee's side, then the shared prefix.
        assert_eq!(reduce(&[&[1, 2, 3], &[1, 4, 3]]), Some(vec![3, 1]));
        assert_eq!(reduce(&[&[1, 2, 3], &[5, 4, 3]]), Some(vec![3]));
        assert_eq!(reduce(&[&[1, 2, 3], &[1, 2, 4]]), Some(vec![2, 1]));
        assert_eq!(reduce(&[&[1, 2, 3], &[1, 4, 5, 3]]), Some(vec![3, 1]));
        // A chain met twice changes nothing.
        assert_eq!(reduce(&[&[1, 2], &[1, 2]]), Some(vec![2, 1]));
    }

    #[test]
    fn chains_with_nothing_in_common_are_ambiguous() {
        assert_eq!(reduce(&[&[1, 2], &[3, 4]]), None);
        assert_eq!(reduce(&[&[1, 2, 3], &[1, 4, 3], &[5, 6, 7]]), None);
    }
}
