//! Decoding Kombo's bodies without ever quoting them.
//!
//! serde's messages quote the offending value (`invalid type: string "DE89…",
//! expected a date`): an IBAN or a birth date in a wrongly typed field used to
//! reach WARN logs, run errors and dead-letter headers. A [`DecodeError`] keeps
//! what on-call needs, which field, what kind of problem and where, and drops
//! the value.

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::sanitize::{MAX_ID_BYTES, clean_value};

/// Why a body or record could not be decoded, with no value from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {path} (line {line}, column {column}): {detail}")]
pub struct DecodeError {
    pub kind: DecodeKind,
    /// The JSON path of the field that failed (`results[3].first_name`), or `.`.
    pub path: String,
    /// serde's message with every quoted value removed.
    pub detail: String,
    pub line: usize,
    pub column: usize,
}

/// serde_json's error category, which decides whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeKind {
    /// The body ended early (cut off in transit): a retry may get it whole.
    Truncated,
    /// Not JSON where JSON was expected.
    Syntax,
    /// JSON of the wrong shape (a number where a string belongs, …).
    Shape,
    /// Reading failed (only with readers, never with bytes in memory).
    Io,
}

impl std::fmt::Display for DecodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecodeKind::Truncated => "truncated JSON",
            DecodeKind::Syntax => "invalid JSON",
            DecodeKind::Shape => "unexpected JSON shape",
            DecodeKind::Io => "unreadable JSON",
        })
    }
}

impl DecodeError {
    pub fn from_serde(e: &serde_json::Error, path: String) -> Self {
        let kind = match e.classify() {
            Category::Eof => DecodeKind::Truncated,
            Category::Syntax => DecodeKind::Syntax,
            Category::Data => DecodeKind::Shape,
            Category::Io => DecodeKind::Io,
        };
        Self {
            kind,
            path: if path.is_empty() {
                ".".to_owned()
            } else {
                path
            },
            detail: redact(&e.to_string()),
            line: e.line(),
            column: e.column(),
        }
    }
}

/// Decodes `bytes` as `T`; the error names the failing field's path.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        DecodeError::from_serde(e.inner(), path)
    })?;
    de.end()
        .map_err(|e| DecodeError::from_serde(&e, String::new()))?;
    Ok(value)
}

/// serde's message without any value it quotes: keeps the kind of the
/// unexpected value (`string`, `integer`, `map`, …) and what was expected,
/// which come from our types, never from the data.
pub fn redact(message: &str) -> String {
    // serde_json appends " at line L column C"; the position is kept apart.
    let message = message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at]);
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (unexpected, expected) = match rest.rfind(", expected ") {
                Some(at) => (&rest[..at], &rest[at + ", expected ".len()..]),
                None => (rest, "something else"),
            };
            let kind = unexpected
                .split([' ', '`', '"'])
                .next()
                .filter(|w| w.chars().all(|c| c.is_ascii_alphabetic()) && !w.is_empty())
                .unwrap_or("value");
            return format!("{prefix}{kind}, expected {}", strip_quoted(expected));
        }
    }
    if message.starts_with("unknown variant") {
        return "unknown variant".to_owned();
    }
    if message.starts_with("missing field")
        || message.starts_with("duplicate field")
        || message.starts_with("invalid length")
        || message.starts_with("unknown field")
    {
        // Field names are our schema's; lengths are counts.
        return message.to_owned();
    }
    // Syntax errors ("expected value", "EOF while parsing a string",
    // "lone leading surrogate in hex escape", …) quote nothing.
    if message.chars().any(|c| c == '"' || c == '`') {
        return strip_quoted(message);
    }
    message.to_owned()
}

/// Replaces every `"…"` or `` `…` `` run (escapes honoured) with `…`.
fn strip_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '`' {
            let close = c;
            let mut escaped = false;
            for inner in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if inner == '\\' {
                    escaped = true;
                } else if inner == close {
                    break;
                }
            }
            out.push('…');
        } else {
            out.push(c);
        }
    }
    out
}

/// One page of a listing, each record decoded on its own: a record that does
/// not fit the schema is set aside, the rest of the page goes on.
#[derive(Debug, Clone)]
pub struct RecordPage<T> {
    pub records: Vec<T>,
    pub bad: Vec<BadRecord>,
    pub next: Option<String>,
}

/// A record that could not be decoded, by its Kombo id when it has a readable one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub kombo_id: Option<String>,
    pub error: DecodeError,
}

#[derive(serde::Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    data: RawPage<'a>,
}

#[derive(serde::Deserialize)]
struct RawPage<'a> {
    next: Option<String>,
    #[serde(borrow)]
    results: Vec<&'a serde_json::value::RawValue>,
}

