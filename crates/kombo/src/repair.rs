//! Byte-level repair of Kombo's JSON before it is parsed.
//!
//! JSON allows `\ud800` (a lone UTF-16 surrogate escape), but Rust strings, and
//! so serde_json, do not: one such name used to fail the whole page, and every
//! later page of the tenant with it. An HR system that stores half an emoji is
//! not a reason to stop a company's sync, so lone surrogate escapes become
//! `\ufffd` (the replacement character), as a browser would show them. Paired
//! surrogates (a real emoji) are left alone.

use std::borrow::Cow;

/// Replaces every lone surrogate escape in `json` with `\ufffd`. Returns the
/// input unchanged (borrowed) when there is none, which is the common case.
pub fn repair_lone_surrogates(json: &[u8]) -> Cow<'_, [u8]> {
    // Fast path: no `\u` escape of a surrogate at all.
    if !json
        .windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'))
    {
        return Cow::Borrowed(json);
    }
    let mut out = Vec::with_capacity(json.len());
    let mut i = 0;
    let mut in_string = false;
    while i < json.len() {
        let b = json[i];
        if !in_string {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                out.push(b);
                i += 1;
            }
            b'\\' if json.get(i + 1) == Some(&b'u') => {
                match surrogate_at(json, i) {
                    Some(0xD800..=0xDBFF)
                        if surrogate_at(json, i + 6)
                            .is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) =>
                    {
                        // A valid pair: keep both escapes as they are.
                        out.extend_from_slice(&json[i..i + 12]);
                        i += 12;
                    }
                    Some(0xD800..=0xDFFF) => {
                        out.extend_from_slice(b"\\ufffd");
                        i += 6;
                    }
                    _ => {
                        // Any other escape (or a broken one, which the parser
                        // reports): copied through.
                        let end = (i + 6).min(json.len());
                        out.extend_from_slice(&json[i..end]);
                        i = end;
                    }
                }
            }
            b'\\' => {
                // A two-byte escape (`\"`, `\\`, `\n`, …): copy both bytes so an
                // escaped quote or backslash is never taken for syntax.
                let end = (i + 2).min(json.len());
                out.extend_from_slice(&json[i..end]);
                i = end;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// The code unit of a `\uXXXX` escape starting at `at`, if there is one.
fn surrogate_at(json: &[u8], at: usize) -> Option<u32> {
    let escape = json.get(at..at + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn repaired(s: &str) -> String {
        String::from_utf8(repair_lone_surrogates(s.as_bytes()).into_owned()).expect("utf-8")
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(repaired(r#"{"a":"x\ud800y"}"#), r#"{"a":"x\ufffdy"}"#);
        assert_eq!(repaired(r#"{"a":"\uDC00"}"#), r#"{"a":"\ufffd"}"#);
        // A high surrogate followed by a non-surrogate escape.
        assert_eq!(repaired(r#"["\ud800\u0041"]"#), r#"["\ufffd\u0041"]"#);
        // Two highs in a row: both lone.
        assert_eq!(repaired(r#"["\ud800\ud800"]"#), r#"["\ufffd\ufffd"]"#);
    }

    #[test]
    fn pairs_escaped_backslashes_and_keys_are_left_alone() {
        let pair = r#"{"a":"\ud83d\ude00"}"#;
        assert_eq!(repaired(pair), pair);
        // `\\ud800` is a backslash followed by the text "ud800", not an escape.
        let text = r#"{"a":"\\ud800"}"#;
        assert_eq!(repaired(text), text);
        let parsed: serde_json::Value =
            serde_json::from_slice(&repair_lone_surrogates(br#"{"\ud800":1}"#)).expect("parses");
        assert_eq!(parsed["\u{fffd}"], 1);
    }

    proptest! {
        /// Whatever surrogate escapes a string holds, the repaired document
        /// parses, and documents without lone surrogates are unchanged.
        #[test]
        fn any_escapes_parse_after_repair(units in prop::collection::vec(
            prop_oneof![0xD800u32..0xE000, 0x20u32..0x7F, 0x80u32..0xD800], 0..12)) {
            let mut doc = String::from("{\"k\":\"");
            for u in &units {
                doc.push_str(&format!("\\u{u:04x}"));
            }
            doc.push_str("\"}");
            let fixed = repair_lone_surrogates(doc.as_bytes());
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&fixed).is_ok());
            if serde_json::from_str::<serde_json::Value>(&doc).is_ok() {
                prop_assert_eq!(fixed.as_ref(), doc.as_bytes());
            }
        }

        #[test]
        fn plain_json_is_borrowed(s in "[ -~]{0,64}") {
            let doc = serde_json::to_vec(&serde_json::json!({ "s": s })).expect("json");
            prop_assert!(matches!(repair_lone_surrogates(&doc), Cow::Borrowed(_)) || doc.windows(3).any(|w| w == b"\\ud" || w == b"\\uD"));
        }
    }
}
