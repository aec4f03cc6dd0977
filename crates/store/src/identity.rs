//! Identity, for people: a tenant's identity conflicts and their resolution
//! (`tenant identity`), and a user's emails and linked records (`explain`).

use chrono::{DateTime, Utc};
use hris_types::TenantId;
use postgres_from_row::FromRow;
use serde::Serialize;

use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

/// An HR record that matched ambiguously: nobody was merged or changed.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct IdentityConflict {
    pub id: i64,
    /// The HR record (Kombo id) that was not applied.
    pub kombo_id: String,
    /// shared_email | email_held | ambiguous
    pub kind: String,
    /// Other live records with the same email (shared_email).
    pub other_kombo_ids: Vec<String>,
    /// Users it could be (email_held: the holder; ambiguous: the candidates).
    pub user_ids: Vec<i64>,
    pub state: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

/// How a person resolves a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The record is this user (`users.id`): linked now, applied by the next sync.
    Link(i64),
    /// The record gets a user of its own, whatever its email matches.
    Create,
    /// The record is never synced.
    Ignore,
}

/// A user's emails and the records it was linked to, for `explain`.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct UserEmail {
    pub email: String,
    pub first_seen_at: DateTime<Utc>,
    pub replaced_at: Option<DateTime<Utc>>,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct UserLink {
    pub kombo_id: String,
    pub linked_by: String,
    pub linked_at: DateTime<Utc>,
    pub unlinked_at: Option<DateTime<Utc>>,
}

const CONFLICT_COLUMNS: &str = "id, kombo_id, kind, other_kombo_ids, user_ids, state, first_seen_at, \
    last_seen_at, resolved_at, resolved_by, resolution";

impl Store {
    /// The tenant's identity conflicts, open ones only unless `all`.
    pub async fn identity_conflicts(
        &self,
        tenant_id: &TenantId,
        all: bool,
    ) -> Result<Vec<IdentityConflict>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CONFLICT_COLUMNS} FROM identity_conflicts
                     WHERE tenant_id = $1 AND ($2 OR state = 'open') ORDER BY id"
                ),
                &[&tenant_id, &all],
            )
            .await?;
        read_all(&rows)
    }

    /// Resolves one open conflict of the tenant as a person decided; the
    /// conflict row keeps who, when and how. Linking refuses a user of
    /// another tenant, or one an active HR record still holds.
    pub async fn resolve_identity_conflict(
        &self,
        tenant_id: &TenantId,
        conflict_id: i64,
        resolution: Resolution,
        actor: &str,
    ) -> Result<IdentityConflict, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT kombo_id FROM identity_conflicts
                 WHERE id = $1 AND tenant_id = $2 AND state = 'open' FOR UPDATE",
                &[&conflict_id, &tenant_id],
            )
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!("open conflict {conflict_id} of tenant {tenant_id}"))
            })?;
        let record: String = row.col("kombo_id")?;
        let (state, how) = match resolution {
            Resolution::Link(user) => {
                link(&tx, tenant_id, &record, user).await?;
                ("resolved", format!("linked to user {user}"))
            }
            Resolution::Create | Resolution::Ignore => {
                let decision = if resolution == Resolution::Create {
                    "create"
                } else {
                    "ignore"
                };
                tx.execute(
                    "INSERT INTO identity_decisions (tenant_id, kombo_id, decision, decided_by) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET decision = EXCLUDED.decision,
                         decided_by = EXCLUDED.decided_by, decided_at = now()",
                    &[&tenant_id, &record, &decision, &actor],
                )
                .await?;
                let state = if decision == "ignore" {
                    "ignored"
                } else {
                    "resolved"
                };
                (state, format!("{decision} (a person decided)"))
            }
        };
        let row = tx
            .query_one(
                &format!(
                    "UPDATE identity_conflicts SET state = $2, resolved_at = now(), resolved_by = $3, resolution = $4
                     WHERE id = $1 RETURNING {CONFLICT_COLUMNS}"
                ),
                &[&conflict_id, &state, &actor, &how],
            )
            .await?;
        tx.commit().await?;
        tracing::info!(
            %tenant_id,
            conflict_id,
            state,
            "identity conflict resolved by a person"
        );
        row.read()
    }

    /// Records of open conflicts that a fetch started at `since` may have
    /// settled without reading them: the other record of a shared email was
    /// applied since, or the user holding the email changed since. At most
    /// 100, oldest first; each is read again once per such change (reading
    /// it refreshes `last_seen_at`).
    pub async fn conflicts_to_recheck(
        &self,
        tenant_id: &TenantId,
        since: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT c.kombo_id FROM identity_conflicts c
                 WHERE c.tenant_id = $1 AND c.state = 'open' AND c.last_seen_at < $2
                   AND (EXISTS (SELECT 1 FROM identity_conflicts o
                                WHERE o.tenant_id = $1 AND o.kombo_id = ANY(c.other_kombo_ids)
                                  AND o.state = 'resolved' AND o.resolved_at >= $2)
                        OR EXISTS (SELECT 1 FROM users u WHERE u.id = ANY(c.user_ids) AND u.updated_at >= $2))
                 ORDER BY c.id LIMIT 100",
                &[&tenant_id, &since],
            )
            .await?
            .iter()
            .map(|r| r.col("kombo_id"))
            .collect()
    }

    /// A user's emails, newest first, and the records it was linked to.
    pub async fn user_identity(
        &self,
        user_id: i64,
    ) -> Result<(Vec<UserEmail>, Vec<UserLink>), StoreError> {
        let client = self.client().await?;
        let emails = client
            .query(
                "SELECT email, first_seen_at, replaced_at, why FROM user_emails WHERE user_id = $1
                 ORDER BY replaced_at DESC NULLS FIRST, first_seen_at DESC",
                &[&user_id],
            )
            .await?;
        let links = client
            .query(
                "SELECT kombo_id, linked_by, linked_at, unlinked_at FROM user_links WHERE user_id = $1
                 ORDER BY linked_at",
                &[&user_id],
            )
            .await?;
        Ok((read_all(&emails)?, read_all(&links)?))
    }
}

