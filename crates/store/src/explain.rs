//! "Why was this person deactivated?": a user's current state and the history
//! of every synced field, with the event or sync run that caused each change.

use chrono::{DateTime, NaiveDate, Utc};
use hris_types::TenantId;
use postgres_from_row::FromRow;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct UserState {
    pub id: i64,
    /// `None` for a user the platform created and no HR record adopted.
    pub kombo_id: Option<String>,
    pub remote_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub email_status: String,
    pub job_title: Option<String>,
    pub status: String,
    pub deactivation_reason: Option<String>,
    pub employment_status: Option<String>,
    pub hire_date: Option<NaiveDate>,
    pub leave_date: Option<NaiveDate>,
    pub manager_kombo_id: Option<String>,
    pub primary_team: Option<String>,
    pub location: Option<String>,
    pub remote_deleted_at: Option<DateTime<Utc>>,
    pub kombo_changed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// A deactivation waiting out the grace period, and why.
    pub pending_deactivation_at: Option<DateTime<Utc>>,
    pub pending_deactivation_reason: Option<String>,
    /// What made the last deactivation (sync run, event).
    pub deactivation_evidence: Option<Value>,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct FieldHistory {
    pub field: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
    pub changed_at: DateTime<Utc>,
    pub cause_event_id: Option<String>,
    pub sync_run_id: Option<Uuid>,
    /// The run's kind and trigger, e.g. "incremental/webhook".
    pub sync_run: Option<String>,
}

/// Change-log entries with the run that made each, as [`FieldHistory`].
const HISTORY: &str = "SELECT c.field, c.old_value, c.new_value, c.changed_at, c.cause_event_id, \
    c.sync_run_id, r.kind || '/' || r.trigger AS sync_run \
    FROM change_log c LEFT JOIN sync_runs r ON r.id = c.sync_run_id";

impl Store {
    /// A user by Kombo id (current or former) or email (current or former,
    /// case and spaces aside).
    pub async fn find_user(
        &self,
        tenant_id: &TenantId,
        who: &str,
    ) -> Result<UserState, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT u.id, u.kombo_id, u.remote_id, u.first_name, u.last_name, u.email, u.email_status,
                        u.job_title, u.status, u.deactivation_reason, u.employment_status, u.hire_date,
                        u.leave_date, u.manager_kombo_id,
                        (SELECT COALESCE(t.name, t.kombo_id) FROM teams t WHERE t.id = u.primary_team_id) AS primary_team,
                        (SELECT COALESCE(l.name, l.kombo_id) FROM locations l WHERE l.id = u.primary_location_id) AS location,
                        u.remote_deleted_at, u.kombo_changed_at, u.updated_at, u.pending_deactivation_at,
                        u.pending_deactivation_reason, u.deactivation_evidence
                 FROM users u WHERE u.tenant_id = $1 AND (u.kombo_id = $2
                    OR lower(btrim(u.email)) = lower(btrim($2))
                    OR u.id IN (SELECT l.user_id FROM user_links l WHERE l.tenant_id = $1 AND l.kombo_id = $2)
                    OR u.id IN (SELECT e.user_id FROM user_emails e WHERE e.tenant_id = $1 AND e.email = lower(btrim($2))))
                 ORDER BY (u.kombo_id = $2) IS TRUE DESC, (lower(btrim(u.email)) = lower(btrim($2))) IS TRUE DESC,
                    u.status = 'active' DESC, u.id DESC LIMIT 1",
                &[&tenant_id, &who],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {who} of tenant {tenant_id}")))?;
        row.read()
    }

    /// Every logged change of one user, across every record it was linked
    /// to, oldest first.
    pub async fn user_history(
        &self,
        tenant_id: &TenantId,
        user_id: i64,
    ) -> Result<Vec<FieldHistory>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "{HISTORY} WHERE c.tenant_id = $1 AND c.record_type = 'user' AND c.record_kombo_id IN (
                        SELECT l.kombo_id FROM user_links l WHERE l.tenant_id = $1 AND l.user_id = $2
                        UNION SELECT u.kombo_id FROM users u WHERE u.id = $2 AND u.kombo_id IS NOT NULL)
                     ORDER BY c.changed_at, c.id"
                ),
                &[&tenant_id, &user_id],
            )
            .await?;
        read_all(&rows)
    }

    /// Every logged change of one record, oldest first.
    pub async fn history(
        &self,
        tenant_id: &TenantId,
        record_type: &str,
        kombo_id: &str,
    ) -> Result<Vec<FieldHistory>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "{HISTORY} WHERE c.tenant_id = $1 AND c.record_type = $2 AND c.record_kombo_id = $3
                     ORDER BY c.changed_at, c.id"
                ),
                &[&tenant_id, &record_type, &kombo_id],
            )
            .await?;
        read_all(&rows)
    }
}
