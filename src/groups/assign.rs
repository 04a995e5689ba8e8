//! Which group a decoded dump joins, and when a resolved group reopens. Runs inside the
//! caller's write transaction (the parse job records its result and the dump's group in one
//! commit), so a dump is counted exactly once.
//!
//! - The dump's signature leads to a group of its model (after merges); none yet → a new open
//!   group.
//! - A dump already counted in that group (a re-parse) is not counted again; one counted in
//!   another group (the signature changed: a new algorithm, or its ELF arrived) moves.
//! - Regression: a dump joining a `resolved` group from a firmware version newer than
//!   `resolved_in_version` reopens it and marks it regressed; an older or equal version does
//!   not; a `muted` group never reopens. "Newer" is [`super::versions::compare`], else the
//!   upload order of the two versions' firmware bundles; when neither tells, it is not newer.

use rusqlite::Connection;

use super::signature::Signature;
use super::versions;
use crate::db::DbError;
use crate::db::groups::{self, Counted, DumpFacts, GroupStatus, NewGroup};
use crate::ids::{GroupId, ModelId};

/// What grouping did with one dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigned {
    /// The dump's group.
    pub group: GroupId,
    /// The group was created by this dump.
    pub created: bool,
    /// This dump reopened the resolved group.
    pub regressed: bool,
    /// The dump was counted in this other group before.
    pub moved_from: Option<GroupId>,
}

/// Puts the dump into the group its signature leads to (see the module doc).
pub fn assign(
    tx: &Connection,
    dump: &DumpFacts,
    sig: &Signature,
) -> Result<Option<Assigned>, DbError> {
    let current = groups::dump_group(tx, dump.id)?;
    let (group, created) = match groups::for_signature(tx, dump.model, &sig.hash)? {
        Some(g) => (g, false),
        None => {
            let g = groups::create(
                tx,
                &NewGroup {
                    model: dump.model,
                    signature: &sig.hash,
                    title: &sig.title,
                    reason: &sig.reason,
                    frames: &sig.frames,
                    seen: dump.uploaded_at,
                    version: &dump.version,
                },
            )?;
            (g, true)
        }
    };
    groups::set_dump_group(tx, dump.id, Some(group), Some(&sig.hash))?;
    if current == Some(group) {
        return Ok(Some(Assigned {
            group,
            created: false,
            regressed: false,
            moved_from: None,
        }));
    }
    let counted = Counted {
        device: dump.device,
        device_key: &dump.device_key,
        version: &dump.version,
        seen: dump.uploaded_at,
    };
    if let Some(old) = current {
        groups::uncount_dump(tx, old, &counted)?;
        tracing::info!(dump = %dump.id, from = %old, to = %group, "coredump moved to another crash group");
    }
    groups::count_dump(tx, group, &counted)?;
    let regressed = match groups::find(tx, group)? {
        Some(g) if g.status == GroupStatus::Resolved => match &g.resolved_in_version {
            Some(fixed) => is_newer(tx, dump.model, &dump.version, fixed)?,
            None => false,
        },
        _ => false,
    };
    if regressed {
        groups::set_status(tx, group, GroupStatus::Open, None, true)?;
        tracing::warn!(group = %group, dump = %dump.id, version = %dump.version, "resolved crash group regressed");
    }
    Ok(Some(Assigned {
        group,
        created,
        regressed,
        moved_from: current,
    }))
}

/// Whether firmware `version` is newer than `than` for this model.
pub fn is_newer(
    conn: &Connection,
    model: ModelId,
    version: &str,
    than: &str,
) -> Result<bool, DbError> {
    if let Some(order) = versions::compare(version, than) {
        return Ok(order == std::cmp::Ordering::Greater);
    }
    let a = groups::version_uploaded_at(conn, model, version)?;
    let b = groups::version_uploaded_at(conn, model, than)?;
    Ok(matches!((a, b), (Some(a), Some(b)) if a > b))
}
