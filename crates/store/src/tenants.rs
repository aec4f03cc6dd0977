//! Tenants: the platform's customers, their Kombo integration and their settings.

use hris_types::TenantId;
use hris_types::{IntegrationState, InviteWhen, RehireInvite, Scope};
use postgres_from_row::FromRow;
use serde::{Deserialize, Serialize};

use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

/// Per-tenant settings (defaults in the schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
pub struct TenantSettings {
    pub enabled_scopes: Vec<Scope>,
    pub invite_policy: InviteWhen,
    pub invite_days_before: i32,
    pub time_zone: String,
    pub full_sync_interval_seconds: i32,
    pub primary_team_group_types: Vec<String>,
    pub mass_change_threshold: f64,
    pub custom_field_mapping: serde_json::Value,
    pub identity_match: hris_types::IdentityMatch,
    pub deactivation_grace_seconds: i32,
    pub scope_filter: serde_json::Value,
    pub first_name_source: String,
    pub rehire_invite: RehireInvite,
    /// Days a change log entry is kept.
    pub change_log_retention_days: i32,
    /// Days a dead letter keeps its payload (its id and reason stay).
    pub dead_letter_payload_retention_days: i32,
    /// Days a sync run keeps its error text.
    pub run_error_retention_days: i32,
}

impl Default for TenantSettings {
    /// The schema's defaults: what a new tenant has.
    fn default() -> Self {
        Self {
            enabled_scopes: vec![Scope::WorkLocation],
            invite_policy: InviteWhen::OnStartDate,
            invite_days_before: 0,
            time_zone: "UTC".to_owned(),
            full_sync_interval_seconds: 10_800,
            primary_team_group_types: vec!["TEAM".to_owned(), "DEPARTMENT".to_owned()],
            mass_change_threshold: 0.2,
            custom_field_mapping: serde_json::json!({}),
            identity_match: hris_types::IdentityMatch::Email,
            deactivation_grace_seconds: 86_400,
            scope_filter: serde_json::json!({}),
            first_name_source: "first_name".to_owned(),
            rehire_invite: RehireInvite::InviteAgain,
            change_log_retention_days: 365,
            dead_letter_payload_retention_days: 30,
            run_error_retention_days: 90,
        }
    }
}

/// A tenant as its row reads, column by column name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow)]
pub struct Tenant {
    pub id: TenantId,
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
    primary_team_group_types, mass_change_threshold, custom_field_mapping, identity_match, \
    deactivation_grace_seconds, scope_filter, first_name_source, rehire_invite, \
    change_log_retention_days, dead_letter_payload_retention_days, run_error_retention_days";

impl Store {
    /// Registers a tenant. Registering the same tenant again with the same
    /// integration is a no-op; a different integration already linked elsewhere
    /// is a conflict.
    pub async fn add_tenant(
        &self,
        id: &TenantId,
        name: &str,
        integration_id: Option<&str>,
    ) -> Result<Tenant, StoreError> {
        if id.as_str().trim().is_empty() || name.trim().is_empty() {
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

    pub async fn tenant(&self, id: &TenantId) -> Result<Tenant, StoreError> {
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
}
