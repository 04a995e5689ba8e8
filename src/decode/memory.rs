//! The dumped target memory: a set of address ranges backed by bytes of the dump body, with
//! checked reads by address (the one interface the unwinders use, like probe-rs's
//! `MemoryInterface` over a `CoreDump`).

use super::bytes::u32_at;

/// One dumped address range (a `PT_LOAD` of the ELF core, or a task/memory record of a
/// binary dump).
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub addr: u32,
    pub data: Vec<u8>,
    /// The size the dump declared; `data` may be shorter when the dump is truncated.
    pub declared_len: u32,
}

/// In `sorted` (ordered by `start`), the nearest of the items starting at or below `key` that
/// `covers` it. Bisects, then looks back over at most `lookback` candidates, because ranges
/// may nest or overlap: regions, symbols and FDEs are all found this way.
pub(crate) fn last_covering<T, K: PartialOrd>(
    sorted: &[T],
    key: K,
    start: impl Fn(&T) -> K,
    lookback: usize,
    covers: impl Fn(&T) -> bool,
) -> Option<&T> {
    let idx = sorted.partition_point(|t| start(t) <= key);
    sorted
        .get(..idx)?
        .iter()
        .rev()
        .take(lookback)
        .find(|t| covers(t))
}

/// Whether `len` bytes at `addr` stay inside the 32-bit address space.
pub(crate) fn fits_address_space(addr: u32, len: usize) -> bool {
    u64::from(addr) + len as u64 <= 1 << u32::BITS
}

impl Region {
    /// End address (exclusive) of the bytes that are present, saturating at 4 GiB.
    pub fn end(&self) -> u64 {
        u64::from(self.addr) + self.data.len() as u64
    }

    fn contains(&self, addr: u32, len: u32) -> bool {
        let a = u64::from(addr);
        a >= u64::from(self.addr) && a + u64::from(len) <= self.end()
    }
}

/// How many regions starting at or below an address are checked for holding it.
const MAX_OVERLAPPING: usize = 16;

/// All dumped memory.
#[derive(Debug, Default, Clone)]
pub(crate) struct Memory {
    regions: Vec<Region>,
}

impl Memory {
    pub fn push(&mut self, region: Region) {
        self.regions.push(region);
    }

    /// Sorts the regions by address so lookups bisect instead of scanning thousands of
    /// segments per read. Parsers call it once when done.
    pub fn finish(&mut self) {
        self.regions.sort_by_key(|r| r.addr);
    }

    /// The region holding `[addr, addr + len)`: the last few regions starting at or below
    /// `addr` are checked (segments rarely overlap; when they do, any holder will do).
    fn find(&self, addr: u32, len: u32) -> Option<&Region> {
        last_covering(
            &self.regions,
            addr,
            |r| r.addr,
            MAX_OVERLAPPING,
            |r| r.contains(addr, len),
        )
    }

    /// `len` bytes at `addr`, if one region holds all of them.
    pub fn read(&self, addr: u32, len: u32) -> Option<&[u8]> {
        let r = self.find(addr, len)?;
        let off = usize::try_from(addr.checked_sub(r.addr)?).ok()?;
        let end = off.checked_add(usize::try_from(len).ok()?)?;
        r.data.get(off..end)
    }

    /// A little-endian word at `addr`.
    pub fn read_u32(&self, addr: u32) -> Option<u32> {
        u32_at(self.read(addr, 4)?, 0)
    }

    /// The region that holds `addr`.
    pub fn region_of(&self, addr: u32) -> Option<&Region> {
        self.find(addr, 1)
    }

    /// The region that starts exactly at `addr`.
    pub fn region_at(&self, addr: u32) -> Option<&Region> {
        let idx = self.regions.partition_point(|r| r.addr < addr);
        self.regions.get(idx).filter(|r| r.addr == addr)
    }
}
