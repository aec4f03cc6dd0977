//! The mass-change guard in the database: every deactivation a sync or the
//! scheduler makes passes here, with the pure decisions of
//! [`hris_mapping::guard`].
//!
//! - A user with a pending hold is deactivated by nobody but an approval.
//! - A rejected snapshot deactivates nobody until the HR data changes.
//! - An incremental page's deactivations are one batch against the tenant's
//!   rolling budget; a full sync's are all collected and decided as one batch
//!   once its listing is complete (its first page cannot slip through).
//! - The scheduler's leave-date deactivations are one batch per tenant and tick.
//!
//! Decisions of one tenant take turns (a transaction-scoped advisory lock), so
//! two workers cannot both spend the same budget.

use deadpool_postgres::GenericClient;
use hris_mapping::employee::reason;
use hris_mapping::guard::{Budget, split_by_health, window};
use hris_mapping::plan::{Decision, HeldDeactivation, IdentifiedPage, decide, screen};
use hris_types::TenantId;

use crate::apply::ApplyContext;
use crate::row::RowExt;
use crate::{PageStats, Store, StoreError};

/// The cause the scheduler's deactivations (a leave day ended, a deletion
/// outlasted its grace period) record in the change log: one text for the
/// writer and for whoever counts them.
pub const SCHEDULER_CAUSE: &str = "schedule: leave date or grace period reached";

/// Takes the tenant's guard lock for this transaction, then reads its budget.
pub(crate) async fn budget(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
) -> Result<Budget, StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('hris-guard:' || $1, 0))",
        &[&tenant_id],
    )
    .await?;
    read_budget(tx, tenant_id).await
}

/// The tenant's budget: its threshold of the users active over the window.
pub(crate) async fn read_budget(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
) -> Result<Budget, StoreError> {
    let since = chrono::Utc::now() - window();
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active'
                        AND kombo_id IS NOT NULL) AS active,
                    (SELECT count(*) FROM users WHERE tenant_id = $1 AND auto_deactivated_at > $2) AS recent,
                    (SELECT mass_change_threshold FROM tenants WHERE id = $1) AS threshold",
            &[&tenant_id, &since],
        )
        .await?;
    let threshold: Option<f64> = row.col("threshold")?;
    Ok(Budget::new(
        threshold.unwrap_or(0.2),
        row.col("active")?,
        row.col("recent")?,
    ))
}

/// Applies the guard to one page's plan: the pure screen and decision of
/// `hris_mapping::plan`, with the budget read (under the tenant's lock) only
/// when an incremental page has deactivations to decide.
pub(crate) async fn guard_page(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    identified: &mut IdentifiedPage,
) -> Result<(), StoreError> {
    let IdentifiedPage { plan, stored, page } = identified;
    let mut open = screen(plan, page, stored);
    if !open.is_empty() {
        // Deletions Kombo's own state makes untrustworthy are held first, with
        // their own reason; the rest meet the budget as before.
        let health = crate::health::guard_health(tx, &ctx.tenant_id).await?;
        let batch = open
            .iter()
            .filter_map(|&i| plan.writes.get(i).map(|w| (i, reason_of(w))))
            .collect();
        let split = split_by_health(&health, batch);
        if let (Some(because), false) = (split.because, split.held.is_empty()) {
            let held: Vec<usize> = split.held.iter().map(|(i, _)| *i).collect();
            decide(plan, &held, &Decision::Hold { because });
            // `decide` drops emptied writes: index the page's writes afresh.
            open = screen(plan, page, stored);
        }
    }
    let decision = if open.is_empty() {
        Decision::Admit
    } else if ctx.track_seen {
        Decision::Stage
    } else {
        let budget = budget(tx, &ctx.tenant_id).await?;
        if budget.admits(open.len()) {
            Decision::Admit
        } else {
            Decision::Hold {
                because: budget.because(open.len()),
            }
        }
    };
    decide(plan, &open, &decision);
    Ok(())
}

fn reason_of(write: &hris_mapping::plan::UserWrite) -> String {
    write.user.deactivation_reason.clone().unwrap_or_default()
}

