//! Record issues: the records a sync set aside (could not decode, map or
//! write) or stored other than received (a field cut, a reference dropped).
//!
//! One bad record must not freeze a tenant: its page applies without it, the
//! watermark moves on, and the issue stays open, visible to the tenant and
//! on-call, until Kombo serves the record again in a form that applies (the
//! HR system fixed it). Reasons name fields and kinds of problem, never values.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use hris_types::TenantId;
use postgres_from_row::FromRow;
use serde::Serialize;

use crate::apply::ApplyContext;
use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

/// Whether the record was left out or stored altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Skipped,
    Altered,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Skipped => "skipped",
            Severity::Altered => "altered",
        }
    }
}

/// Where the record failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Decode,
    Map,
    Write,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Map => "map",
            Stage::Write => "write",
        }
    }
}

/// An issue found while applying a page.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecordIssue {
    /// `None`: the record had no readable id.
    pub kombo_id: Option<String>,
    pub severity: Severity,
    pub stage: Stage,
    pub reason: String,
    pub sqlstate: Option<String>,
}

/// An issue as stored.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct RecordIssue {
    pub id: i64,
    pub entity: String,
    pub kombo_id: String,
    pub severity: String,
    pub stage: String,
    pub reason: String,
    pub sqlstate: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub seen_count: i32,
    pub sync_run_id: Option<uuid::Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Records (or refreshes) issues of one entity.
pub(crate) async fn upsert(
    client: &impl GenericClient,
    ctx: &ApplyContext,
    entity: &str,
    issues: &[NewRecordIssue],
) -> Result<(), StoreError> {
    if issues.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = issues
        .iter()
        .map(|i| i.kombo_id.as_deref().unwrap_or(""))
        .collect();
    let severities: Vec<&str> = issues.iter().map(|i| i.severity.as_str()).collect();
    let stages: Vec<&str> = issues.iter().map(|i| i.stage.as_str()).collect();
    let reasons: Vec<&str> = issues.iter().map(|i| i.reason.as_str()).collect();
    let states: Vec<Option<&str>> = issues.iter().map(|i| i.sqlstate.as_deref()).collect();
    client
        .execute(
            "INSERT INTO record_issues AS ri (tenant_id, entity, kombo_id, severity, stage, reason, sqlstate, sync_run_id)
             SELECT DISTINCT ON (r.id, r.severity) $1, $2, r.id, r.severity, r.stage, r.reason, r.sqlstate, $8
             FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS r(id, severity, stage, reason, sqlstate)
             ON CONFLICT (tenant_id, entity, kombo_id, severity) WHERE resolved_at IS NULL DO UPDATE SET
                stage = EXCLUDED.stage, reason = EXCLUDED.reason, sqlstate = EXCLUDED.sqlstate,
                sync_run_id = EXCLUDED.sync_run_id, last_seen_at = now(), seen_count = ri.seen_count + 1",
            &[&ctx.tenant_id, &entity, &ids, &severities, &stages, &reasons, &states, &ctx.sync_run_id],
        )
        .await?;
    Ok(())
}

/// Closes the open issues of records that this page applied: every `skipped`
/// issue of `applied`, and the `altered` ones of those applied as received.
pub(crate) async fn resolve(
    client: &impl GenericClient,
    ctx: &ApplyContext,
    entity: &str,
    applied: &[&str],
    still_altered: &[&str],
) -> Result<(), StoreError> {
    if applied.is_empty() {
        return Ok(());
    }
    client
        .execute(
            "UPDATE record_issues SET resolved_at = now()
             WHERE tenant_id = $1 AND entity = $2 AND resolved_at IS NULL AND kombo_id = ANY($3)
               AND (severity = 'skipped' OR NOT (kombo_id = ANY($4)))",
            &[&ctx.tenant_id, &entity, &applied, &still_altered],
        )
        .await?;
    Ok(())
}

impl Store {
    /// Records issues found outside a page's transaction (records that could
    /// not be decoded or written); in a full sync their ids count as seen, so
    /// a record we could not read is never taken for one that vanished.
    pub async fn record_issues(
        &self,
        ctx: &ApplyContext,
        entity: &str,
        issues: &[NewRecordIssue],
    ) -> Result<(), StoreError> {
        if issues.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        upsert(&tx, ctx, entity, issues).await?;
        crate::full_sync::mark_seen(
            &tx,
            ctx,
            issues.iter().filter_map(|i| i.kombo_id.as_deref()),
        )
        .await?;
        let skipped = issues
            .iter()
            .filter(|i| i.severity == Severity::Skipped)
            .count();
        if let (Some(run), true) = (ctx.sync_run_id, skipped > 0) {
            tx.execute(
                "UPDATE sync_runs SET failed = failed + $2 WHERE id = $1",
                &[&run, &i32::try_from(skipped).unwrap_or(i32::MAX)],
            )
            .await?;
        }
        tx.commit().await?;
        for issue in issues {
            tracing::warn!(
                tenant_id = %ctx.tenant_id,
                entity,
                kombo_id = issue.kombo_id.as_deref().unwrap_or("-"),
                stage = issue.stage.as_str(),
                sqlstate = issue.sqlstate.as_deref().unwrap_or("-"),
                reason = %issue.reason,
                "record set aside; the rest of the page applied"
            );
        }
        Ok(())
    }

    /// A tenant's record issues, newest first; open ones only unless `all`.
    pub async fn tenant_record_issues(
        &self,
        tenant_id: &TenantId,
        all: bool,
        limit: i64,
    ) -> Result<Vec<RecordIssue>, StoreError> {
        self.query_issues(tenant_id, None, all, limit).await
    }

    /// Open issues of one record (for `explain`).
    pub async fn record_issues_of(
        &self,
        tenant_id: &TenantId,
        kombo_id: &str,
    ) -> Result<Vec<RecordIssue>, StoreError> {
        self.query_issues(tenant_id, Some(kombo_id), false, 100)
            .await
    }

    async fn query_issues(
        &self,
        tenant_id: &TenantId,
        kombo_id: Option<&str>,
        all: bool,
        limit: i64,
    ) -> Result<Vec<RecordIssue>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, entity, kombo_id, severity, stage, reason, sqlstate, first_seen_at,
                        last_seen_at, seen_count, sync_run_id, resolved_at
                 FROM record_issues WHERE tenant_id = $1 AND ($2 OR resolved_at IS NULL)
                   AND ($4::text IS NULL OR kombo_id = $4)
                 ORDER BY last_seen_at DESC, id DESC LIMIT $3",
                &[&tenant_id, &all, &limit, &kombo_id],
            )
            .await?;
        read_all(&rows)
    }

    /// Open issues per tenant and severity (for status and metrics).
    pub async fn open_record_issue_counts(
        &self,
        tenant_id: Option<&TenantId>,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT tenant_id, severity, count(*) AS open FROM record_issues
                 WHERE resolved_at IS NULL AND ($1::text IS NULL OR tenant_id = $1)
                 GROUP BY tenant_id, severity ORDER BY tenant_id, severity",
                &[&tenant_id],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.col("tenant_id")?, r.col("severity")?, r.col("open")?)))
            .collect()
    }
}
