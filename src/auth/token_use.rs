//! When an API token was last used, recorded without a write per request: the first use of a
//! token in a [`TokenUse::INTERVAL`] is written (by the caller, off the request), the others are
//! only counted here. So `last_used_at` is at most a minute stale, and a read authenticated by a
//! token never waits for the database's write lock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::ids::TokenId;

/// The tokens whose use was last written, and when.
#[derive(Default)]
pub struct TokenUse {
    written: Mutex<HashMap<TokenId, Instant>>,
}

impl TokenUse {
    /// How often a token's `last_used_at` is written at most.
    pub const INTERVAL: Duration = Duration::from_secs(60);
    /// Bound on remembered tokens; older entries go first (tokens are few; this is a backstop).
    const MAX_ENTRIES: usize = 10_000;

    /// Whether the use of `id` at `now` should be written; if so, it counts as written.
    pub fn due(&self, id: TokenId, now: Instant) -> bool {
        let mut map = self.written.lock();
        if let Some(at) = map.get(&id)
            && now.saturating_duration_since(*at) < Self::INTERVAL
        {
            return false;
        }
        if map.len() >= Self::MAX_ENTRIES {
            map.retain(|_, at| now.saturating_duration_since(*at) < Self::INTERVAL);
        }
        if map.len() < Self::MAX_ENTRIES {
            map.insert(id, now);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_write_per_interval_per_token() {
        let t = TokenUse::default();
        let start = Instant::now();
        assert!(t.due(TokenId(1), start));
        assert!(!t.due(TokenId(1), start + Duration::from_secs(59)));
        assert!(t.due(TokenId(2), start + Duration::from_secs(1)));
        assert!(t.due(TokenId(1), start + Duration::from_secs(61)));
    }
}