/// Parks deactivations for approval (a user is held once at a time).
pub(crate) async fn hold(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    held: &[HeldDeactivation],
) -> Result<(), StoreError> {
    if held.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = held.iter().map(|h| h.kombo_id.as_str()).collect();
    let reasons: Vec<&str> = held.iter().map(|h| h.reason.as_str()).collect();
    let because: Vec<&str> = held.iter().map(|h| h.because.as_str()).collect();
    tx.execute(
        "INSERT INTO held_changes (tenant_id, user_id, user_kombo_id, sync_run_id, reason, held_because)
         SELECT $1, u.id, u.kombo_id, $5, r.reason, r.because
         FROM UNNEST($2::text[], $3::text[], $4::text[]) AS r(id, reason, because)
         JOIN users u ON u.tenant_id = $1 AND u.kombo_id = r.id
         ON CONFLICT (user_id) WHERE state = 'pending' DO NOTHING",
        &[&ctx.tenant_id, &ids, &reasons, &because, &ctx.sync_run_id],
    )
    .await?;
    tracing::warn!(tenant_id = %ctx.tenant_id, held = held.len(), "mass-change guard held deactivations for approval");
    Ok(())
}

/// Records a full sync's deactivations for the decision at its end.
pub(crate) async fn stage(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    staged: &[(String, String)],
) -> Result<(), StoreError> {
    let (true, Some(run), false) = (ctx.track_seen, ctx.sync_run_id, staged.is_empty()) else {
        return Ok(());
    };
    let ids: Vec<&str> = staged.iter().map(|(id, _)| id.as_str()).collect();
    let reasons: Vec<&str> = staged.iter().map(|(_, r)| r.as_str()).collect();
    tx.execute(
        "INSERT INTO full_sync_deactivations (run_id, user_id, reason)
         SELECT $1, u.id, r.reason
         FROM UNNEST($3::text[], $4::text[]) AS r(id, reason)
         JOIN users u ON u.tenant_id = $2 AND u.kombo_id = r.id
         ON CONFLICT (run_id, user_id) DO UPDATE SET reason = EXCLUDED.reason",
        &[&run, &ctx.tenant_id, &ids, &reasons],
    )
    .await?;
    Ok(())
}

/// Pending holds of users the HR data made active again stop being pending.
pub(crate) async fn supersede(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
    kombo_ids: &[String],
) -> Result<(), StoreError> {
    if kombo_ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "UPDATE held_changes SET state = 'superseded', decided_at = now(), decided_by = 'sync: active again'
         WHERE tenant_id = $1 AND state = 'pending'
           AND user_id IN (SELECT u.id FROM users u WHERE u.tenant_id = $1 AND u.kombo_id = ANY($2))",
        &[&tenant_id, &kombo_ids],
    )
    .await?;
    Ok(())
}

/// One batch of deactivations, by user row id with each one's reason:
/// applied together when the budget admits it, held together otherwise.
/// Returns the counts for the run.
pub(crate) async fn decide_batch(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
    batch: &[(i64, String)],
    cause: &str,
    sync_run_id: Option<uuid::Uuid>,
) -> Result<PageStats, StoreError> {
    let mut stats = PageStats::default();
    if batch.is_empty() {
        return Ok(stats);
    }
    let budget = budget(tx, tenant_id).await?;
    let health = crate::health::guard_health(tx, tenant_id).await?;
    let split = split_by_health(&health, batch.to_vec());
    if let Some(because) = split.because.filter(|_| !split.held.is_empty()) {
        stats.held += hold_batch(tx, tenant_id, &split.held, sync_run_id, &because).await?;
    }
    let batch = split.rest.as_slice();
    if batch.is_empty() {
        return Ok(stats);
    }
    let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
    let reasons: Vec<&str> = batch.iter().map(|(_, r)| r.as_str()).collect();
    if budget.admits(batch.len()) {
        let row = tx
            .query_one(
                "WITH target AS (
                    SELECT u.id, u.kombo_id, u.deactivation_reason AS old_reason, r.reason
                    FROM UNNEST($2::bigint[], $3::text[]) AS r(id, reason)
                    JOIN users u ON u.id = r.id AND u.tenant_id = $1 AND u.status = 'active'),
                 done AS (
                    UPDATE users u SET status = 'deactivated', deactivation_reason = t.reason,
                        deactivate_at = NULL, auto_deactivated_at = now(), updated_at = now(),
                        pending_deactivation_at = NULL, pending_deactivation_reason = NULL,
                        deactivation_evidence = jsonb_build_object('sync_run', $5::uuid, 'event', $4::text)
                    FROM target t WHERE u.id = t.id RETURNING u.id),
                 log AS (
                    INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, cause_event_id, sync_run_id)
                    SELECT $1, 'user', t.kombo_id, f.field, f.old, f.new, $4, $5
                    FROM target t, LATERAL (VALUES ('status', '\"active\"'::jsonb, '\"deactivated\"'::jsonb),
                        ('deactivation_reason', to_jsonb(t.old_reason), to_jsonb(t.reason))) AS f(field, old, new)),
                 cancelled AS (
                    UPDATE invitations i SET state = 'cancelled', cancel_reason = 'left before being invited', updated_at = now()
                    FROM target t WHERE i.user_id = t.id AND i.state IN ('scheduled', 'due'))
                 SELECT count(*) AS deactivated FROM done",
                &[&tenant_id, &ids, &reasons, &cause, &sync_run_id],
            )
            .await?;
        let deactivated: i64 = row.col("deactivated")?;
        stats.deactivated = u32::try_from(deactivated).unwrap_or(u32::MAX);
        return Ok(stats);
    }
    let because = budget.because(batch.len());
    stats.held += hold_batch(tx, tenant_id, batch, sync_run_id, &because).await?;
    Ok(stats)
}

