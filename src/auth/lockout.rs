//! Failed sign-ins and the locks they lead to. Failures are counted per (user name, client
//! address) and per client address across all names:
//!
//! - [`Lockout::MAX_FAILURES`] failures of one name from one address within
//!   [`Lockout::WINDOW`] lock that name *for that address* until the window ends. Someone on the
//!   LAN who guesses the admin's password locks only themselves out, not the admin.
//! - [`Lockout::MAX_ADDRESS_FAILURES`] failures from one address, whatever the names, lock the
//!   address (a spray of names from one place).
//! - A password change lifts every lock that the user's sign-in is under
//!   (`crashbox user passwd` works from another process: the caller passes the time of the
//!   user's last password change, read from the database).
//!
//! IPv6 addresses count by their /64, the block one client usually has. The tables are bounded:
//! when full, entries that are not locked are dropped oldest first; locked entries are never
//! dropped (a flood of random names cannot lift a lock). If the table is full of locked
//! entries, new failures are not recorded (and logged): every failure is still slowed by the
//! caller's delay. This module keeps time and counts only; it knows no HTTP and no database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

/// The counted form of a client address: IPv4 as is, IPv6 by its /64 (an IPv4-mapped IPv6
/// address counts as the IPv4 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrKey(IpAddr);

impl From<IpAddr> for AddrKey {
    fn from(ip: IpAddr) -> AddrKey {
        match ip {
            IpAddr::V4(_) => AddrKey(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddrKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    AddrKey(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    since: Instant,
    /// When the entry locked: the instant it ends and the wall time it began (compared with
    /// the user's last password change).
    locked: Option<(Instant, DateTime<Utc>)>,
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry {
            failures: 0,
            since: now,
            locked: None,
        }
    }
    fn is_locked(&self, now: Instant) -> bool {
        self.locked.is_some_and(|(until, _)| now < until)
    }
    /// Locked, and not lifted by a password change after the lock began.
    fn locks(&self, now: Instant, password_changed: Option<DateTime<Utc>>) -> Option<Duration> {
        let (until, began) = self.locked?;
        let lifted = password_changed.is_some_and(|changed| changed > began);
        (now < until && !lifted).then(|| until - now)
    }
    fn stale(&self, now: Instant) -> bool {
        !self.is_locked(now) && now.saturating_duration_since(self.since) >= Lockout::WINDOW
    }
}

#[derive(Default)]
struct Tables {
    pairs: HashMap<(String, AddrKey), Entry>,
    addrs: HashMap<AddrKey, Entry>,
}

/// The failure counts and locks of one server process.
#[derive(Default)]
pub struct Lockout {
    tables: Mutex<Tables>,
}

/// Counts a failure in `map` under `key`, locking at `max`; `false` when the table is full of
/// locked entries and the failure could not be recorded.
fn count<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, Entry>,
    key: K,
    max: u32,
    cap: usize,
    now: Instant,
) -> bool {
    if !map.contains_key(&key) && map.len() >= cap {
        map.retain(|_, e| !e.stale(now));
        while map.len() >= cap {
            let oldest = map
                .iter()
                .filter(|(_, e)| !e.is_locked(now))
                .min_by_key(|(_, e)| e.since)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => return false,
            }
        }
    }
    let e = map.entry(key).or_insert_with(|| Entry::new(now));
    if e.stale(now) {
        *e = Entry::new(now);
    }
    if e.is_locked(now) {
        return true;
    }
    e.failures = e.failures.saturating_add(1);
    if e.failures >= max {
        e.locked = Some((now + Lockout::WINDOW, Utc::now()));
    }
    true
}

fn name_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl Lockout {
    /// How long a failed sign-in waits before it is answered.
    pub const DELAY: Duration = Duration::from_millis(700);
    /// Failures of one name from one address within [`Lockout::WINDOW`] that lock it there.
    pub const MAX_FAILURES: u32 = 5;
    /// Failures from one address, any names, within [`Lockout::WINDOW`] that lock the address.
    pub const MAX_ADDRESS_FAILURES: u32 = 30;
    /// How long failures are remembered (from the first), and how long a lock lasts.
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// Bound on each table.
    const MAX_ENTRIES: usize = 10_000;

    /// `Some(wait)` when sign-ins of `username` from `ip` are locked. `password_changed` is the
    /// time of the user's last password change (`None` for an unknown user): a lock that began
    /// before it no longer holds.
    pub fn locked(
        &self,
        username: &str,
        ip: IpAddr,
        password_changed: Option<DateTime<Utc>>,
        now: Instant,
    ) -> Option<Duration> {
        let addr = AddrKey::from(ip);
        let t = self.tables.lock();
        let pair = t
            .pairs
            .get(&(name_key(username), addr))
            .and_then(|e| e.locks(now, password_changed));
        let whole = t
            .addrs
            .get(&addr)
            .and_then(|e| e.locks(now, password_changed));
        pair.max(whole)
    }

    /// Records a failed sign-in of `username` from `ip` (case and surrounding spaces of the
    /// name ignored).
    pub fn failed(&self, username: &str, ip: IpAddr, now: Instant) {
        let addr = AddrKey::from(ip);
        let mut t = self.tables.lock();
        let pair_ok = count(
            &mut t.pairs,
            (name_key(username), addr),
            Self::MAX_FAILURES,
            Self::MAX_ENTRIES,
            now,
        );
        let addr_ok = count(
            &mut t.addrs,
            addr,
            Self::MAX_ADDRESS_FAILURES,
            Self::MAX_ENTRIES,
            now,
        );
        if !(pair_ok && addr_ok) {
            tracing::warn!("sign-in lockout table full of locked entries: failure not recorded");
        }
    }

    /// Forgets the failures of `username` from `ip` after a successful sign-in (the address's
    /// count across names stays).
    pub fn succeeded(&self, username: &str, ip: IpAddr) {
        let addr = AddrKey::from(ip);
        self.tables.lock().pairs.remove(&(name_key(username), addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn locks_a_name_only_for_the_failing_address() {
        let l = Lockout::default();
        let now = Instant::now();
        for _ in 0..Lockout::MAX_FAILURES {
            l.failed("Admin ", ip("10.0.0.9"), now);
        }
        assert!(l.locked("admin", ip("10.0.0.9"), None, now).is_some());
        assert!(l.locked("admin", ip("10.0.0.2"), None, now).is_none());
        let later = now + Lockout::WINDOW + Duration::from_secs(1);
        assert!(l.locked("admin", ip("10.0.0.9"), None, later).is_none());
    }

    #[test]
    fn a_password_change_lifts_locks_that_began_before_it() {
        let l = Lockout::default();
        let now = Instant::now();
        for _ in 0..Lockout::MAX_ADDRESS_FAILURES {
            l.failed("admin", ip("10.0.0.9"), now);
        }
        let changed = Utc::now() + chrono::Duration::seconds(1);
        assert!(l.locked("admin", ip("10.0.0.9"), None, now).is_some());
        assert!(
            l.locked("admin", ip("10.0.0.9"), Some(changed), now)
                .is_none()
        );
    }

    #[test]
    fn many_names_lock_the_address_and_ipv6_counts_by_64() {
        let l = Lockout::default();
        let now = Instant::now();
        for i in 0..Lockout::MAX_ADDRESS_FAILURES {
            l.failed(&format!("user{i}"), ip(&format!("2001:db8::{i:x}")), now);
        }
        assert!(l.locked("admin", ip("2001:db8::ffff"), None, now).is_some());
        assert!(l.locked("admin", ip("2001:db9::1"), None, now).is_none());
    }

    #[test]
    fn a_flood_of_names_never_lifts_a_lock() {
        let l = Lockout::default();
        let now = Instant::now();
        for _ in 0..Lockout::MAX_FAILURES {
            l.failed("admin", ip("10.0.0.9"), now);
        }
        for i in 0..(Lockout::MAX_ENTRIES + 100) {
            let a = u32::try_from(i).unwrap();
            l.failed(&format!("n{i}"), IpAddr::V4((0x0b00_0000 + a).into()), now);
        }
        assert!(l.locked("admin", ip("10.0.0.9"), None, now).is_some());
        assert!(l.tables.lock().pairs.len() <= Lockout::MAX_ENTRIES);
    }
}
