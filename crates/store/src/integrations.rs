//! The link between a tenant and its Kombo integration, and the lifecycle
//! events that change it.

use crate::row::RowExt;
use crate::{Store, StoreError, Tenant};
use hris_types::IntegrationState;
use hris_types::TenantId;

/// What linking an integration to a tenant did.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// Linked now (or again): start a first full sync.
    Linked(Tenant),
    /// Already linked to this tenant: nothing to do.
    AlreadyLinked(Tenant),
    /// No tenant with that origin id: the event is parked until it is registered.
    UnknownTenant,
}

impl Store {
    /// Links `integration_id` to tenant `origin_id` (Kombo's `end_user.origin_id`)
    /// and marks it active. An integration that another tenant holds is a
    /// permanent conflict: on-call must look.
    pub async fn link_integration(
        &self,
        origin_id: &TenantId,
        integration_id: &str,
    ) -> Result<Link, StoreError> {
        let client = self.client().await?;
        let current = client
            .query_opt(
                "SELECT kombo_integration_id, integration_state FROM tenants WHERE id = $1",
                &[&origin_id],
            )
            .await?;
        let Some(current) = current else {
            return Ok(Link::UnknownTenant);
        };
        let linked: Option<String> = current.col("kombo_integration_id")?;
        let state: String = current.col("integration_state")?;
        if linked.as_deref() == Some(integration_id) && state == "active" {
            return Ok(Link::AlreadyLinked(self.tenant(origin_id).await?));
        }
        client
            .execute(
                "UPDATE tenants SET kombo_integration_id = $2, integration_state = 'active',
                        integration_state_reason = NULL, updated_at = now() WHERE id = $1",
                &[&origin_id, &integration_id],
            )
            .await
            .map_err(|e| match e.code() {
                Some(c) if *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => {
                    StoreError::Conflict(format!(
                        "integration {integration_id} already belongs to another tenant"
                    ))
                }
                _ => StoreError::Db(e),
            })?;
        Ok(Link::Linked(self.tenant(origin_id).await?))
    }

    /// Sets `integration_state` (active | paused | disconnected) with a reason.
    pub async fn set_integration_state(
        &self,
        tenant_id: &TenantId,
        state: IntegrationState,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE tenants SET integration_state = $2, integration_state_reason = $3, updated_at = now()
                 WHERE id = $1",
                &[&tenant_id, &state, &reason],
            )
            .await?;
        Ok(())
    }

    /// Parks an integration event whose tenant is not registered yet.
    pub async fn park_integration_event(
        &self,
        event_id: &str,
        integration_id: &str,
        origin_id: Option<&str>,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO pending_integration_events (event_id, integration_id, origin_id, event_type, payload)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
                &[&event_id, &integration_id, &origin_id, &event_type, payload],
            )
            .await?;
        Ok(())
    }

    /// Applies parked `integration-created` events for a tenant just registered:
    /// links the newest one. Returns the integration linked, if any.
    pub async fn apply_parked_events(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT integration_id FROM pending_integration_events
                 WHERE origin_id = $1 AND applied_at IS NULL AND event_type = 'integration-created'
                 ORDER BY received_at DESC LIMIT 1",
                &[&tenant_id],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let integration_id: String = row.col("integration_id")?;
        self.link_integration(tenant_id, &integration_id).await?;
        client
            .execute(
                "UPDATE pending_integration_events SET applied_at = now()
                 WHERE origin_id = $1 AND applied_at IS NULL",
                &[&tenant_id],
            )
            .await?;
        Ok(Some(integration_id))
    }

    /// Records a Kombo `sync-finished` (idempotent by event id).
    pub async fn record_kombo_sync(
        &self,
        event_id: &str,
        tenant_id: Option<&TenantId>,
        integration_id: &str,
        sync_id: Option<&str>,
        status: Option<&str>,
        payload: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "INSERT INTO kombo_syncs (event_id, tenant_id, integration_id, sync_id, status, payload)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
                &[&event_id, &tenant_id, &integration_id, &sync_id, &status, payload],
            )
            .await?;
        Ok(n == 1)
    }

    /// Whether Kombo's sync `sync_id` of `integration_id` has finished (its
    /// `sync-finished` was recorded), and with which state.
    pub async fn kombo_sync_finished(
        &self,
        integration_id: &str,
        sync_id: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT status FROM kombo_syncs WHERE integration_id = $1 AND sync_id = $2
                 ORDER BY received_at LIMIT 1",
                &[&integration_id, &sync_id],
            )
            .await?;
        row.map(|r| r.col("status")).transpose()
    }

    /// Notes the Kombo sync an "Import all" umbrella run waits for.
    pub async fn await_kombo_sync(&self, run: uuid::Uuid, sync_id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE sync_runs SET kombo_sync_id = $2 WHERE id = $1",
                &[&run, &sync_id],
            )
            .await?;
        Ok(())
    }

    /// "Import all" runs of the tenant that wait for this Kombo sync and
    /// whose read nobody has claimed yet.
    pub async fn imports_awaiting(
        &self,
        tenant_id: &TenantId,
        sync_id: &str,
    ) -> Result<Vec<uuid::Uuid>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT id FROM sync_runs WHERE tenant_id = $1 AND kombo_sync_id = $2
                   AND import_read_at IS NULL ORDER BY started_at",
                &[&tenant_id, &sync_id],
            )
            .await?
            .iter()
            .map(|r| r.col("id"))
            .collect()
    }

    /// "Import all" runs whose Kombo sync has not finished within `bound` of
    /// their start and whose read nobody has claimed: (run, tenant).
    pub async fn imports_overdue(
        &self,
        bound: std::time::Duration,
    ) -> Result<Vec<(uuid::Uuid, TenantId)>, StoreError> {
        let client = self.client().await?;
        let since = chrono::Utc::now() - chrono::Duration::from_std(bound).unwrap_or_default();
        client
            .query(
                "SELECT id, tenant_id FROM sync_runs
                 WHERE kombo_sync_id IS NOT NULL AND import_read_at IS NULL AND started_at < $1
                 ORDER BY started_at LIMIT 100",
                &[&since],
            )
            .await?
            .iter()
            .map(|r| Ok((r.col("id")?, r.col("tenant_id")?)))
            .collect()
    }

    /// Claims the full read of an "Import all" run: true for the one caller
    /// that is to enqueue it.
    pub async fn claim_import_read(&self, run: uuid::Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "UPDATE sync_runs SET import_read_at = now() WHERE id = $1 AND import_read_at IS NULL",
                &[&run],
            )
            .await?
            == 1)
    }

    /// Gives a claimed read back (its messages could not be published).
    pub async fn release_import_read(&self, run: uuid::Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE sync_runs SET import_read_at = NULL WHERE id = $1",
                &[&run],
            )
            .await?;
        Ok(())
    }
}
