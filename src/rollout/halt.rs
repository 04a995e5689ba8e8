//! The automatic halt: inside the parse job's result commit, a dump that created a crash group
//! (or reopened a resolved one) halts its model's canary when the dump came from a canary device
//! running the canary version. The halt, its audit entry (actor `crashbox`) and the
//! `rollout.halted` notification event are written in that same transaction.

use rusqlite::Connection;
use serde_json::json;

use crate::audit::{self, Actor};
use crate::db::DbError;
use crate::db::groups::{self, DumpFacts};
use crate::db::notify as outbox;
use crate::db::{models, rollouts};
use crate::groups::assign::Assigned;
use crate::ids::GroupId;
use crate::notify::{new_event_id, payload};

/// What a halt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halted {
    /// The group that halted the canary.
    pub group: GroupId,
    /// A notification was queued (wake the sender after the commit).
    pub notified: bool,
}

/// Halts the canary of the dump's model when the rule of the module doc holds.
pub fn on_grouped(
    tx: &Connection,
    facts: &DumpFacts,
    assigned: &Assigned,
) -> Result<Option<Halted>, DbError> {
    if !assigned.created && !assigned.regressed {
        return Ok(None);
    }
    let canary = rollouts::find(tx, facts.model)?;
    let Some(version) = canary.version.as_deref() else {
        return Ok(None);
    };
    if canary.halted
        || version != facts.version
        || !rollouts::is_canary_device(tx, facts.model, facts.device)?
    {
        return Ok(None);
    }
    if !rollouts::halt(tx, facts.model, assigned.group)? {
        return Ok(None);
    }
    let target = models::find(tx, facts.model)?
        .and_then(|m| m.firmware_version)
        .map(|v| v.to_string());
    audit::record(
        tx,
        &Actor::System,
        "rollout.halt",
        &format!("model:{}", facts.model_code),
        json!({
            "model": facts.model_code.as_str(),
            "version": version,
            "group": assigned.group,
            "coredump": facts.id,
            "device": facts.device_key,
            "why": if assigned.created { "new crash group" } else { "crash group regressed" },
        }),
    )?;
    tracing::warn!(model = %facts.model_code, version, group = %assigned.group, device = %facts.device_key, "canary rollout halted");
    let mut notified = false;
    if let Some(group) = groups::find(tx, assigned.group)? {
        let event_id = new_event_id();
        let p = payload::rollout_halted(&event_id, &group, facts, version, target.as_deref());
        let out = outbox::emit(
            tx,
            "rollout.halted",
            &event_id,
            Some(group.id.0),
            facts.model_code.as_str(),
            &p,
            None,
        )?;
        notified = out.queued > 0;
    }
    Ok(Some(Halted {
        group: assigned.group,
        notified,
    }))
}
