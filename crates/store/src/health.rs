//! Kombo integration health per tenant: what `GET /integrations/{id}` last
//! said, Kombo's open issues (`issue-status-changed`), and the facts the
//! mass-change guard reads before trusting deletions upstream.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use hris_mapping::guard::IntegrationHealth;
use hris_types::TenantId;
use postgres_from_row::FromRow;
use serde::Serialize;

use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

/// The issue type whose being open makes deletions untrustworthy.
pub const AUTH_FAILED: &str = "integration.authentication_failed";

/// What `GET /integrations/{id}` answered.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationReport {
    pub status: String,
    pub setup_status: Option<String>,
    pub data_expired_at: Option<DateTime<Utc>>,
}

/// One `issue-status-changed` event, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueEvent<'a> {
    pub event_id: &'a str,
    pub issue_id: &'a str,
    pub issue_type: &'a str,
    pub integration_id: Option<&'a str>,
    pub tenant_id: Option<&'a str>,
    pub title: Option<&'a str>,
    pub open: bool,
    pub first_observed_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// An open Kombo issue (no message text: it may quote the customer's data).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct OpenIssue {
    pub issue_id: String,
    pub issue_type: String,
    pub integration_id: Option<String>,
    pub title: Option<String>,
    pub first_observed_at: Option<DateTime<Utc>>,
}

/// A tenant's integration health, for status pages.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TenantHealth {
    pub kombo_status: Option<String>,
    pub setup_status: Option<String>,
    pub data_expired_at: Option<DateTime<Utc>>,
    pub kombo_enabled: Option<bool>,
    pub checked_at: Option<DateTime<Utc>>,
    pub check_error: Option<String>,
    pub open_issues: Vec<OpenIssue>,
    /// Why deletions upstream are held now, if they are.
    pub deletions_held_because: Option<String>,
}

/// Counts over every tenant, for metrics without a tenant label.
#[derive(Debug, Clone, Copy, Default, PartialEq, FromRow)]
pub struct HealthCounts {
    pub auth_issue_tenants: i64,
    pub data_expired_tenants: i64,
    pub setup_incomplete_tenants: i64,
    pub kombo_invalid_tenants: i64,
    pub environment_issues: i64,
}

/// The guard's view of a tenant's health, inside its transaction.
pub(crate) async fn guard_health(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
) -> Result<IntegrationHealth, StoreError> {
    let row = tx
        .query_one(
            "SELECT h.data_expired_at, h.setup_status,
                    EXISTS (SELECT 1 FROM kombo_issues i WHERE i.tenant_id = $1
                            AND i.status = 'open' AND i.issue_type = $2) AS auth_issue_open
             FROM (SELECT 1) AS one LEFT JOIN integration_health h ON h.tenant_id = $1",
            &[&tenant_id, &AUTH_FAILED],
        )
        .await?;
    Ok(IntegrationHealth {
        data_expired_at: row.col("data_expired_at")?,
        setup_status: row.col("setup_status")?,
        auth_issue_open: row.col("auth_issue_open")?,
    })
}

impl Store {
    /// Claims the right to ask Kombo about a tenant's integration now: true
    /// at most once per `interval` per tenant, across every worker.
    pub async fn claim_health_check(
        &self,
        tenant_id: &TenantId,
        interval: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let seconds = interval.as_secs_f64();
        let claimed = client
            .query_opt(
                "INSERT INTO integration_health (tenant_id, check_claimed_at) VALUES ($1, now())
                 ON CONFLICT (tenant_id) DO UPDATE SET check_claimed_at = now()
                 WHERE integration_health.check_claimed_at IS NULL
                    OR integration_health.check_claimed_at <= now() - make_interval(secs => $2)
                 RETURNING tenant_id",
                &[&tenant_id, &seconds],
            )
            .await?;
        Ok(claimed.is_some())
    }

