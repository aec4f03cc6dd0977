//! Error texts without the values that caused them.
//!
//! serde's messages quote the offending input (`invalid type: string
//! "DE89 3704 …", expected u64`), and an admin request can carry personal
//! data (an email, say) in any field. What the admin API answers keeps the
//! category, the position and what was expected (all from our own schema),
//! never the value.

/// A serde_json error's text without any value taken from the input (one
/// implementation for every crate: `hris_kombo::decode`).
pub fn serde_error(e: &serde_json::Error) -> String {
    hris_kombo::decode::describe_serde(e)
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