/// Links `record` to `user` now; the next sync of the record applies its
/// fields (Linked). Only a user of this tenant that no live record holds.
async fn link(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: &TenantId,
    record: &str,
    user: i64,
) -> Result<(), StoreError> {
    let row = tx
        .query_opt(
            "SELECT kombo_id, status, remote_deleted_at, leave_date FROM users
             WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
            &[&user, &tenant_id],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {user} of tenant {tenant_id}")))?;
    let current: Option<String> = row.col("kombo_id")?;
    let status: String = row.col("status")?;
    let deleted: Option<DateTime<Utc>> = row.col("remote_deleted_at")?;
    let leave: Option<chrono::NaiveDate> = row.col("leave_date")?;
    if current.is_some() && status == "active" && deleted.is_none() && leave.is_none() {
        return Err(StoreError::Conflict(format!(
            "user {user} is linked to the live HR record {}; link it only once that record has ended",
            current.unwrap_or_default()
        )));
    }
    let taken = tx
        .query_opt(
            "SELECT id FROM users WHERE tenant_id = $1 AND kombo_id = $2",
            &[&tenant_id, &record],
        )
        .await?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "record {record} already has a user"
        )));
    }
    tx.execute(
        "WITH moved AS (UPDATE users SET kombo_id = $3, kombo_changed_at = NULL, updated_at = now() WHERE id = $2),
              ended AS (UPDATE user_links SET unlinked_at = now()
                        WHERE tenant_id = $1 AND user_id = $2 AND unlinked_at IS NULL),
              logged AS (INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, cause_event_id)
                         VALUES ($1, 'user', $3, 'linked_record', to_jsonb($4::text),
                                 jsonb_build_object('kombo_id', $3, 'matched_by', 'admin', 'user_id', $2), 'identity resolved by a person'))
         INSERT INTO user_links (tenant_id, kombo_id, user_id, linked_by) VALUES ($1, $3, $2, 'admin')
         ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET user_id = EXCLUDED.user_id, linked_by = 'admin',
             linked_at = now(), unlinked_at = NULL",
        &[&tenant_id, &user, &record, &current],
    )
    .await?;
    Ok(())
}
