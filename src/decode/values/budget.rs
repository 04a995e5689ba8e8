//! The bounds of variable evaluation for one decode: expression steps, DIEs read, bytes of
//! memory read and the decode deadline. Once one is reached every later request fails, the
//! frames keep what they have, and the analysis gets one [`Warning::VariablesLimited`].
//!
//! [`Warning::VariablesLimited`]: crate::decode::Warning::VariablesLimited

use std::cell::Cell;
use std::time::Instant;

/// DWARF expression operations evaluated per decode (every location, frame base, call-site
/// value and call target of every frame). The corpus needs a few hundred.
pub(crate) const MAX_STEPS: u64 = 200_000;
/// Operations per expression (gimli's `set_max_iterations`): GCC's longest are a few dozen.
pub(crate) const MAX_STEPS_PER_EXPR: u32 = 1_000;
/// DIEs read per decode while finding scopes, variables, types and call sites.
pub(crate) const MAX_DIES: u64 = 2_000_000;
/// Bytes of target memory read per decode for values and strings.
pub(crate) const MAX_MEMORY_BYTES: u64 = 1 << 20;

/// Counters of one decode (single-threaded: a decode runs on one thread).
pub(crate) struct Budget {
    deadline: Option<Instant>,
    steps: Cell<u64>,
    dies: Cell<u64>,
    memory: Cell<u64>,
    hit: Cell<bool>,
}

impl Budget {
    pub fn new(deadline: Option<Instant>) -> Budget {
        Budget {
            deadline,
            steps: Cell::new(0),
            dies: Cell::new(0),
            memory: Cell::new(0),
            hit: Cell::new(false),
        }
    }

    /// Whether any bound was reached (the decode then warns once).
    pub fn exhausted(&self) -> bool {
        self.hit.get()
    }

    /// False (and the budget marked spent) once the deadline has passed.
    pub fn in_time(&self) -> bool {
        if self.hit.get() {
            return false;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.hit.set(true);
            return false;
        }
        true
    }

    fn take(&self, counter: &Cell<u64>, n: u64, max: u64) -> bool {
        if self.hit.get() {
            return false;
        }
        let v = counter.get().saturating_add(n);
        counter.set(v);
        if v > max {
            self.hit.set(true);
            return false;
        }
        true
    }

    /// Spends `n` expression steps.
    pub fn step(&self, n: u64) -> bool {
        self.take(&self.steps, n, MAX_STEPS)
    }

    /// Spends one DIE read.
    pub fn die(&self) -> bool {
        self.take(&self.dies, 1, MAX_DIES)
    }

    /// Spends `n` bytes of memory reads.
    pub fn memory(&self, n: u64) -> bool {
        self.take(&self.memory, n, MAX_MEMORY_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bound_once_reached_stays_reached() {
        let b = Budget::new(None);
        assert!(b.memory(MAX_MEMORY_BYTES));
        assert!(!b.exhausted());
        assert!(!b.memory(1));
        assert!(b.exhausted());
        assert!(
            !b.step(1),
            "every counter refuses once one bound is reached"
        );
        assert!(!b.in_time());
    }

    #[test]
    fn a_past_deadline_stops_evaluation() {
        let b = Budget::new(Some(Instant::now() - Duration::from_millis(1)));
        assert!(!b.in_time());
        assert!(b.exhausted());
        assert!(Budget::new(None).in_time());
    }
}
