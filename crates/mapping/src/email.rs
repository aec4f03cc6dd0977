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

/// Trimmed and lower-cased, with its status. An invalid address is kept as
/// written (trimmed) so that an admin can see what the HR system holds.
pub fn normalise(raw: Option<&str>) -> (Option<String>, EmailStatus) {
    let Some(trimmed) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return (None, EmailStatus::Missing);
    };
    if is_plausible(trimmed) {
        (Some(trimmed.to_lowercase()), EmailStatus::Ok)
    } else {
        (Some(trimmed.to_owned()), EmailStatus::Invalid)
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
    }
}
