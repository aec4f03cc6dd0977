//! Coalescing per (tenant, entity), across every worker replica.
//!
//! One fetch at a time: a lease row in `sync_state`, renewed while the fetch
//! runs and checked by every page's transaction (a worker that lost its lease
//! cannot write). A notification that finds the lease held leaves a rerun
//! request and is acked; the holder runs again before releasing, so a change
//! that arrives during a fetch always gets a fetch that starts after it. If the
//! holder dies, its lease expires and the sweeper re-publishes the request.

use hris_types::TenantId;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres_from_row::FromRow;

use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

pub use hris_types::FetchKind;

/// The right to fetch one tenant's entity now.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    pub tenant_id: TenantId,
    pub entity: String,
    pub owner: String,
    pub kind: FetchKind,
    /// `updated_after` for an incremental fetch; `None` before the first one.
    pub watermark: Option<DateTime<Utc>>,
    /// The database's clock when the fetch started: the next watermark.
    pub started_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// A complete fetch started after the notification arrived: nothing to do.
    Covered,
    /// Another worker is fetching; it will run again for this notification.
    Queued,
    Acquired(Lease),
}

/// A rerun request whose fetcher is gone (lease expired or released).
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Orphan {
    pub tenant_id: TenantId,
    #[from_row(rename = "kombo_integration_id")]
    pub integration_id: Option<String>,
    pub entity: String,
    #[from_row(rename = "rerun_requested")]
    pub kind: FetchKind,
    #[from_row(rename = "rerun_requested_at")]
    pub requested_at: DateTime<Utc>,
}