/// Parks a batch of deactivations (by user row id) for approval, with why.
async fn hold_batch(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
    batch: &[(i64, String)],
    sync_run_id: Option<uuid::Uuid>,
    because: &str,
) -> Result<u32, StoreError> {
    let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
    let reasons: Vec<&str> = batch.iter().map(|(_, r)| r.as_str()).collect();
    tx.execute(
        "INSERT INTO held_changes (tenant_id, user_id, user_kombo_id, sync_run_id, reason, held_because)
         SELECT $1, u.id, u.kombo_id, $4, r.reason, $5
         FROM UNNEST($2::bigint[], $3::text[]) AS r(id, reason)
         JOIN users u ON u.id = r.id AND u.tenant_id = $1
         ON CONFLICT (user_id) WHERE state = 'pending' DO NOTHING",
        &[&tenant_id, &ids, &reasons, &sync_run_id, &because],
    )
    .await?;
    tracing::warn!(
        %tenant_id,
        held = batch.len(),
        "guard held deactivations for approval"
    );
    Ok(u32::try_from(batch.len()).unwrap_or(u32::MAX))
}

/// The users a complete full listing deactivates: those its pages staged, and
/// (when the listing may mark anyone missing) those it did not contain and
/// whose grace period has run out. None of them with a pending hold.
pub(crate) async fn full_listing_batch(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
    run: uuid::Uuid,
    with_vanished: bool,
) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = tx
        .query(
            "SELECT u.id, d.reason FROM full_sync_deactivations d JOIN users u ON u.id = d.user_id
             WHERE d.run_id = $2 AND u.tenant_id = $1 AND u.status = 'active'
               AND NOT EXISTS (SELECT 1 FROM held_changes h WHERE h.user_id = u.id AND h.state = 'pending')
             UNION
             SELECT u.id, $3::text FROM users u
             WHERE $4::boolean AND u.tenant_id = $1 AND u.status = 'active' AND u.kombo_id IS NOT NULL
               AND u.pending_deactivation_reason = $3 AND u.pending_deactivation_at <= now()
               AND NOT EXISTS (SELECT 1 FROM full_sync_seen s WHERE s.run_id = $2 AND s.kombo_id = u.kombo_id)
               AND NOT EXISTS (SELECT 1 FROM held_changes h WHERE h.user_id = u.id AND h.state = 'pending')",
            &[&tenant_id, &run, &reason::VANISHED, &with_vanished],
        )
        .await?;
    // A user both staged and unseen cannot happen (staged users were seen);
    // keep the first reason if it ever did.
    let mut batch: Vec<(i64, String)> = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        let id: i64 = row.col("id")?;
        if seen.insert(id) {
            batch.push((id, row.col("reason")?));
        }
    }
    Ok(batch)
}

impl Store {
    /// The tenant's mass-change budget as it stands (read-only).
    pub async fn guard_budget(
        &self,
        tenant_id: &TenantId,
    ) -> Result<hris_mapping::guard::Budget, StoreError> {
        let client = self.client().await?;
        read_budget(&client, tenant_id).await
    }
}
