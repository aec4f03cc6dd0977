//! Tenants: the platform's customers, their Kombo integration and their settings.

use hris_types::IntegrationState;
use postgres_from_row::FromRow;
use serde::{Deserialize, Serialize};

use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

/// Per-tenant settings (defaults in the schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
pub struct TenantSettings {
    pub enabled_scopes: Vec<String>,
    pub invite_policy: String,
    pub invite_days_before: i32,
    pub time_zone: String,
    pub full_sync_interval_seconds: i32,
    pub primary_team_group_types: Vec<String>,
    pub mass_change_threshold: f64,
    pub custom_field_mapping: serde_json::Value,
}

/// A tenant as its row reads, column by column name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub kombo_integration_id: Option<String>,
    /// unconnected | active | paused | disconnected
    pub integration_state: IntegrationState,
    pub integration_state_reason: Option<String>,
    #[from_row(flatten)]
    pub settings: TenantSettings,
}

const COLUMNS: &str = "id, name, kombo_integration_id, integration_state, integration_state_reason, \
    enabled_scopes, invite_policy, invite_days_before, time_zone, full_sync_interval_seconds, \
    primary_team_group_types, mass_change_threshold, custom_field_mapping";

/// Scopes a tenant may enable.
pub const OPTIONAL_SCOPES: &[&str] = &[
    "work_location",
    "avatar",
    "legal_entity",
    "employment_type",
    "custom_fields",
];

impl Store {
    /// Registers a tenant. Registering the same tenant again with the same
    /// integration is a no-op; a different integration already linked elsewhere
    /// is a conflict.
    pub async fn add_tenant(
        &self,
        id: &str,
        name: &str,
        integration_id: Option<&str>,
    ) -> Result<Tenant, StoreError> {
        if id.trim().is_empty() || name.trim().is_empty() {
            return Err(StoreError::Invalid(
                "tenant id and name must not be empty".to_owned(),
            ));
        }
        let client = self.client().await?;
        let state = if integration_id.is_some() {
            IntegrationState::Active
        } else {
            IntegrationState::Unconnected
        };
        let inserted = client
            .execute(
                "INSERT INTO tenants (id, name, kombo_integration_id, integration_state) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING",
                &[&id, &name, &integration_id, &state],
            )
            .await
            .map_err(|e| match e.code() {
                Some(c) if *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => {
                    StoreError::Conflict(format!("integration {} already belongs to another tenant", integration_id.unwrap_or("")))
                }
                _ => StoreError::Db(e),
            })?;
        let tenant = self.tenant(id).await?;
        if inserted == 0
            && integration_id.is_some()
            && tenant.kombo_integration_id.as_deref() != integration_id
        {
            return Err(StoreError::Conflict(format!(
                "tenant {id} exists with another integration"
            )));
        }
        Ok(tenant)
    }

    pub async fn tenant(&self, id: &str) -> Result<Tenant, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"),
                &[&id],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {id}")))?;
        row.read()
    }

    pub async fn tenant_by_integration(
        &self,
        integration_id: &str,
    ) -> Result<Option<Tenant>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM tenants WHERE kombo_integration_id = $1"),
                &[&integration_id],
            )
            .await?;
        row.as_ref().map(RowExt::read).transpose()
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {COLUMNS} FROM tenants ORDER BY id"), &[])
            .await?;
        read_all(&rows)
    }

    /// Changes one setting, validated; returns the tenant as it now is.
    pub async fn set_tenant_setting(
        &self,
        id: &str,
        key: &str,
        value: &str,
    ) -> Result<Tenant, StoreError> {
        let client = self.client().await?;
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let bad = |what: &str| StoreError::Invalid(format!("{key}: {what}"));
        let updated = match key {
            "name" => {
                client
                    .execute(
                        "UPDATE tenants SET name = $2, updated_at = now() WHERE id = $1",
                        &[&id, &value],
                    )
                    .await?
            }
            "enabled_scopes" => {
                let scopes = list(value);
                if let Some(unknown) = scopes
                    .iter()
                    .find(|s| !OPTIONAL_SCOPES.contains(&s.as_str()))
                {
                    return Err(bad(&format!(
                        "unknown scope {unknown}; known: {}",
                        OPTIONAL_SCOPES.join(", ")
                    )));
                }
                client
                    .execute(
                        "UPDATE tenants SET enabled_scopes = $2, updated_at = now() WHERE id = $1",
                        &[&id, &scopes],
                    )
                    .await?
            }
            "invite_policy" => {
                if !["never", "immediately", "on_start_date", "days_before"].contains(&value) {
                    return Err(bad("one of never, immediately, on_start_date, days_before"));
                }
                client
                    .execute(
                        "UPDATE tenants SET invite_policy = $2, updated_at = now() WHERE id = $1",
                        &[&id, &value],
                    )
                    .await?
            }
            "invite_days_before" => {
                let n: i32 = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad("a whole number ≥ 0"))?;
                client.execute("UPDATE tenants SET invite_days_before = $2, updated_at = now() WHERE id = $1", &[&id, &n]).await?
            }
            "time_zone" => {
                if value.parse::<chrono_tz_check::Tz>().is_err() {
                    return Err(bad("an IANA time zone such as Europe/Berlin"));
                }
                client
                    .execute(
                        "UPDATE tenants SET time_zone = $2, updated_at = now() WHERE id = $1",
                        &[&id, &value],
                    )
                    .await?
            }
            "full_sync_interval_seconds" => {
                let n: i32 = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 60)
                    .ok_or_else(|| bad("seconds, at least 60"))?;
                client.execute("UPDATE tenants SET full_sync_interval_seconds = $2, updated_at = now() WHERE id = $1", &[&id, &n]).await?
            }
            "primary_team_group_types" => {
                let types = list(value);
                client.execute("UPDATE tenants SET primary_team_group_types = $2, updated_at = now() WHERE id = $1", &[&id, &types]).await?
            }
            "mass_change_threshold" => {
                let t: f64 = value
                    .parse()
                    .ok()
                    .filter(|t: &f64| *t > 0.0 && *t <= 1.0)
                    .ok_or_else(|| bad("a share in (0, 1]"))?;
                client.execute("UPDATE tenants SET mass_change_threshold = $2, updated_at = now() WHERE id = $1", &[&id, &t]).await?
            }
            "custom_field_mapping" => {
                let v: serde_json::Value = serde_json::from_str(value)
                    .ok()
                    .filter(serde_json::Value::is_object)
                    .ok_or_else(|| bad("a JSON object"))?;
                client.execute("UPDATE tenants SET custom_field_mapping = $2, updated_at = now() WHERE id = $1", &[&id, &v]).await?
            }
            _ => return Err(StoreError::Invalid(format!("unknown setting {key}"))),
        };
        if updated == 0 {
            return Err(StoreError::NotFound(format!("tenant {id}")));
        }
        self.tenant(id).await
    }
}

/// Time-zone names are checked with the same database the mapping uses.
mod chrono_tz_check {
    pub use hris_mapping::Tz;
}
