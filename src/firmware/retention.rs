//! `MAX_FIRMWARES`: which stored versions of a model an upload prunes. Pure.
//!
//! The newest `keep` versions (by upload time) stay. An older version also stays while a
//! `PENDING` dump of the *same model* was reported with it (its parse job still needs the ELF;
//! upstream's guard was not scoped to the model), and the model's current version never goes.
//! The caller adds the versions a rollout needs (target, canary, pins) to the kept set.

use std::collections::HashSet;

/// The versions to prune, given a model's versions newest first.
pub fn to_prune(
    newest_first: &[String],
    keep: usize,
    needed_by_pending: &HashSet<String>,
    current: Option<&str>,
) -> Vec<String> {
    newest_first
        .iter()
        .skip(keep)
        .filter(|v| !needed_by_pending.contains(*v) && Some(v.as_str()) != current)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::to_prune;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prunes_oldest_beyond_keep() {
        let all = v(&["5", "4", "3", "2", "1"]);
        assert_eq!(
            to_prune(&all, 3, &Default::default(), Some("5")),
            v(&["2", "1"])
        );
        assert!(to_prune(&all, 5, &Default::default(), None).is_empty());
    }

    #[test]
    fn pending_dumps_and_current_protect() {
        let all = v(&["5", "4", "3", "2", "1"]);
        let pending = ["1".to_string()].into_iter().collect();
        assert_eq!(to_prune(&all, 2, &pending, Some("2")), v(&["3"]));
        let everything = all.iter().cloned().collect();
        assert!(to_prune(&all, 1, &everything, Some("5")).is_empty());
    }
}
