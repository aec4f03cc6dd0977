//! The typed contracts the crates share, instead of strings that must agree:
//! what kind of fetch a message asks for, where a tenant's integration stands,
//! how a sync run ended, what a tenant chose.  Each has one spelling, used on the wire (serde), in
//! PostgreSQL (`TEXT` columns, through `ToSql`/`FromSql`) and in output, and
//! an unknown spelling from the database is an error, not a silent default.

use std::fmt;
use std::str::FromStr;

use postgres_types::{FromSql, IsNull, ToSql, Type, accepts, to_sql_checked};

mod classified;
pub use classified::{Classified, ErrorClass};
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

/// The platform's id of a tenant (one customer), as every crate passes it:
/// a type of its own, so it cannot be confused with a Kombo id, an
/// integration id or a user's id. Stored as `TEXT`; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub fn new(id: impl Into<String>) -> Self {
        TenantId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for TenantId {
    fn from(id: &str) -> Self {
        TenantId(id.to_owned())
    }
}

impl From<String> for TenantId {
    fn from(id: String) -> Self {
        TenantId(id)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for TenantId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for TenantId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl ToSql for TenantId {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.0.to_sql(ty, out)
    }

    accepts!(TEXT, VARCHAR);
    to_sql_checked!();
}

impl<'a> FromSql<'a> for TenantId {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(TenantId(String::from_sql(ty, raw)?))
    }

    accepts!(TEXT, VARCHAR);
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
    /// What caused a message or a sync run.
    Trigger, "trigger" {
        Webhook = "webhook",
        Schedule = "schedule",
        ImportAll = "import-all",
        Replay = "replay",
        /// Re-published by a worker for a notification that arrived during a fetch.
        Sweep = "sweep",
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
    /// How an HR record finds an existing platform user (a tenant's
    /// `identity_match`): always the Kombo id already linked first.
    #[derive(Default)]
    IdentityMatch, "identity_match" {
        /// Then the work email (the default).
        #[default]
        Email = "email",
        /// Then the work email, then the employee number.
        EmailThenEmployeeNumber = "email_then_employee_number",
        /// Nothing else: every unknown record is a new user.
        KomboIdOnly = "kombo_id_only",
    }
}

text_enum! {
    /// An optional part of a person's record a tenant may sync
    /// (`enabled_scopes`); the rest is always synced.
    Scope, "scope" {
        WorkLocation = "work_location",
        Avatar = "avatar",
        LegalEntity = "legal_entity",
        EmploymentType = "employment_type",
        CustomFields = "custom_fields",
    }
}

text_enum! {
    /// When a new user is invited (a tenant's `invite_policy`); `days_before`
    /// takes its number of days from `invite_days_before`.
    #[derive(Default)]
    InviteWhen, "invite_policy" {
        Never = "never",
        /// As soon as the user is synced.
        Immediately = "immediately",
        /// At the start of the start date (the default).
        #[default]
        OnStartDate = "on_start_date",
        /// At the start of the day `invite_days_before` days before the start date.
        DaysBefore = "days_before",
    }
}

text_enum! {
    /// Whether a leaver who comes back is invited again (`rehire_invite`).
    #[derive(Default)]
    RehireInvite, "rehire_invite" {
        #[default]
        InviteAgain = "invite_again",
        Never = "never",
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

text_enum! {
    /// A Kombo model we keep a table of, each fetched by a worker of its own:
    /// the registry the queues, the webhook routing, the full-sync tables, the
    /// deploy files and the test lists derive from. Its spelling is the queue's,
    /// the worker role's (`--entity`) and `sync_state.entity`'s.
    SyncedEntity, "synced entity" {
        Employees = "employees",
        Teams = "teams",
        Locations = "locations",
        Absences = "absences",
    }
}

impl SyncedEntity {
    /// Our table its records land in; a complete full listing marks what it
    /// did not contain there.
    pub fn table(self) -> &'static str {
        match self {
            SyncedEntity::Employees => "users",
            SyncedEntity::Teams => "teams",
            SyncedEntity::Locations => "locations",
            SyncedEntity::Absences => "absences",
        }
    }

    /// The Kombo models (a webhook's `changed_models` names) whose change
    /// makes this entity refetch. Employees embed their groups, locations and
    /// legal entities, and a renamed group does not mark its members changed,
    /// so those models refetch employees too.
    pub fn refetched_on(self) -> &'static [&'static str] {
        match self {
            SyncedEntity::Employees => &[
                "hris_employees",
                "hris_employments",
                "hris_join_employees_teams",
                "hris_legal_entities",
                "hris_teams",
                "hris_groups",
                "hris_locations",
            ],
            SyncedEntity::Teams => &["hris_teams", "hris_groups"],
            SyncedEntity::Locations => &["hris_locations"],
            SyncedEntity::Absences => &["hris_absences", "hris_absence_types"],
        }
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
        for entity in SyncedEntity::ALL {
            assert_eq!(entity.as_str().parse::<SyncedEntity>(), Ok(*entity));
        }
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(*scope));
        }
        for when in InviteWhen::ALL {
            assert_eq!(when.as_str().parse::<InviteWhen>(), Ok(*when));
        }
        for rehire in RehireInvite::ALL {
            assert_eq!(rehire.as_str().parse::<RehireInvite>(), Ok(*rehire));
        }
    }

    #[test]
    fn every_synced_entity_has_a_table_of_its_own_and_models_that_refetch_it() {
        let tables: std::collections::BTreeSet<_> =
            SyncedEntity::ALL.iter().map(|e| e.table()).collect();
        assert_eq!(tables.len(), SyncedEntity::ALL.len());
        for entity in SyncedEntity::ALL {
            assert!(!entity.refetched_on().is_empty(), "{entity}");
        }
    }

    #[test]
    fn unknown_spellings_are_errors() {
        let e = "ful".parse::<FetchKind>().expect_err("typo");
        assert!(e.to_string().contains("incremental full"), "{e}");
        assert!("Active".parse::<IntegrationState>().is_err());
    }
}
