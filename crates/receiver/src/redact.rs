//! Error texts without the values that caused them.
//!
//! serde's messages quote the offending input (`invalid type: string
//! "DE89 3704 …", expected u64`), and a webhook or an admin request can carry
//! personal data (an IBAN, a birth date, an email) in any field. What the
//! receiver logs or answers keeps the category, the position and what was
//! expected (all from our own schema), never the value.

use hris_kombo::webhook::WebhookParseError;
use serde_json::error::Category;

/// The words serde uses for the kind of an unexpected value (`Unexpected`'s
/// `Display`): only these survive from the part that describes the input.
const KINDS: &[&str] = &[
    "boolean", "integer", "floating", "char", "string", "byte", "unit", "option", "newtype",
    "sequence", "map", "enum", "null",
];

/// A serde_json error's text without any value taken from the input.
pub fn serde_error(e: &serde_json::Error) -> String {
    let position = if e.line() > 0 {
        format!(" at line {} column {}", e.line(), e.column())
    } else {
        String::new()
    };
    match e.classify() {
        Category::Io => format!("input could not be read{position}"),
        Category::Eof => format!("unexpected end of input{position}"),
        // serde_json's syntax errors are fixed texts ("expected value",
        // "trailing characters", …) that never quote the input.
        Category::Syntax => {
            let text = e.to_string();
            let text = text.split(" at line ").next().unwrap_or("syntax error");
            format!("syntax error: {text}{position}")
        }
        Category::Data => format!("{}{position}", data_message(&e.to_string())),
    }
}

/// Keeps the shape of a data error's message and drops the input's part.
fn data_message(full: &str) -> String {
    // serde_json appends the position itself; it is added back separately.
    let message = match full.rfind(" at line ") {
        Some(at) => &full[..at],
        None => full,
    };
    // "missing field `x`" and "duplicate field `x`" name a field of our schema.
    for prefix in ["missing field `", "duplicate field `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(end) = rest.find('`')
            && is_identifier(&rest[..end])
        {
            return format!("{prefix}{}`", &rest[..end]);
        }
    }
    // The text after the last ", expected " comes from our schema's types.
    let expected = message
        .rfind(", expected ")
        .map(|at| &message[at + ", expected ".len()..])
        .filter(|e| !e.contains('"'));
    let head = |what: &str| match expected {
        Some(expected) => format!("{what}, expected {expected}"),
        None => what.to_owned(),
    };
    for (prefix, what) in [
        ("invalid type: ", "invalid type"),
        ("invalid value: ", "invalid value"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let kind = rest.split([' ', ',']).next().unwrap_or("");
            return match KINDS.contains(&kind) {
                true => head(&format!("{what}: {kind}")),
                false => head(what),
            };
        }
    }
    if message.starts_with("unknown variant") {
        return head("unknown variant");
    }
    if message.starts_with("unknown field") {
        return head("unknown field");
    }
    if message.starts_with("invalid length") {
        return head("invalid length");
    }
    "does not match the expected schema".to_owned()
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A webhook parse error without values from the body.
pub fn webhook_error(e: &WebhookParseError) -> String {
    match e {
        WebhookParseError::NotJson(source) => format!("body is not JSON: {}", serde_error(source)),
        WebhookParseError::MissingField(field) => format!("missing or invalid field `{field}`"),
        WebhookParseError::InvalidData { event_type, source } => {
            // Only event types the receiver knows reach this: it names ours.
            let event_type = if is_identifier(event_type) {
                event_type.as_str()
            } else {
                "?"
            };
            format!(
                "`data` of a `{event_type}` event is invalid: {}",
                serde_error(source)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IBAN: &str = "DE89370400440532013000";

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        id: u64,
        kind: Kind,
        names: Vec<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    enum Kind {
        A,
    }

    fn error_for(json: &str) -> String {
        let e = serde_json::from_str::<Shape>(json).expect_err("invalid");
        serde_error(&e)
    }

    #[test]
    fn values_never_survive() {
        for json in [
            format!(r#"{{"id":"{IBAN}","kind":"A","names":[]}}"#),
            format!(r#"{{"id":1,"kind":"{IBAN}","names":[]}}"#),
            format!(r#"{{"id":1,"kind":"A","names":"{IBAN}"}}"#),
            format!(r#"{{"id":1,"kind":"A","names":[{{"x":"{IBAN}"}}]}}"#),
            format!(r#"{{"id":1,"kind":"A","names":[],"{IBAN}":1}}"#),
            format!(r#"{{"id":1,"kind":"A","names":[], "x": "{IBAN}"#),
            format!(r#"{{"id":-1,"kind":"A","names":["{IBAN}"]}}"#),
        ] {
            let text = error_for(&json);
            assert!(!text.contains(IBAN), "{text}");
            assert!(!text.contains("-1"), "{text}");
        }
    }

    #[test]
    fn category_position_and_expectation_stay() {
        let text = error_for(&format!(r#"{{"id":"{IBAN}","kind":"A","names":[]}}"#));
        assert_eq!(
            text,
            "invalid type: string, expected u64 at line 1 column 30"
        );
        let text = error_for(r#"{"id":1,"names":[]}"#);
        assert!(text.starts_with("missing field `kind`"), "{text}");
        let text = error_for("{\"id\":1,\"kind\":");
        assert!(text.starts_with("unexpected end of input"), "{text}");
        let text = error_for(r#"{"id":1,"kind":"A","names":[]}x"#);
        assert!(
            text.starts_with("syntax error: trailing characters"),
            "{text}"
        );
    }
}