/// Where one tenant's entity stands (for `tenant status`, `dlq show`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, FromRow)]
pub struct FetchStatus {
    pub entity: String,
    pub watermark: Option<DateTime<Utc>>,
    pub last_fetch_started_at: Option<DateTime<Utc>>,
    pub last_incremental_at: Option<DateTime<Utc>>,
    pub last_full_at: Option<DateTime<Utc>>,
    pub fetching: bool,
    pub rerun_requested: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The `sync_state` row `claim_fetch` locks, as it decides.
#[derive(FromRow)]
struct ClaimRow {
    watermark: Option<DateTime<Utc>>,
    last_fetch_started_at: Option<DateTime<Utc>>,
    last_full_at: Option<DateTime<Utc>>,
    held_by_other: bool,
    rerun_requested: Option<FetchKind>,
    now: DateTime<Utc>,
}

/// Clock skew allowed between the receiver's `received_at` and the database.
const SKEW_MARGIN_SECS: f64 = 2.0;

impl Store {
    /// Every entity's fetch state of a tenant.
    pub async fn fetch_status(&self, tenant_id: &TenantId) -> Result<Vec<FetchStatus>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT entity, watermark, last_fetch_started_at, last_incremental_at, last_full_at,
                        lease_owner IS NOT NULL AND lease_until > now() AS fetching, rerun_requested, last_error, last_error_at
                 FROM sync_state WHERE tenant_id = $1 ORDER BY entity",
                &[&tenant_id],
            )
            .await?;
        read_all(&rows)
    }

    pub async fn claim_fetch(
        &self,
        tenant_id: &TenantId,
        entity: &str,
        owner: &str,
        requested: FetchKind,
        received_at: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Claim, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO sync_state (tenant_id, entity) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&tenant_id, &entity],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT watermark, last_fetch_started_at, last_full_at,
                        lease_owner IS NOT NULL AND lease_owner <> $3 AND lease_until > now() AS held_by_other,
                        rerun_requested, now() AS now
                 FROM sync_state WHERE tenant_id = $1 AND entity = $2 FOR UPDATE",
                &[&tenant_id, &entity, &owner],
            )
            .await?;
        let ClaimRow {
            watermark,
            last_fetch_started_at: last_any,
            last_full_at: last_full,
            held_by_other,
            rerun_requested: pending,
            now,
        } = row.read()?;
        let margin = chrono::Duration::milliseconds((SKEW_MARGIN_SECS * 1000.0) as i64);
        let covering = match requested {
            FetchKind::Incremental => last_any,
            FetchKind::Full => last_full,
        };
        if covering.is_some_and(|t| t >= received_at + margin) {
            tx.commit().await?;
            return Ok(Claim::Covered);
        }
        let ttl_secs = ttl.as_secs_f64();
        if held_by_other {
            tx.execute(
                "UPDATE sync_state SET rerun_requested = CASE WHEN rerun_requested = 'full' OR $3 = 'full' THEN 'full' ELSE 'incremental' END,
                        rerun_requested_at = now()
                 WHERE tenant_id = $1 AND entity = $2",
                &[&tenant_id, &entity, &requested.as_str()],
            )
            .await?;
            tx.commit().await?;
            return Ok(Claim::Queued);
        }
        // A pending rerun is covered by the fetch that starts now.
        let kind = pending.map_or(requested, |p| p.max(requested));
        tx.execute(
            "UPDATE sync_state SET lease_owner = $3, lease_until = now() + make_interval(secs => $4),
                    rerun_requested = NULL, rerun_requested_at = NULL
             WHERE tenant_id = $1 AND entity = $2",
            &[&tenant_id, &entity, &owner, &ttl_secs],
        )
        .await?;
        tx.commit().await?;
        Ok(Claim::Acquired(Lease {
            tenant_id: tenant_id.to_owned(),
            entity: entity.to_owned(),
            owner: owner.to_owned(),
            kind,
            watermark,
            started_at: now,
        }))
    }

    /// Extends the lease; `false` when it is no longer ours (expired and taken).
    pub async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let client = self.client().await?;
        renew(&client, lease, ttl).await
    }

    /// The fetch completed: move the watermark to its start minus `overlap`. If a
    /// rerun was requested meanwhile, keep the lease and return the next fetch.
    pub async fn complete_fetch(
        &self,
        lease: &Lease,
        overlap: Duration,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT rerun_requested, now() AS now FROM sync_state
                 WHERE tenant_id = $1 AND entity = $2 AND lease_owner = $3 FOR UPDATE",
                &[&lease.tenant_id, &lease.entity, &lease.owner],
            )
            .await?
            .ok_or(StoreError::LeaseLost)?;
        let rerun: Option<FetchKind> = row.col("rerun_requested")?;
        let now: DateTime<Utc> = row.col("now")?;
        let watermark = lease.started_at
            - chrono::Duration::from_std(overlap).unwrap_or_else(|_| chrono::Duration::zero());
        let full = lease.kind == FetchKind::Full;
        tx.execute(
            "UPDATE sync_state SET watermark = GREATEST(COALESCE(watermark, $3), $3),
                    last_fetch_started_at = $4,
                    last_incremental_at = CASE WHEN $5 THEN last_incremental_at ELSE $4 END,
                    last_full_at = CASE WHEN $5 THEN $4 ELSE last_full_at END,
                    last_error = NULL, last_error_at = NULL,
                    rerun_requested = NULL, rerun_requested_at = NULL,
                    lease_owner = CASE WHEN $6 THEN lease_owner END,
                    lease_until = CASE WHEN $6 THEN now() + make_interval(secs => $7) END
             WHERE tenant_id = $1 AND entity = $2",
            &[
                &lease.tenant_id,
                &lease.entity,
                &watermark,
                &lease.started_at,
                &full,
                &rerun.is_some(),
                &ttl.as_secs_f64(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(rerun.map(|kind| Lease {
            kind,
            watermark: Some(watermark),
            started_at: now,
            ..lease.clone()
        }))
    }

    /// The fetch failed: release the lease (another notification may try at once)
    /// and record why. Rerun requests stay for the sweeper.
    pub async fn fail_fetch(&self, lease: &Lease, error: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE sync_state SET lease_owner = NULL, lease_until = NULL,
                        last_error = $4, last_error_at = now()
                 WHERE tenant_id = $1 AND entity = $2 AND lease_owner = $3",
                &[&lease.tenant_id, &lease.entity, &lease.owner, &error],
            )
            .await?;
        Ok(())
    }

    /// Records that a fetch is wanted without running it (paused tenant): the
    /// request waits in the database until the tenant is resumed.
    pub async fn request_fetch(
        &self,
        tenant_id: &TenantId,
        entity: &str,
        kind: FetchKind,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sync_state (tenant_id, entity, rerun_requested, rerun_requested_at)
                 VALUES ($1, $2, $3, now())
                 ON CONFLICT (tenant_id, entity) DO UPDATE SET
                    rerun_requested = CASE WHEN sync_state.rerun_requested = 'full' OR EXCLUDED.rerun_requested = 'full'
                        THEN 'full' ELSE 'incremental' END,
                    rerun_requested_at = now()",
                &[&tenant_id, &entity, &kind.as_str()],
            )
            .await?;
        Ok(())
    }

    /// Rerun requests of active tenants that nobody is fetching, older than
    /// `min_age` (so a holder that is finishing right now gets to see it first).
    pub async fn orphaned_requests(
        &self,
        min_age: Duration,
        limit: i64,
    ) -> Result<Vec<Orphan>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT s.tenant_id, t.kombo_integration_id, s.entity, s.rerun_requested, s.rerun_requested_at
                 FROM sync_state s JOIN tenants t ON t.id = s.tenant_id
                 WHERE s.rerun_requested IS NOT NULL
                   AND s.rerun_requested_at < now() - make_interval(secs => $1)
                   AND (s.lease_owner IS NULL OR s.lease_until < now())
                   AND t.integration_state = 'active'
                 ORDER BY s.rerun_requested_at LIMIT $2",
                &[&min_age.as_secs_f64(), &limit],
            )
            .await?;
        read_all(&rows)
    }

    /// Clears a rerun request once a message for it is published, unless a newer
    /// request arrived meanwhile (that one is swept next time).
    pub async fn clear_request(&self, orphan: &Orphan) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE sync_state SET rerun_requested = NULL, rerun_requested_at = NULL
                 WHERE tenant_id = $1 AND entity = $2 AND rerun_requested_at = $3",
                &[&orphan.tenant_id, &orphan.entity, &orphan.requested_at],
            )
            .await?;
        Ok(())
    }
}

/// Extends the lease inside any transaction or client: the fence every page
/// write passes through.
pub(crate) async fn renew(
    client: &impl deadpool_postgres::GenericClient,
    lease: &Lease,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let n = client
        .execute(
            "UPDATE sync_state SET lease_until = now() + make_interval(secs => $4)
             WHERE tenant_id = $1 AND entity = $2 AND lease_owner = $3",
            &[
                &lease.tenant_id,
                &lease.entity,
                &lease.owner,
                &ttl.as_secs_f64(),
            ],
        )
        .await?;
    Ok(n == 1)
}
