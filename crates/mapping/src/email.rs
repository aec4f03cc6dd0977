//! Work emails: normalised, and flagged rather than dropped when unusable (the
//! user must still exist; the platform decides what to do with a bad address).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailStatus {
    Ok,
    Missing,
    Invalid,
}

impl EmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailStatus::Ok => "ok",
            EmailStatus::Missing => "missing",
            EmailStatus::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "ok" => EmailStatus::Ok,
            "invalid" => EmailStatus::Invalid,
            _ => EmailStatus::Missing,
        }
    }
}

/// The longest address kept: RFC 5321's limit, and well inside what the
/// email index can hold (a 100 KB "address" used to fail a page's write).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Trimmed and lower-cased, with its status. An invalid address is kept as
/// written (trimmed, and cut at [`MAX_EMAIL_CHARS`]) so that an admin can see
/// what the HR system holds.
pub fn normalise(raw: Option<&str>) -> (Option<String>, EmailStatus) {
    let Some(trimmed) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return (None, EmailStatus::Missing);
    };
    if is_plausible(trimmed) {
        (Some(trimmed.to_lowercase()), EmailStatus::Ok)
    } else {
        let kept: String = trimmed.chars().take(MAX_EMAIL_CHARS).collect();
        (Some(kept), EmailStatus::Invalid)
    }
}

/// One `@`, a non-empty local part, a dotted domain, no spaces or control
/// characters: what an invitation mail needs, without RFC 5322's corners.
fn is_plausible(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_flagged() {
        assert_eq!(
            normalise(Some("  Ada.Lovelace@Example.COM ")),
            (Some("ada.lovelace@example.com".into()), EmailStatus::Ok)
        );
        assert_eq!(normalise(None), (None, EmailStatus::Missing));
        assert_eq!(normalise(Some("   ")), (None, EmailStatus::Missing));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@x.com",
            "a@@x.com",
            "a@x..com",
        ] {
            assert_eq!(normalise(Some(bad)).1, EmailStatus::Invalid, "{bad}");
            assert_eq!(normalise(Some(bad)).0.as_deref(), Some(bad.trim()));
        }
        let huge = "x".repeat(100_000);
        let (kept, status) = normalise(Some(&huge));
        assert_eq!(status, EmailStatus::Invalid);
        assert_eq!(kept.map(|k| k.chars().count()), Some(MAX_EMAIL_CHARS));
    }

    proptest::proptest! {
        /// Whatever the HR system sends, the stored address fits the index and
        /// an `ok` one is lower-case with one `@`.
        #[test]
        fn any_address_has_a_defined_outcome(raw in proptest::option::of(".{0,400}")) {
            let (email, status) = normalise(raw.as_deref());
            match status {
                EmailStatus::Missing => proptest::prop_assert!(email.is_none()),
                EmailStatus::Ok => {
                    let email = email.unwrap_or_default();
                    proptest::prop_assert_eq!(email.matches('@').count(), 1);
                    proptest::prop_assert_eq!(email.to_lowercase(), email.clone());
                    proptest::prop_assert!(email.len() <= 254);
                }
                EmailStatus::Invalid => {
                    proptest::prop_assert!(email.is_some_and(|e| e.chars().count() <= MAX_EMAIL_CHARS));
                }
            }
        }
    }
}