    /// Records Kombo's answer about the integration.
    pub async fn record_integration_report(
        &self,
        tenant_id: &TenantId,
        report: &IntegrationReport,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO integration_health (tenant_id, kombo_status, setup_status, data_expired_at, checked_at)
                 VALUES ($1, $2, $3, $4, now())
                 ON CONFLICT (tenant_id) DO UPDATE SET kombo_status = $2, setup_status = $3,
                    data_expired_at = $4, checked_at = now(), check_error = NULL, updated_at = now()",
                &[&tenant_id, &report.status, &report.setup_status, &report.data_expired_at],
            )
            .await?;
        Ok(())
    }

    /// Records an `integration-state-changed` (status and setup status only:
    /// the event says nothing of `data_expired_at`).
    pub async fn record_integration_state(
        &self,
        tenant_id: &TenantId,
        status: &str,
        setup_status: Option<&str>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO integration_health (tenant_id, kombo_status, setup_status) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant_id) DO UPDATE SET kombo_status = $2,
                    setup_status = COALESCE($3, integration_health.setup_status), updated_at = now()",
                &[&tenant_id, &status, &setup_status],
            )
            .await?;
        Ok(())
    }

    /// Records a failed ask (Kombo's error code or our kind of failure).
    pub async fn record_health_check_error(
        &self,
        tenant_id: &TenantId,
        error: &str,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE integration_health SET check_error = $2, updated_at = now() WHERE tenant_id = $1",
                &[&tenant_id, &error],
            )
            .await?;
        Ok(())
    }

    /// Records Kombo's syncing switch as we just set it.
    pub async fn record_kombo_enabled(
        &self,
        tenant_id: &TenantId,
        enabled: bool,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO integration_health (tenant_id, kombo_enabled) VALUES ($1, $2)
                 ON CONFLICT (tenant_id) DO UPDATE SET kombo_enabled = $2, updated_at = now()",
                &[&tenant_id, &enabled],
            )
            .await?;
        Ok(())
    }

    /// Records an issue raised or resolved (idempotent; a raise delivered
    /// after the resolution of the same occurrence does not reopen it).
    pub async fn record_issue(&self, e: &IssueEvent<'_>) -> Result<(), StoreError> {
        let client = self.client().await?;
        let status = if e.open { "open" } else { "resolved" };
        client
            .execute(
                "INSERT INTO kombo_issues (issue_id, issue_type, integration_id, tenant_id, title, status,
                        first_observed_at, resolved_at, last_event_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (issue_id) DO UPDATE SET status = EXCLUDED.status,
                    tenant_id = COALESCE(EXCLUDED.tenant_id, kombo_issues.tenant_id),
                    title = COALESCE(EXCLUDED.title, kombo_issues.title),
                    first_observed_at = COALESCE(kombo_issues.first_observed_at, EXCLUDED.first_observed_at),
                    resolved_at = EXCLUDED.resolved_at,
                    last_event_id = EXCLUDED.last_event_id, updated_at = now()
                 WHERE EXCLUDED.status = 'resolved' OR kombo_issues.status = 'open'
                    OR kombo_issues.resolved_at IS NULL
                    OR EXCLUDED.first_observed_at > kombo_issues.resolved_at",
                &[
                    &e.issue_id,
                    &e.issue_type,
                    &e.integration_id,
                    &e.tenant_id,
                    &e.title,
                    &status,
                    &e.first_observed_at,
                    &e.resolved_at,
                    &e.event_id,
                ],
            )
            .await?;
        Ok(())
    }

    /// A tenant's integration health with its open issues.
    pub async fn tenant_health(&self, tenant_id: &TenantId) -> Result<TenantHealth, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT kombo_status, setup_status, data_expired_at, kombo_enabled, checked_at, check_error
                 FROM integration_health WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await?;
        let issues = client
            .query(
                "SELECT issue_id, issue_type, integration_id, title, first_observed_at FROM kombo_issues
                 WHERE tenant_id = $1 AND status = 'open' ORDER BY first_observed_at, issue_id",
                &[&tenant_id],
            )
            .await?;
        let mut health = TenantHealth {
            open_issues: read_all(&issues)?,
            ..TenantHealth::default()
        };
        if let Some(row) = row {
            health.kombo_status = row.col("kombo_status")?;
            health.setup_status = row.col("setup_status")?;
            health.data_expired_at = row.col("data_expired_at")?;
            health.kombo_enabled = row.col("kombo_enabled")?;
            health.checked_at = row.col("checked_at")?;
            health.check_error = row.col("check_error")?;
        }
        health.deletions_held_because = guard_health(&client, tenant_id).await?.distrust();
        Ok(health)
    }

    /// Open issues of the whole Kombo environment (no integration).
    pub async fn environment_issues(&self) -> Result<Vec<OpenIssue>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT issue_id, issue_type, integration_id, title, first_observed_at FROM kombo_issues
                 WHERE integration_id IS NULL AND status = 'open' ORDER BY first_observed_at, issue_id",
                &[],
            )
            .await?;
        read_all(&rows)
    }

    /// Health over every tenant, for metrics (one cheap aggregate).
    pub async fn health_counts(&self) -> Result<HealthCounts, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT
                   (SELECT count(DISTINCT tenant_id) FROM kombo_issues
                     WHERE status = 'open' AND issue_type = $1 AND tenant_id IS NOT NULL) AS auth_issue_tenants,
                   (SELECT count(*) FROM integration_health WHERE data_expired_at IS NOT NULL) AS data_expired_tenants,
                   (SELECT count(*) FROM integration_health
                     WHERE setup_status IS NOT NULL AND setup_status <> 'COMPLETED') AS setup_incomplete_tenants,
                   (SELECT count(*) FROM integration_health WHERE kombo_status = 'INVALID') AS kombo_invalid_tenants,
                   (SELECT count(*) FROM kombo_issues
                     WHERE status = 'open' AND integration_id IS NULL) AS environment_issues",
                &[&AUTH_FAILED],
            )
            .await?;
        row.read()
    }
}
