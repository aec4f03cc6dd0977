//! The mass-change guard, invitations and effective-dated deactivations.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;

use crate::apply::ApplyContext;
use crate::user_plan::{HeldDeactivation, UserPlan, UserWrite};
use crate::{Store, StoreError};

/// Fields a held deactivation keeps as they were.
const DEACTIVATION_FIELDS: [&str; 2] = ["status", "deactivation_reason"];

/// How many more users this run may deactivate before the guard holds the rest;
/// `None` when there is no run to count against (a single page write).
pub(crate) async fn allowance(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
) -> Result<Option<(i64, String)>, StoreError> {
    let Some(run) = ctx.sync_run_id else {
        return Ok(None);
    };
    let row = tx
        .query_opt(
            "SELECT COALESCE(r.active_at_start,
                        (SELECT count(*) FROM users u WHERE u.tenant_id = r.tenant_id AND u.status = 'active')::int),
                    r.deactivated, t.mass_change_threshold
             FROM sync_runs r JOIN tenants t ON t.id = r.tenant_id WHERE r.id = $1 FOR UPDATE OF r",
            &[&run],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let active: i32 = row.get(0);
    let done: i32 = row.get(1);
    let threshold: f64 = row.get(2);
    let limit = (threshold * f64::from(active)).floor() as i64;
    let because = format!(
        "the sync would deactivate more than {:.0}% of {active} active users",
        threshold * 100.0
    );
    Ok(Some((limit - i64::from(done), because)))
}

