//! Ids and keys that cross a process boundary (saga ids, customers, SKUs, idempotency
//! keys, request ids, principals) go into logs, terminals and gRPC metadata: none may
//! hold a control character, which could forge a log line or a terminal's output.

/// What a refusal says of a field holding a control character.
pub const CONTROL_CHARACTER: &str = "must not hold control characters";

/// Whether `text` holds a control character (`\n`, `\t`, ESC, DEL, …).
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Whether free text (a reason, a message) holds a control character other than a line
/// break or a tab.
pub fn has_control_but_lines(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_and_lines_allowed_in_free_text() {
        for text in ["a\nb", "a\u{1b}[31m", "a\u{7f}", "a\u{85}b"] {
            assert!(has_control(text), "{text:?}");
        }
        assert!(!has_control("customer-7 é ✓"));
        assert!(!has_control_but_lines("line one\n\tline two"));
        assert!(has_control_but_lines("a\rb"));
    }
}
