//! The event payload (JSON, stored in the outbox) and the texts the chat channels derive from it.
//!
//! Links are added when sending ([`with_links`]) from `CRASHBOX_PUBLIC_URL`, so a base URL set
//! later also applies to queued events; without it there are no links.

use serde_json::{Value, json};

use crate::db::groups::{DumpFacts, Group};

/// The payload of an event about `group`, triggered by the dump `dump` (when there is one).
pub fn event(kind: &str, event_id: &str, group: &Group, dump: Option<&DumpFacts>) -> Value {
    let mut v = json!({
        "type": kind,
        "event_id": event_id,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "group": {
            "id": group.id.0,
            "title": group.title,
            "model": group.model.as_str(),
            "status": group.status,
            "count": group.count,
            "devices": group.devices,
            "first_version": group.first_version,
            "last_version": group.last_version,
        },
    });
    if let Some(d) = dump {
        v["dump"] = json!({
            "id": d.id.0,
            "device_id": d.device.0,
            "device_key": d.device_key,
            "firmware_version": d.version,
        });
    }
    v
}

/// The payload of a `rollout.halted` event: the group event's fields (`group`, `dump`) plus
/// `rollout` (model, the halted canary version, the model target canary devices get now).
pub fn rollout_halted(
    event_id: &str,
    group: &Group,
    dump: &DumpFacts,
    canary_version: &str,
    target: Option<&str>,
) -> Value {
    let mut v = event("rollout.halted", event_id, group, Some(dump));
    v["rollout"] = json!({
        "model": group.model.as_str(),
        "canary_version": canary_version,
        "target": target,
        "halted": true,
        "halted_by_group": group.id.0,
    });
    v
}

/// The payload of a `test` event (no group).
pub fn test(event_id: &str, channel_name: &str) -> Value {
    json!({
        "type": "test",
        "event_id": event_id,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "message": format!("Test notification from crashbox for channel {channel_name:?}"),
    })
}

/// `payload` with `links.group` and `links.dump` under `public_url` (unchanged without one).
pub fn with_links(payload: &Value, public_url: Option<&str>) -> Value {
    let mut v = payload.clone();
    let Some(base) = public_url else { return v };
    let mut links = serde_json::Map::new();
    if let Some(m) = v["rollout"]["model"].as_str() {
        links.insert("model".into(), json!(format!("{base}/models/{m}")));
    }
    if let Some(g) = v["group"]["id"].as_i64() {
        links.insert("group".into(), json!(format!("{base}/groups/{g}")));
    }
    if let (Some(d), Some(dev)) = (v["dump"]["id"].as_i64(), v["dump"]["device_id"].as_i64()) {
        links.insert(
            "dump".into(),
            json!(format!("{base}/devices/{dev}/coredumps/{d}")),
        );
    }
    if !links.is_empty() {
        v["links"] = Value::Object(links);
    }
    v
}

/// A short title and a one-paragraph message for people (chat, ntfy, e-mail), and the link.
pub struct Summary {
    /// E.g. `New crash group in m: abort() in fail_once`.
    pub title: String,
    /// Title, model, version, device and link in one text.
    pub text: String,
    /// The group page, when a public URL is configured.
    pub link: Option<String>,
}

/// The summary of a payload (with links already added).
pub fn summary(p: &Value) -> Summary {
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    let link = p["links"]["group"].as_str().map(str::to_string);
    if p["type"] == "test" {
        let title = "crashbox test notification".to_string();
        return Summary {
            text: s(&p["message"]),
            title,
            link,
        };
    }
    let g = &p["group"];
    if p["type"] == "rollout.halted" {
        let r = &p["rollout"];
        let title = format!(
            "Canary rollout halted in {}: {} ({})",
            s(&r["model"]),
            s(&r["canary_version"]),
            s(&g["title"])
        );
        let mut text = format!(
            "The canary rollout of firmware {} for model {} was halted: a new crash on a canary device ({}), crash group #{}: {}.\nCanary devices are offered the model target ({}) until an admin resumes the rollout.",
            s(&r["canary_version"]),
            s(&r["model"]),
            s(&p["dump"]["device_key"]),
            g["id"],
            s(&g["title"]),
            r["target"].as_str().unwrap_or("none"),
        );
        let link = p["links"]["model"].as_str().map(str::to_string).or(link);
        if let Some(l) = &link {
            text.push('\n');
            text.push_str(l);
        }
        return Summary { title, text, link };
    }
    let what = match p["type"].as_str() {
        Some("group.regressed") => "Crash group regressed",
        Some("group.spike") => "Crash group spiking",
        _ => "New crash group",
    };
    let title = format!("{what} in {}: {}", s(&g["model"]), s(&g["title"]));
    let mut text = format!(
        "{what} #{} in model {}: {}\nFirmware {} on device {} ({} dumps, {} devices, first seen in {}).",
        g["id"],
        s(&g["model"]),
        s(&g["title"]),
        s(&p["dump"]["firmware_version"]),
        s(&p["dump"]["device_key"]),
        g["count"],
        g["devices"],
        s(&g["first_version"]),
    );
    if let Some(l) = &link {
        text.push('\n');
        text.push_str(l);
    }
    Summary { title, text, link }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created() -> Value {
        json!({"type": "group.created", "event_id": "evt_1", "time": "2026-12-01T00:00:00Z",
            "group": {"id": 7, "title": "abort() in f", "model": "m", "status": "open",
                "count": 1, "devices": 1, "first_version": "1.0", "last_version": "1.0"},
            "dump": {"id": 42, "device_id": 3, "device_key": "k1", "firmware_version": "1.0"}})
    }

    #[test]
    fn links_only_with_a_public_url() {
        assert!(with_links(&created(), None).get("links").is_none());
        let v = with_links(&created(), Some("https://c.example"));
        assert_eq!(v["links"]["group"], "https://c.example/groups/7");
        assert_eq!(
            v["links"]["dump"],
            "https://c.example/devices/3/coredumps/42"
        );
    }

    #[test]
    fn the_summary_names_title_model_version_device_and_link() {
        let s = summary(&with_links(&created(), Some("https://c.example")));
        assert_eq!(s.title, "New crash group in m: abort() in f");
        for part in [
            "abort() in f",
            "model m",
            "Firmware 1.0",
            "device k1",
            "https://c.example/groups/7",
        ] {
            assert!(s.text.contains(part), "{part} in {}", s.text);
        }
    }
}