/// Decodes a listing's success body: the envelope as a whole (a broken
/// envelope fails the page), then every record on its own.
pub fn decode_page<T: DeserializeOwned>(body: &[u8]) -> Result<RecordPage<T>, DecodeError> {
    // The envelope is read by serde_json directly: a borrowed `RawValue` needs
    // serde_json's own deserializer, not a wrapper.
    let envelope: RawEnvelope<'_> =
        serde_json::from_slice(body).map_err(|e| DecodeError::from_serde(&e, String::new()))?;
    let mut page = RecordPage {
        records: Vec::with_capacity(envelope.data.results.len()),
        bad: Vec::new(),
        next: envelope.data.next,
    };
    for (index, raw) in envelope.data.results.into_iter().enumerate() {
        match decode_record::<T>(raw) {
            Ok(record) => page.records.push(record),
            Err((kombo_id, mut error)) => {
                error.path = format!("results[{index}].{}", error.path.trim_start_matches('.'));
                page.bad.push(BadRecord { kombo_id, error });
            }
        }
    }
    Ok(page)
}

/// One record: parsed, cleaned (see [`crate::sanitize`]), checked for a
/// usable id, then decoded as `T`. On failure, the record's id if readable.
fn decode_record<T: DeserializeOwned>(
    raw: &serde_json::value::RawValue,
) -> Result<T, (Option<String>, DecodeError)> {
    let mut value: serde_json::Value = serde_json::from_str(raw.get())
        .map_err(|e| (None, DecodeError::from_serde(&e, String::new())))?;
    clean_value(&mut value);
    let kombo_id = match value.get("id") {
        Some(serde_json::Value::String(id)) if !id.is_empty() => Some(id.clone()),
        _ => None,
    };
    if let Some(id) = &kombo_id
        && id.len() > MAX_ID_BYTES
    {
        return Err((
            None,
            DecodeError {
                kind: DecodeKind::Shape,
                path: "id".to_owned(),
                detail: format!("id of {} bytes, over the {MAX_ID_BYTES} allowed", id.len()),
                line: 0,
                column: 0,
            },
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        (kombo_id, DecodeError::from_serde(e.inner(), path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Person {
        name: Option<String>,
        born: Option<chrono::NaiveDate>,
        tags: Vec<String>,
    }

    fn error_of(json: &str) -> DecodeError {
        match decode::<Person>(json.as_bytes()) {
            Err(e) => e,
            Ok(p) => panic!("decoded: {p:?}"),
        }
    }

    #[test]
    fn values_never_appear_but_the_field_does() {
        let e = error_of(r#"{"name": 4711, "tags": []}"#);
        assert_eq!(e.kind, DecodeKind::Shape);
        assert_eq!(e.path, "name");
        assert!(!e.to_string().contains("4711"), "{e}");
        let e = error_of(r#"{"name": "x", "born": "DE89370400440532013000", "tags": []}"#);
        assert_eq!(e.path, "born");
        assert!(!e.to_string().contains("DE89"), "{e}");
        let e = error_of(r#"{"tags": {"secret": "DE89370400440532013000"}}"#);
        assert_eq!(e.path, "tags");
        assert!(!e.to_string().contains("DE89"), "{e}");
        assert!(e.to_string().contains("map"), "{e}");
    }

    #[test]
    fn cut_off_bodies_are_truncated_and_garbage_is_syntax() {
        assert_eq!(error_of(r#"{"name": "Ann"#).kind, DecodeKind::Truncated);
        assert_eq!(error_of("<html>").kind, DecodeKind::Syntax);
        assert_eq!(
            error_of(r#"{"tags": []} trailing"#).kind,
            DecodeKind::Syntax
        );
    }

    #[test]
    fn a_bad_record_is_set_aside_and_the_rest_of_the_page_decodes() {
        let body = br#"{"status":"success","data":{"next":"c2","results":[
            {"name":"Ann","tags":[]},
            {"id":"E2","name":{"iban":"DE89370400440532013000"},"tags":[]},
            {"name":null,"tags":["x"]}]}}"#;
        let page = decode_page::<Person>(body).expect("envelope");
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.next.as_deref(), Some("c2"));
        assert_eq!(page.bad.len(), 1);
        assert_eq!(page.bad[0].kombo_id.as_deref(), Some("E2"));
        assert_eq!(page.bad[0].error.path, "results[1].name");
        assert!(!page.bad[0].error.to_string().contains("DE89"));
        // A broken envelope fails the page.
        assert!(decode_page::<Person>(br#"{"status":"success","data":{"results":{}}}"#).is_err());
    }

    proptest! {
        /// Whatever string sits in a wrongly typed field, the error text holds
        /// none of it (a quoted value longer than a few letters would show).
        #[test]
        fn no_value_survives(secret in "[A-Za-z@.+ \"\\\\`-]{0,12}[0-9]{4}[A-Za-z0-9 ]{0,10}") {
            for template in [
                r#"{"tags": [], "born": S}"#,
                r#"{"tags": S}"#,
                r#"{"tags": [], "name": {"k": S}}"#,
                r#"{"tags": [S, 1]}"#,
            ] {
                let json = template.replace('S', &serde_json::to_string(&secret).expect("json"));
                if let Err(e) = decode::<Person>(json.as_bytes()) {
                    let text = e.to_string();
                    prop_assert!(!text.contains(&secret), "{} leaks {}", text, secret);
                }
            }
        }
    }
}