/// Holds this page's deactivations when, with what the run already did, they
/// would cross the tenant's threshold. Everything else in the page applies.
pub(crate) async fn guard_page(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    plan: &mut UserPlan,
) -> Result<(), StoreError> {
    let deactivating = plan.writes.iter().filter(|w| w.deactivates()).count() as i64;
    if deactivating == 0 {
        return Ok(());
    }
    let Some((allowed, because)) = allowance(tx, ctx).await? else {
        return Ok(());
    };
    if deactivating <= allowed {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(plan.writes.len());
    for mut write in std::mem::take(&mut plan.writes) {
        if !write.deactivates() {
            kept.push(write);
            continue;
        }
        plan.held.push(HeldDeactivation {
            kombo_id: write.user.kombo_id.clone(),
            reason: write.user.deactivation_reason.clone().unwrap_or_default(),
            because: because.clone(),
        });
        plan.stats.deactivated -= 1;
        keep_active(&mut write);
        if write.changes.is_empty() {
            plan.stats.updated -= 1;
        } else {
            kept.push(write);
        }
    }
    plan.writes = kept;
    Ok(())
}

fn keep_active(write: &mut UserWrite) {
    write.user.status = hris_mapping::UserStatus::Active;
    write.user.deactivation_reason = None;
    write
        .changes
        .retain(|c| !DEACTIVATION_FIELDS.contains(&c.field));
}

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

/// Schedules (or reschedules) the invitations of written users, and cancels
/// those of people who left before being invited. `ids` maps each written
/// user's Kombo id to its row id (rows are addressed by id: a join on Kombo
/// ids made PostgreSQL's generic plan scan every user of the tenant per page).
pub(crate) async fn schedule_invitations(
    tx: &impl GenericClient,
    writes: &[UserWrite],
    ids: &std::collections::HashMap<String, i64>,
    tenant_id: &str,
) -> Result<(), StoreError> {
    let mut invite_users = Vec::new();
    let mut invite_due = Vec::new();
    let mut left = Vec::new();
    for w in writes {
        let Some(id) = ids.get(&w.user.kombo_id) else {
            continue;
        };
        match (w.user.status, w.invite_at) {
            (hris_mapping::UserStatus::Active, Some(due)) => {
                invite_users.push(*id);
                invite_due.push(due);
            }
            (hris_mapping::UserStatus::Deactivated, _) => left.push(*id),
            _ => {}
        }
    }
    tx.execute(
        "INSERT INTO invitations (user_id, tenant_id, due_at)
         SELECT r.id, $1, r.due FROM UNNEST($2::bigint[], $3::timestamptz[]) AS r(id, due)
         ON CONFLICT (user_id) DO UPDATE SET due_at = EXCLUDED.due_at, updated_at = now()
         WHERE invitations.state = 'scheduled' AND invitations.due_at <> EXCLUDED.due_at",
        &[&tenant_id, &invite_users, &invite_due],
    )
    .await?;
    tx.execute(
        "UPDATE invitations SET state = 'cancelled', cancel_reason = 'left before being invited', updated_at = now()
         WHERE user_id = ANY($1::bigint[]) AND state IN ('scheduled', 'due')",
        &[&left],
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldChange {
    pub id: i64,
    pub user_kombo_id: String,
    pub reason: String,
    pub held_because: String,
    pub state: String,
    pub held_at: DateTime<Utc>,
}

impl Store {
    pub async fn held_changes(&self, tenant_id: &str) -> Result<Vec<HeldChange>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, user_kombo_id, reason, held_because, state, held_at FROM held_changes
                 WHERE tenant_id = $1 AND state = 'pending' ORDER BY id",
                &[&tenant_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| HeldChange {
                id: r.get(0),
                user_kombo_id: r.get(1),
                reason: r.get(2),
                held_because: r.get(3),
                state: r.get(4),
                held_at: r.get(5),
            })
            .collect())
    }

    /// Applies (approve) or drops (reject) a tenant's pending held changes;
    /// returns how many. Approved deactivations land in the change log.
    pub async fn decide_held(
        &self,
        tenant_id: &str,
        approve: bool,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if approve {
            tx.execute(
                "WITH target AS (
                    SELECT h.user_id, h.reason, u.kombo_id, u.status AS old_status, u.deactivation_reason AS old_reason
                    FROM held_changes h JOIN users u ON u.id = h.user_id
                    WHERE h.tenant_id = $1 AND h.state = 'pending' FOR UPDATE OF h, u),
                 log AS (
                    INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, cause_event_id)
                    SELECT $1, 'user', kombo_id, f.field, f.old, f.new, 'held-change approved by ' || $2
                    FROM target, LATERAL (VALUES
                        ('status', to_jsonb(old_status), to_jsonb('deactivated'::text)),
                        ('deactivation_reason', to_jsonb(old_reason), to_jsonb(reason))) AS f(field, old, new)
                    WHERE old_status = 'active')
                 UPDATE users u SET status = 'deactivated', deactivation_reason = t.reason, updated_at = now()
                 FROM target t WHERE u.id = t.user_id",
                &[&tenant_id, &actor],
            )
            .await?;
        }
        let n = tx
            .execute(
                "UPDATE held_changes SET state = $2, decided_at = now(), decided_by = $3
                 WHERE tenant_id = $1 AND state = 'pending'",
                &[
                    &tenant_id,
                    &if approve { "approved" } else { "rejected" },
                    &actor,
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Turns scheduled invitations whose time has come into due ones.
    pub async fn release_due_invitations(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "UPDATE invitations SET state = 'due', updated_at = now()
                 WHERE state = 'scheduled' AND due_at <= now()",
                &[],
            )
            .await?)
    }

    /// Deactivates users whose leave day has ended, with change-log entries;
    /// returns how many.
    pub async fn apply_due_deactivations(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "WITH due AS (
                    UPDATE users SET status = 'deactivated', deactivation_reason = 'leave_date_reached', updated_at = now()
                    WHERE status = 'active' AND deactivate_at <= now()
                    RETURNING id, tenant_id, kombo_id),
                 log AS (
                    INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, cause_event_id)
                    SELECT tenant_id, 'user', kombo_id, f.field, f.old, f.new, 'schedule: leave date reached'
                    FROM due, LATERAL (VALUES ('status', '\"active\"'::jsonb, '\"deactivated\"'::jsonb),
                                              ('deactivation_reason', 'null'::jsonb, '\"leave_date_reached\"'::jsonb)) AS f(field, old, new)),
                 cancelled AS (
                    UPDATE invitations i SET state = 'cancelled', cancel_reason = 'left before being invited', updated_at = now()
                    FROM due WHERE i.user_id = due.id AND i.state IN ('scheduled', 'due'))
                 SELECT count(*) FROM due",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }
}
