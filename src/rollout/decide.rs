//! The OTA decision table: what one device is offered. Pure; the one place the precedence
//! lives (docs/rollouts.md documents the same table).
//!
//! | rule | when | offered |
//! |---|---|---|
//! | pin | the device is pinned | the pinned version |
//! | exclusion | the device is excluded | its running version (nothing new; the download is 204) |
//! | canary | a canary device, a canary version is set and not halted | the canary version |
//! | target | everything else (also canary devices of a halted canary) | the model target |

use serde::Serialize;

use crate::db::rollouts::OtaFacts;

/// Which rule decided an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The device's pin.
    Pin,
    /// The device is excluded from updates.
    Excluded,
    /// The model's canary rollout.
    Canary,
    /// The model target.
    Target,
}

impl Source {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Pin => "pin",
            Source::Excluded => "excluded",
            Source::Canary => "canary",
            Source::Target => "target",
        }
    }
}

/// What a device is offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The version to run; `None` when there is nothing (no firmware yet, or an excluded device
    /// whose running version is unknown).
    pub version: Option<String>,
    /// The rule that decided it.
    pub source: Source,
}

/// Pin > exclusion > canary > model target (see the module doc).
pub fn decide(f: &OtaFacts) -> Offer {
    if let Some(pin) = &f.pin {
        return Offer {
            version: Some(pin.clone()),
            source: Source::Pin,
        };
    }
    if f.exclude {
        return Offer {
            version: f.running.clone(),
            source: Source::Excluded,
        };
    }
    if f.in_canary
        && !f.halted
        && let Some(v) = &f.canary_version
    {
        return Offer {
            version: Some(v.clone()),
            source: Source::Canary,
        };
    }
    Offer {
        version: f.target.clone(),
        source: Source::Target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> OtaFacts {
        OtaFacts {
            target: Some("1.0".into()),
            canary_version: Some("1.1".into()),
            running: Some("0.9".into()),
            ..OtaFacts::default()
        }
    }

    fn offer(f: &OtaFacts) -> (Option<String>, Source) {
        let o = decide(f);
        (o.version, o.source)
    }

    fn v(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn every_rule_of_the_table() {
        let f = facts();
        assert_eq!(offer(&f), (v("1.0"), Source::Target), "not a canary device");
        let canary = OtaFacts {
            in_canary: true,
            ..facts()
        };
        assert_eq!(offer(&canary), (v("1.1"), Source::Canary));
        let halted = OtaFacts {
            halted: true,
            ..canary.clone()
        };
        assert_eq!(offer(&halted), (v("1.0"), Source::Target), "halted: target");
        let no_canary_version = OtaFacts {
            canary_version: None,
            ..canary.clone()
        };
        assert_eq!(offer(&no_canary_version), (v("1.0"), Source::Target));
        let excluded = OtaFacts {
            exclude: true,
            ..canary.clone()
        };
        assert_eq!(offer(&excluded), (v("0.9"), Source::Excluded));
        let excluded_unknown = OtaFacts {
            running: None,
            ..excluded.clone()
        };
        assert_eq!(offer(&excluded_unknown), (None, Source::Excluded));
        let pinned = OtaFacts {
            pin: Some("0.8".into()),
            ..excluded
        };
        assert_eq!(offer(&pinned), (v("0.8"), Source::Pin), "pin beats all");
        let nothing = OtaFacts::default();
        assert_eq!(offer(&nothing), (None, Source::Target));
    }
}
