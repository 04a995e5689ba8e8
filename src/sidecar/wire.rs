//! The parse-sidecar protocol on the wire, for both ends: one request, one JSON answer.
//!
//! ```text
//! GET /parse-coredump?core=<dump file>&elf=<elf file>&chip=<chip>
//! → 2xx {"output": "<report text>"}          (a missing or null output is an empty report)
//! → 4xx/5xx {"error": "<reason>"}            (any non-2xx is a failed attempt)
//! ```
//!
//! `core` and `elf` are plain basenames of files in the transfer folder both ends share.

use serde_json::{Value, json};

/// The request path.
pub const PARSE_PATH: &str = "/parse-coredump";
/// The query parameter naming the dump file.
pub const CORE_PARAM: &str = "core";
/// The query parameter naming the app ELF file.
pub const ELF_PARAM: &str = "elf";
/// The query parameter naming the chip (a hint; may be empty).
pub const CHIP_PARAM: &str = "chip";

/// The body of a success answer.
pub fn output_body(output: &str) -> Value {
    json!({ "output": output })
}

/// The body of a failure answer.
pub fn error_body(reason: &str) -> Value {
    json!({ "error": reason })
}

/// The `output` of a success answer: the body must be a JSON object; a missing `output` is an
/// empty report (as the original system did), a non-string one is an error.
pub fn output_of(body: &[u8]) -> Result<String, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("sidecar answer is not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("sidecar answer is not a JSON object: {}", kind(&v)))?;
    match obj.get("output") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "sidecar answer has a non-string output: {}",
            kind(other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short reason from a failed answer: its JSON `error`, else the start of its text.
pub fn error_detail(body: &[u8]) -> Option<String> {
    const MAX: usize = 300;
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => match v.get("error").and_then(|e| e.as_str()) {
            Some(e) => e.to_string(),
            None => return None,
        },
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_rules() {
        assert_eq!(output_of(br#"{"output":"x"}"#).unwrap(), "x");
        assert_eq!(output_of(br#"{}"#).unwrap(), "");
        assert!(
            output_of(br#"["x"]"#)
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(output_of(b"hello").unwrap_err().contains("not JSON"));
        assert!(output_of(br#"{"output":3}"#).is_err());
        let ok = serde_json::to_vec(&output_body("report")).unwrap();
        assert_eq!(output_of(&ok).unwrap(), "report");
    }

    #[test]
    fn error_detail_prefers_json_error() {
        assert_eq!(
            error_detail(br#"{"error":"no  gdb\nfor esp32"}"#).as_deref(),
            Some("no gdb for esp32")
        );
        assert_eq!(error_detail(br#"{"x":1}"#), None);
        assert_eq!(error_detail(b"").as_deref(), None);
        let long = "a".repeat(1000);
        assert!(error_detail(long.as_bytes()).unwrap().chars().count() <= 301);
        let err = serde_json::to_vec(&error_body("bad dump")).unwrap();
        assert_eq!(error_detail(&err).as_deref(), Some("bad dump"));
    }
}
