//! The typed contracts the crates share, instead of strings that must agree:
//! what kind of fetch a message asks for, where a tenant's integration stands,
//! how a sync run ended. Each has one spelling, used on the wire (serde), in
//! PostgreSQL (`TEXT` columns, through `ToSql`/`FromSql`) and in output, and
//! an unknown spelling from the database is an error, not a silent default.

use std::fmt;
use std::str::FromStr;

use postgres_types::{FromSql, IsNull, ToSql, Type, accepts, to_sql_checked};
use serde::{Deserialize, Serialize};

/// A spelling no variant of `what` has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}; expected one of {expected}")]
pub struct UnknownVariant {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Declares a text-backed enum: `as_str`, `FromStr`, `Display`, serde and
/// PostgreSQL `TEXT` conversions, and `ALL`.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant {
                        what: $what,
                        value: s.to_owned(),
                        expected: concat!($($text, " "),+),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut bytes::BytesMut,
            ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.as_str().to_sql(ty, out)
            }

            accepts!(TEXT, VARCHAR);
            to_sql_checked!();
        }

        impl<'a> FromSql<'a> for $name {
            fn from_sql(
                ty: &Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                Ok(<&str as FromSql>::from_sql(ty, raw)?.parse()?)
            }

            accepts!(TEXT, VARCHAR);
        }
    };
}

text_enum! {
    /// Incremental (records changed since the watermark) or full (every
    /// record, with detection of what vanished).
    FetchKind, "fetch kind" {
        Incremental = "incremental",
        Full = "full",
    }
}

text_enum! {
    /// Where a tenant's Kombo integration stands.
    IntegrationState, "integration state" {
        /// Registered, no Kombo integration linked yet.
        Unconnected = "unconnected",
        /// Synced.
        Active = "active",
        /// Kept, not synced (Kombo says INVALID or INACTIVE, or an operator paused it).
        Paused = "paused",
        /// Kombo deleted the integration, or an operator disconnected it.
        Disconnected = "disconnected",
    }
}

text_enum! {
    /// How a sync run stands or ended.
    RunStatus, "run status" {
        Pending = "pending",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Partial = "partial",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_everywhere() {
        for kind in FetchKind::ALL {
            assert_eq!(kind.as_str().parse::<FetchKind>(), Ok(*kind));
            let json = serde_json::to_string(kind).unwrap_or_default();
            assert_eq!(json, format!("\"{kind}\""));
        }
        for state in IntegrationState::ALL {
            assert_eq!(state.as_str().parse::<IntegrationState>(), Ok(*state));
        }
        for status in RunStatus::ALL {
            assert_eq!(status.to_string().parse::<RunStatus>(), Ok(*status));
        }
    }

    #[test]
    fn unknown_spellings_are_errors() {
        let e = "ful".parse::<FetchKind>().expect_err("typo");
        assert!(e.to_string().contains("incremental full"), "{e}");
        assert!("Active".parse::<IntegrationState>().is_err());
    }
}
