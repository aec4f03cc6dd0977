//! The scheduler's claims: each tenant's next full sync, spread over its
//! interval, claimed with `FOR UPDATE SKIP LOCKED` so that several scheduler
//! replicas never enqueue the same tenant's sync twice.

use hris_types::TenantId;
use std::future::Future;

use postgres_from_row::FromRow;

use crate::row::read_all;
use crate::{Store, StoreError};

/// A tenant whose scheduled full sync is due.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct DueTenant {
    pub tenant_id: TenantId,
    #[from_row(rename = "kombo_integration_id")]
    pub integration_id: Option<String>,
}

impl Store {
    /// Gives every active tenant a schedule row. A new tenant's first scheduled
    /// sync lands at a fixed point of its interval derived from its id, so that
    /// thousands of tenants spread evenly instead of all starting at once.
    pub async fn ensure_schedules(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "INSERT INTO full_sync_schedule (tenant_id, next_due_at)
                 SELECT id, now() + make_interval(secs =>
                        full_sync_interval_seconds * ((hashtext(id)::bigint & 1023) / 1024.0))
                 FROM tenants WHERE integration_state = 'active'
                 ON CONFLICT (tenant_id) DO NOTHING",
                &[],
            )
            .await?)
    }

    /// Claims up to `limit` due tenants, hands them to `enqueue`, and moves
    /// their next run one interval on only if `enqueue` succeeded (otherwise
    /// they stay due for the next tick). The rows stay locked meanwhile, so a
    /// second scheduler skips them.
    pub async fn claim_due_full_syncs<F, Fut>(
        &self,
        owner: &str,
        limit: i64,
        enqueue: F,
    ) -> Result<usize, StoreError>
    where
        F: FnOnce(Vec<DueTenant>) -> Fut,
        Fut: Future<Output = bool>,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let due: Vec<DueTenant> = read_all(
            &tx.query(
                "SELECT s.tenant_id, t.kombo_integration_id
                 FROM full_sync_schedule s JOIN tenants t ON t.id = s.tenant_id
                 WHERE s.next_due_at <= now() AND t.integration_state = 'active'
                 ORDER BY s.next_due_at LIMIT $1
                 FOR UPDATE OF s SKIP LOCKED",
                &[&limit],
            )
            .await?,
        )?;
        if due.is_empty() {
            return Ok(0);
        }
        let ids: Vec<TenantId> = due.iter().map(|d| d.tenant_id.clone()).collect();
        if !enqueue(due).await {
            tx.rollback().await?;
            return Ok(0);
        }
        // ±5 % jitter keeps tenants from drifting back into lockstep.
        tx.execute(
            "UPDATE full_sync_schedule s SET
                next_due_at = now() + make_interval(secs => t.full_sync_interval_seconds * (0.95 + random() * 0.1)),
                last_enqueued_at = now(), enqueued_by = $2
             FROM tenants t WHERE t.id = s.tenant_id AND s.tenant_id = ANY($1)",
            &[&ids, &owner],
        )
        .await?;
        tx.commit().await?;
        Ok(ids.len())
    }

    /// Makes a tenant's next scheduled full sync due now (tests, operators).
    pub async fn schedule_full_sync_now(&self, tenant_id: &TenantId) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO full_sync_schedule (tenant_id, next_due_at) VALUES ($1, now())
                 ON CONFLICT (tenant_id) DO UPDATE SET next_due_at = now()",
                &[&tenant_id],
            )
            .await?;
        Ok(())
    }
}
