//! Sync runs: one row per fetch (and an umbrella row per "Import all"), with
//! the counters on-call and the CLI show.

use chrono::{DateTime, Utc};
use hris_types::TenantId;
use postgres_from_row::FromRow;
use uuid::Uuid;

use crate::apply::PageStats;
use crate::row::RowExt;
use crate::{Store, StoreError};
use hris_types::{FetchKind, RunStatus, SyncedEntity, Trigger};

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct SyncRun {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub tenant_id: TenantId,
    pub entity: Option<SyncedEntity>,
    pub kind: FetchKind,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub pages: i32,
    #[from_row(flatten, from = "RunCounts")]
    pub stats: PageStats,
    pub error: Option<String>,
}

/// A run's counters as stored (`int`, never negative), by their column names.
#[derive(FromRow)]
struct RunCounts {
    created: i32,
    updated: i32,
    deactivated: i32,
    unchanged: i32,
    held: i32,
    failed: i32,
    conflicts: i32,
}

impl From<RunCounts> for PageStats {
    fn from(c: RunCounts) -> Self {
        PageStats {
            created: c.created as u32,
            updated: c.updated as u32,
            deactivated: c.deactivated as u32,
            unchanged: c.unchanged as u32,
            held: c.held as u32,
            failed: c.failed as u32,
            conflicts: c.conflicts as u32,
        }
    }
}

/// What `full_run_totals` sums up, with the runs still running and failed.
#[derive(FromRow)]
struct RunTotals {
    #[from_row(flatten)]
    counts: RunCounts,
    running: i64,
    failed_runs: i64,
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn start_run(
        &self,
        id: Uuid,
        parent_id: Option<Uuid>,
        tenant_id: &TenantId,
        entity: Option<SyncedEntity>,
        kind: FetchKind,
        trigger: Trigger,
        dry_run: bool,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sync_runs (id, parent_id, tenant_id, entity, kind, trigger, dry_run, active_at_start)
                 VALUES ($1, $2, $3, $4, $5, $6, $7,
                    CASE WHEN $4 = 'employees' THEN
                        (SELECT count(*) FROM users WHERE tenant_id = $3 AND status = 'active')::int END)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &id, &parent_id, &tenant_id, &entity, &kind, &trigger, &dry_run,
                ],
            )
            .await?;
        Ok(())
    }

    /// Records how a run ended.
    pub async fn finish_run(
        &self,
        id: Uuid,
        status: hris_types::RunStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE sync_runs SET status = $2, error = $3, finished_at = now() WHERE id = $1",
                &[&id, &status, &error],
            )
            .await?;
        Ok(())
    }

    pub async fn run(&self, id: Uuid) -> Result<SyncRun, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id, parent_id, tenant_id, entity, kind, trigger, status, dry_run, started_at,
                        finished_at, pages, created, updated, deactivated, unchanged, held, failed, conflicts, error
                 FROM sync_runs WHERE id = $1",
                &[&id],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("sync run {id}")))?;
        row.read()
    }
}

/// Adds a page's counts to its run, in the page's transaction.
pub(crate) async fn add_page(
    client: &impl deadpool_postgres::GenericClient,
    run_id: Option<Uuid>,
    stats: &PageStats,
) -> Result<(), StoreError> {
    let Some(run_id) = run_id else {
        return Ok(());
    };
    let c = stats.columns();
    client
        .execute(
            "UPDATE sync_runs SET pages = pages + 1, created = created + $2, updated = updated + $3,
                    deactivated = deactivated + $4, unchanged = unchanged + $5, held = held + $6,
                    failed = failed + $7, conflicts = conflicts + $8
             WHERE id = $1",
            &[&run_id, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6]],
        )
        .await?;
    Ok(())
}

impl Store {
    /// Totals of the per-entity full runs of a tenant started since `since`
    /// (what an "Import all" did), with the number of runs still running and
    /// failed; written onto the umbrella run `umbrella` when given.
    pub async fn full_run_totals(
        &self,
        tenant_id: &TenantId,
        since: DateTime<Utc>,
    ) -> Result<(PageStats, i64, i64), StoreError> {
        let client = self.client().await?;
        let r = client
            .query_one(
                "SELECT COALESCE(sum(created), 0)::int AS created, COALESCE(sum(updated), 0)::int AS updated,
                        COALESCE(sum(deactivated), 0)::int AS deactivated, COALESCE(sum(unchanged), 0)::int AS unchanged,
                        COALESCE(sum(held), 0)::int AS held, COALESCE(sum(failed), 0)::int AS failed,
                        COALESCE(sum(conflicts), 0)::int AS conflicts, count(*) FILTER (WHERE status = 'running') AS running, count(*) FILTER (WHERE status = 'failed') AS failed_runs
                 FROM sync_runs WHERE tenant_id = $1 AND kind = 'full' AND entity IS NOT NULL AND started_at >= $2",
                &[&tenant_id, &since],
            )
            .await?;
        let t: RunTotals = r.read()?;
        Ok((t.counts.into(), t.running, t.failed_runs))
    }

    /// Closes an umbrella run with its totals.
    pub async fn close_umbrella_run(
        &self,
        id: Uuid,
        status: hris_types::RunStatus,
        stats: &PageStats,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let c = stats.columns();
        client
            .execute(
                "UPDATE sync_runs SET status = $2, finished_at = now(), created = $3, updated = $4,
                        deactivated = $5, unchanged = $6, held = $7, failed = $8, conflicts = $9 WHERE id = $1",
                &[&id, &status, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6]],
            )
            .await?;
        Ok(())
    }
}
