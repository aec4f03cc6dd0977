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
            detail: message_of(e),
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

/// The words serde uses for the kind of an unexpected value (`Unexpected`'s
/// `Display`): only these survive from the part that describes the input.
const KINDS: &[&str] = &[
    "boolean", "integer", "floating", "char", "string", "byte", "unit", "option", "newtype",
    "sequence", "map", "enum", "null",
];

/// A serde_json error's text, with its position, without any value taken
/// from the input (for answers and logs that show a parse error as text).
pub fn describe_serde(e: &serde_json::Error) -> String {
    let position = if e.line() > 0 {
        format!(" at line {} column {}", e.line(), e.column())
    } else {
        String::new()
    };
    format!("{}{position}", message_of(e))
}

/// The error's message without its position and without input values.
fn message_of(e: &serde_json::Error) -> String {
    match e.classify() {
        Category::Io => "input could not be read".to_owned(),
        Category::Eof => "unexpected end of input".to_owned(),
        // serde_json's syntax errors are fixed texts ("expected value",
        // "trailing characters", …) that never quote the input.
        Category::Syntax => {
            let text = e.to_string();
            let text = text.split(" at line ").next().unwrap_or("syntax error");
            format!("syntax error: {text}")
        }
        Category::Data => redact(&e.to_string()),
    }
}

/// Keeps the shape of a data error's message and drops the input's part:
/// the kind of the unexpected value and what was expected (from our types),
/// field names only when they are our schema's (`missing field`).
pub fn redact(full: &str) -> String {
    // serde_json appends the position itself; it is kept apart.
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
    // An unknown field or variant is named by the input: only say which.
    for (prefix, what) in [
        ("unknown variant", "unknown variant"),
        ("unknown field", "unknown field"),
        ("invalid length", "invalid length"),
    ] {
        if message.starts_with(prefix) {
            return head(what);
        }
    }
    // Anything else (a custom message from a type's own parser, such as a
    // date's) may quote the input: say only that it did not fit.
    "does not match the expected schema".to_owned()
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
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
