//! `tenant set KEY VALUE`: each setting, how its value is checked, and the
//! column it is stored in. A bad value is refused with what would be right.

use hris_mapping::identity::IdentityMatch;
use hris_mapping::policy::{FirstNameSource, ScopeFilter};
use hris_types::TenantId;
use tokio_postgres::types::ToSql;

use hris_types::{InviteWhen, RehireInvite, Scope};

use crate::tenants::Tenant;
use crate::{Store, StoreError};

/// Why a value is refused: what would be right (never the value's content
/// beyond what the person typed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadValue(String);

impl From<&str> for BadValue {
    fn from(what: &str) -> Self {
        BadValue(what.to_owned())
    }
}

impl From<String> for BadValue {
    fn from(what: String) -> Self {
        BadValue(what)
    }
}

impl From<hris_types::UnknownVariant> for BadValue {
    fn from(e: hris_types::UnknownVariant) -> Self {
        BadValue(format!("one of {}", e.expected.trim()))
    }
}

/// A checked value, as the column takes it.
enum Setting {
    Text(String),
    Int(i32),
    Share(f64),
    List(Vec<String>),
    Scopes(Vec<Scope>),
    Json(serde_json::Value),
}

impl Setting {
    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Setting::Text(v) => v,
            Setting::Int(v) => v,
            Setting::Share(v) => v,
            Setting::List(v) => v,
            Setting::Scopes(v) => v,
            Setting::Json(v) => v,
        }
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `value` as one of an enum's spellings (the error lists them).
fn typed<T>(value: &str) -> Result<String, BadValue>
where
    T: std::str::FromStr<Err = hris_types::UnknownVariant>,
{
    value.parse::<T>()?;
    Ok(value.to_owned())
}

fn whole(value: &str, min: i32, what: &str) -> Result<Setting, BadValue> {
    value
        .parse()
        .ok()
        .filter(|n| *n >= min)
        .map(Setting::Int)
        .ok_or_else(|| what.into())
}

/// The column of `key` and its checked value; the error says what is right.
fn check(key: &str, value: &str) -> Result<Option<(&'static str, Setting)>, BadValue> {
    Ok(Some(match key {
        "name" if !value.trim().is_empty() => ("name", Setting::Text(value.to_owned())),
        "name" => return Err("must not be empty".into()),
        "enabled_scopes" => {
            let scopes = list(value)
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()?;
            ("enabled_scopes", Setting::Scopes(scopes))
        }
        "invite_policy" => ("invite_policy", Setting::Text(typed::<InviteWhen>(value)?)),
        "invite_days_before" => ("invite_days_before", whole(value, 0, "a whole number ≥ 0")?),
        "time_zone" => {
            if value.parse::<hris_mapping::Tz>().is_err() {
                return Err("an IANA time zone such as Europe/Berlin".into());
            }
            ("time_zone", Setting::Text(value.to_owned()))
        }
        "full_sync_interval_seconds" => (
            "full_sync_interval_seconds",
            whole(value, 60, "seconds, at least 60")?,
        ),
        "primary_team_group_types" => ("primary_team_group_types", Setting::List(list(value))),
        "mass_change_threshold" => {
            let t: f64 = value
                .parse()
                .ok()
                .filter(|t: &f64| *t > 0.0 && *t <= 1.0)
                .ok_or("a share in (0, 1]")?;
            ("mass_change_threshold", Setting::Share(t))
        }
        "custom_field_mapping" => {
            let v: serde_json::Value = serde_json::from_str(value)
                .ok()
                .filter(serde_json::Value::is_object)
                .ok_or("a JSON object")?;
            ("custom_field_mapping", Setting::Json(v))
        }
        "identity_match" => (
            "identity_match",
            Setting::Text(typed::<IdentityMatch>(value)?),
        ),
        "deactivation_grace_seconds" => (
            "deactivation_grace_seconds",
            whole(value, 0, "seconds ≥ 0 (0 deactivates at once)")?,
        ),
        "scope_filter" => {
            let v: serde_json::Value =
                serde_json::from_str(value).map_err(|_| "a JSON object".to_owned())?;
            serde_json::from_value::<ScopeFilter>(v.clone()).map_err(|_| {
                "a JSON object with lists legal_entities, locations, groups (Kombo ids)".to_owned()
            })?;
            ("scope_filter", Setting::Json(v))
        }
        "first_name_source" => {
            value.parse::<FirstNameSource>()?;
            ("first_name_source", Setting::Text(value.to_owned()))
        }
        "rehire_invite" => (
            "rehire_invite",
            Setting::Text(typed::<RehireInvite>(value)?),
        ),
        "change_log_retention_days" => (
            "change_log_retention_days",
            whole(value, 1, "whole days, at least 1")?,
        ),
        "dead_letter_payload_retention_days" => (
            "dead_letter_payload_retention_days",
            whole(value, 1, "whole days, at least 1")?,
        ),
        "run_error_retention_days" => (
            "run_error_retention_days",
            whole(value, 1, "whole days, at least 1")?,
        ),
        _ => return Ok(None),
    }))
}

impl Store {
    /// Changes one setting, validated; returns the tenant as it now is.
    pub async fn set_tenant_setting(
        &self,
        id: &TenantId,
        key: &str,
        value: &str,
    ) -> Result<Tenant, StoreError> {
        let (column, setting) = check(key, value)
            .map_err(|what| StoreError::Invalid(format!("{key}: {what}")))?
            .ok_or_else(|| StoreError::Invalid(format!("unknown setting {key}")))?;
        let client = self.client().await?;
        let updated = client
            .execute(
                &format!("UPDATE tenants SET {column} = $2, updated_at = now() WHERE id = $1"),
                &[&id, setting.sql()],
            )
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound(format!("tenant {id}")));
        }
        self.tenant(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn every_new_setting_refuses_a_bad_value_and_takes_a_good_one() {
        for (key, good, bad) in [
            ("identity_match", "email_then_employee_number", "fuzzy"),
            ("deactivation_grace_seconds", "0", "-1"),
            (
                "scope_filter",
                r#"{"legal_entities":["LE1"]}"#,
                r#"{"companies":["x"]}"#,
            ),
            (
                "first_name_source",
                "custom_field:preferred_name",
                "nickname",
            ),
            ("rehire_invite", "never", "sometimes"),
            ("invite_policy", "days_before", "tomorrow"),
            (
                "enabled_scopes",
                "avatar, custom_fields",
                "avatar,shoe_size",
            ),
            ("change_log_retention_days", "30", "0"),
            ("dead_letter_payload_retention_days", "7", "-1"),
            ("run_error_retention_days", "90", "ninety"),
        ] {
            assert!(matches!(check(key, good), Ok(Some(_))), "{key} {good}");
            assert!(check(key, bad).is_err(), "{key} {bad}");
        }
        assert!(matches!(check("colour", "red"), Ok(None)));
    }
}
