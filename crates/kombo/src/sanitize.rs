//! Text as PostgreSQL can store it, whatever the HR system holds.
//!
//! PostgreSQL's `text` and `jsonb` refuse the NUL character, and a btree index
//! refuses a value over about 2,700 bytes; one such field used to fail the
//! write of a whole page. Every string of a record (values and object keys,
//! at any depth) is cleaned before it is decoded: NUL and other control
//! characters go (tab and line feed stay: notes may hold them), and a string
//! longer than [`MAX_TEXT_CHARS`] is cut there: a bound on absurd values only.
//! The fields we store are capped to their real limits (names, emails, ids),
//! and noted with their original length, by the mapping.

use serde_json::{Map, Value};

/// The longest string kept from any field of a record (a megabyte of text is
/// no name, note or title; the mapping's own caps are far smaller).
pub const MAX_TEXT_CHARS: usize = 1 << 20;

/// The longest Kombo id a record may have: ids are unique-indexed, and no
/// real id comes close (Kombo's are about 24 characters).
pub const MAX_ID_BYTES: usize = 255;

/// Cleans one string: control characters other than tab and line feed
/// removed, cut at `max_chars`. Returns `None` when nothing changed.
pub fn clean_text(s: &str, max_chars: usize) -> Option<String> {
    let needs_work = s.chars().any(is_unwanted) || s.len() > max_chars;
    if !needs_work {
        return None;
    }
    let cleaned: String = s
        .chars()
        .filter(|c| !is_unwanted(*c))
        .take(max_chars)
        .collect();
    (cleaned != s).then_some(cleaned)
}

fn is_unwanted(c: char) -> bool {
    c.is_control() && c != '\t' && c != '\n'
}

/// Cleans every string and key of `value`, in place.
pub fn clean_value(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(cleaned) = clean_text(s, MAX_TEXT_CHARS) {
                *s = cleaned;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean_value),
        Value::Object(map) => {
            let dirty_keys = map.keys().any(|k| clean_text(k, MAX_TEXT_CHARS).is_some());
            if dirty_keys {
                let old = std::mem::take(map);
                let mut fresh = Map::with_capacity(old.len());
                for (k, v) in old {
                    let key = clean_text(&k, MAX_TEXT_CHARS).unwrap_or(k);
                    fresh.insert(key, v);
                }
                *map = fresh;
            }
            map.values_mut().for_each(clean_value);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn nul_and_controls_go_tabs_and_newlines_stay() {
        assert_eq!(clean_text("Ann\0a", 100).as_deref(), Some("Anna"));
        assert_eq!(
            clean_text("a\u{1b}[31mb\u{7f}", 100).as_deref(),
            Some("a[31mb")
        );
        assert_eq!(clean_text("line\nnext\tcol", 100), None);
        assert_eq!(clean_text("abcdef", 3).as_deref(), Some("abc"));
        let mut v = json!({"k\u{0}ey": ["x\u{0}", {"n": "\u{0}"}], "ok": 1});
        clean_value(&mut v);
        assert_eq!(v, json!({"key": ["x", {"n": ""}], "ok": 1}));
    }

    proptest! {
        /// Whatever a string holds, the cleaned one has no NUL, no control
        /// character PostgreSQL or a terminal would trip on, and fits the cap.
        #[test]
        fn cleaned_text_is_storable(s in any::<String>(), max in 1usize..64) {
            let cleaned = clean_text(&s, max).unwrap_or_else(|| s.clone());
            prop_assert!(!cleaned.contains('\0'));
            prop_assert!(cleaned.chars().all(|c| !c.is_control() || c == '\t' || c == '\n'));
            prop_assert!(cleaned.chars().count() <= max);
        }

        #[test]
        fn cleaning_twice_changes_nothing(s in any::<String>()) {
            let once = clean_text(&s, 32).unwrap_or_else(|| s.clone());
            prop_assert_eq!(clean_text(&once, 32), None);
        }
    }
}
