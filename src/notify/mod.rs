//! Notifications: tell the lab when a crash group is created or regresses.
//!
//! - **Outbox.** [`emit_for_group`] runs inside the parse job's result commit: when the dump
//!   created or reopened a group (not a muted one), or made an open group reach a channel's
//!   spike threshold (`group.spike`), it stores the event and one delivery per
//!   matching channel (event type, model, per-group cooldown) in the same transaction
//!   ([`crate::db::notify::emit`]), so an event is never lost and never sent for an uncommitted
//!   group.
//! - **Sender.** One `std::thread` ([`sender`]) claims due deliveries (claim token + lease, like
//!   the parse jobs), sends them one after another, each attempt bounded by
//!   `Config::notify_timeout` (10 s), and marks them `sent`, schedules a retry
//!   (`Config::notify_retry`, exponential-ish: 30 s, 2 min, 10 min, 15 min) or marks them
//!   `failed` with the last error. Sequential sending with a per-attempt timeout is the chosen
//!   isolation: a dead or slow channel costs the others at most one timeout per round (once
//!   one of its deliveries failed, its other deliveries of that round are deferred to that
//!   retry time without an attempt), and uploads never wait on it (the upload path only writes
//!   rows). It is woken by [`Wake`] when
//!   a job committed events, and sweeps every few seconds.
//! - **Channels** ([`channels`]): a Standard Webhooks signed JSON webhook, a Slack-compatible
//!   webhook, ntfy and SMTP e-mail.
//!
//! Delivery is at least once: a crash between sending and recording re-sends after the lease;
//! receivers de-duplicate by the event id (`webhook-id`).

pub mod channels;
pub mod payload;
pub mod sender;
pub mod service;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use crate::db::DbError;
use crate::db::groups::{self, DumpFacts, GroupStatus};
use crate::db::notify as store;
use crate::groups::assign::Assigned;

/// Wakes the sender thread (cheap to clone).
#[derive(Clone, Default)]
pub struct Wake {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl Wake {
    /// Asks the sender to look for due deliveries now.
    pub fn wake(&self) {
        let (lock, cv) = &*self.inner;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }

    /// Waits up to `d` for a wake-up; clears it.
    pub fn wait(&self, d: Duration) {
        let (lock, cv) = &*self.inner;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut guard = cv
            .wait_timeout_while(guard, d, |woken| !*woken)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        *guard = false;
    }
}

/// A new random event id (32 hex digits).
pub fn new_event_id() -> String {
    format!("evt_{}", crate::auth::tokens::random_hex(16))
}

/// Stores the `group.created` / `group.regressed` / `group.spike` event of a dump that just
/// joined its group (not a re-parse that kept it there) and its deliveries, inside the
/// caller's transaction. `true` when a delivery was queued (wake the sender after
/// the commit).
pub fn emit_for_group(
    tx: &Connection,
    facts: &DumpFacts,
    assigned: &Assigned,
) -> Result<bool, DbError> {
    if assigned.moved_from.is_none() && !assigned.created && !assigned.regressed {
        return emit_spikes(tx, facts, assigned);
    }
    let kind = if assigned.created {
        "group.created"
    } else if assigned.regressed {
        "group.regressed"
    } else {
        return Ok(false);
    };
    let Some(group) = groups::find(tx, assigned.group)? else {
        return Ok(false);
    };
    if group.status == GroupStatus::Muted {
        return Ok(false);
    }
    let event_id = new_event_id();
    let payload = payload::event(kind, &event_id, &group, Some(facts));
    let out = store::emit(
        tx,
        kind,
        &event_id,
        Some(group.id.0),
        group.model.as_str(),
        &payload,
        None,
    )?;
    Ok(out.queued > 0)
}

/// `group.spike`: one event per channel whose threshold this dump reached (each channel has its
/// own thresholds, so each gets its own event id). Not for muted or resolved groups.
fn emit_spikes(tx: &Connection, facts: &DumpFacts, assigned: &Assigned) -> Result<bool, DbError> {
    let channels = store::spiking_channels(tx, assigned.group.0, facts.device.0)?;
    if channels.is_empty() {
        return Ok(false);
    }
    let Some(group) = groups::find(tx, assigned.group)? else {
        return Ok(false);
    };
    if group.status != GroupStatus::Open {
        return Ok(false);
    }
    let mut queued = false;
    for channel in channels {
        let event_id = new_event_id();
        let payload = payload::event("group.spike", &event_id, &group, Some(facts));
        let out = store::emit(
            tx,
            "group.spike",
            &event_id,
            Some(group.id.0),
            group.model.as_str(),
            &payload,
            Some(channel),
        )?;
        queued |= out.queued > 0;
    }
    Ok(queued)
}
