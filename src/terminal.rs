//! Text bound for a terminal or a log when part of it came from a device (task names, panic
//! reasons, strings read from a dump's memory): control characters (ESC, BEL, …, except line
//! breaks and tabs) and the bidirectional overrides that can make a line read differently from
//! what it holds are written as `\u{…}` escapes, so a dump cannot move the cursor, recolour,
//! retitle or reorder the operator's terminal.

use std::borrow::Cow;

/// The bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// `text` with every control character but `\n` and `\t`, and every bidi control, escaped.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bidi() {
        assert_eq!(escape("task\tmain\n"), "task\tmain\n");
        assert_eq!(escape("\u{1b}]0;pwned\u{7}"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(escape("a\u{202e}b\r"), "a\\u{202e}b\\u{d}");
    }
}
