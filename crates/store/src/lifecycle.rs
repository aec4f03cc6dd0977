//! Invitations and held changes (the guard's decisions themselves are in
//! `guard`; effective-dated deactivations, which go through it, in `pages`).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use hris_types::TenantId;
use postgres_from_row::FromRow;
use serde::Serialize;

use crate::row::read_all;
use crate::{Store, StoreError};
use hris_mapping::plan::UserWrite;

/// Schedules (or reschedules) the invitations of written users, and cancels
/// those of people who left before being invited. `ids` maps each written
/// user's Kombo id to its row id (rows are addressed by id: a join on Kombo
/// ids made PostgreSQL's generic plan scan every user of the tenant per page).
pub(crate) async fn schedule_invitations(
    tx: &impl GenericClient,
    writes: &[UserWrite],
    ids: &std::collections::HashMap<String, i64>,
    tenant_id: &TenantId,
) -> Result<(), StoreError> {
    let mut invite_users = Vec::new();
    let mut invite_due = Vec::new();
    let mut reinvite = Vec::new();
    let mut left = Vec::new();
    for w in writes {
        let Some(id) = ids.get(&w.user.kombo_id) else {
            continue;
        };
        match (w.user.status, w.invite_at) {
            (hris_mapping::UserStatus::Active, Some(due)) => {
                invite_users.push(*id);
                invite_due.push(due);
                reinvite.push(w.reinvite);
            }
            (hris_mapping::UserStatus::Deactivated, _) => left.push(*id),
            _ => {}
        }
    }
    tx.execute(
        "INSERT INTO invitations (user_id, tenant_id, due_at)
         SELECT r.id, $1, r.due FROM UNNEST($2::bigint[], $3::timestamptz[], $4::boolean[]) AS r(id, due, again)
         ON CONFLICT (user_id) DO UPDATE SET due_at = EXCLUDED.due_at, updated_at = now(),
             state = 'scheduled', cancel_reason = NULL
         WHERE (invitations.state = 'scheduled' AND invitations.due_at <> EXCLUDED.due_at)
            -- A returning person (a relinked rehire) is invited anew, once:
            -- the row is per user, so a replay finds it scheduled already.
            OR (invitations.state IN ('sent', 'cancelled')
                AND (SELECT again FROM UNNEST($2::bigint[], $4::boolean[]) AS a(id, again)
                     WHERE a.id = invitations.user_id LIMIT 1))",
        &[&tenant_id, &invite_users, &invite_due, &reinvite],
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

#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct HeldChange {
    pub id: i64,
    pub user_kombo_id: String,
    pub reason: String,
    pub held_because: String,
    pub state: String,
    pub held_at: DateTime<Utc>,
}

impl Store {
    pub async fn held_changes(&self, tenant_id: &TenantId) -> Result<Vec<HeldChange>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, user_kombo_id, reason, held_because, state, held_at FROM held_changes
                 WHERE tenant_id = $1 AND state = 'pending' ORDER BY id",
                &[&tenant_id],
            )
            .await?;
        read_all(&rows)
    }

    /// Applies (approve) or drops (reject) a tenant's pending held changes;
    /// returns how many. Approved deactivations land in the change log; a
    /// rejected one leaves the user as it was, with no leave-date deactivation
    /// pending, until the HR data changes again.
    /// `only` narrows the decision to those people (Kombo ids); `None`
    /// decides every pending change of the tenant.
    pub async fn decide_held(
        &self,
        tenant_id: &TenantId,
        approve: bool,
        actor: &str,
        only: Option<&[String]>,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if approve {
            tx.execute(
                "WITH target AS (
                    SELECT h.id, h.user_id, h.reason, u.kombo_id, u.status AS old_status, u.deactivation_reason AS old_reason
                    FROM held_changes h JOIN users u ON u.id = h.user_id
                    WHERE h.tenant_id = $1 AND h.state = 'pending'
                      AND ($3::text[] IS NULL OR h.user_kombo_id = ANY($3))
                    FOR UPDATE OF h, u),
                 log AS (
                    INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, cause_event_id)
                    SELECT $1, 'user', kombo_id, f.field, f.old, f.new, 'held-change approved by ' || $2
                    FROM target, LATERAL (VALUES
                        ('status', to_jsonb(old_status), to_jsonb('deactivated'::text)),
                        ('deactivation_reason', to_jsonb(old_reason), to_jsonb(reason))) AS f(field, old, new)
                    WHERE old_status = 'active'),
                 cancelled AS (
                    UPDATE invitations i SET state = 'cancelled', cancel_reason = 'left before being invited', updated_at = now()
                    FROM target t WHERE i.user_id = t.user_id AND i.state IN ('scheduled', 'due'))
                 UPDATE users u SET status = 'deactivated', deactivation_reason = t.reason,
                    deactivate_at = NULL, updated_at = now(),
                    pending_deactivation_at = NULL, pending_deactivation_reason = NULL,
                    deactivation_evidence = jsonb_build_object('approved_by', $2::text, 'held_change', t.id)
                 FROM target t WHERE u.id = t.user_id",
                &[&tenant_id, &actor, &only],
            )
            .await?;
        } else {
            tx.execute(
                "UPDATE users u SET deactivation_rejected_for = COALESCE(u.kombo_changed_at, now()),
                    deactivate_at = NULL, updated_at = now()
                 FROM held_changes h
                 WHERE h.tenant_id = $1 AND h.state = 'pending' AND u.id = h.user_id
                   AND ($2::text[] IS NULL OR h.user_kombo_id = ANY($2))",
                &[&tenant_id, &only],
            )
            .await?;
        }
        let n = tx
            .execute(
                "UPDATE held_changes SET state = $2, decided_at = now(), decided_by = $3
                 WHERE tenant_id = $1 AND state = 'pending'
                   AND ($4::text[] IS NULL OR user_kombo_id = ANY($4))",
                &[
                    &tenant_id,
                    &if approve { "approved" } else { "rejected" },
                    &actor,
                    &only,
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
}
