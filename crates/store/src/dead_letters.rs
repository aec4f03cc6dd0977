//! The dead-letter archive on-call queries: what failed, why, for whom; and the
//! marks replay and purge leave (with an audit row each).

use chrono::{DateTime, Utc};
use hris_types::TenantId;
use postgres_from_row::FromRow;
use serde::Serialize;
use serde_json::Value;

use crate::row::{RowExt, read_all};
use crate::{Store, StoreError};

/// A dead letter as the archiver writes it.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct NewDeadLetter {
    /// Stable across redeliveries of the same dead letter (archive idempotency).
    #[serde(skip)]
    pub dedupe_key: String,
    pub message_id: Option<String>,
    pub routing_key: String,
    pub tenant_id: Option<TenantId>,
    pub integration_id: Option<String>,
    pub entity: Option<String>,
    pub reason: String,
    pub error_class: String,
    pub error_code: Option<String>,
    pub log_url: Option<String>,
    /// Kombo's `error.message`, personal data masked.
    pub error_message: Option<String>,
    pub attempts: i32,
    pub first_failed_at: Option<DateTime<Utc>>,
    pub last_failed_at: Option<DateTime<Utc>>,
    pub headers: Value,
    #[serde(skip)]
    pub payload: Vec<u8>,
}

/// An archived dead letter: what was written, and what on-call did with it.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct DeadLetter {
    pub id: i64,
    #[serde(flatten)]
    #[from_row(flatten)]
    pub letter: NewDeadLetter,
    pub state: String,
    pub archived_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replayed_by: Option<String>,
    pub replay_count: i32,
    pub purged_at: Option<DateTime<Utc>>,
    pub purged_by: Option<String>,
}

impl DeadLetter {
    /// The failure as the worker described it.
    pub fn detail(&self) -> Option<&str> {
        self.letter
            .headers
            .get("x-hris-detail")
            .and_then(Value::as_str)
    }
}

/// Which dead letters a command is about; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    pub ids: Vec<i64>,
    pub tenant_id: Option<TenantId>,
    pub entity: Option<String>,
    pub error_class: Option<String>,
    /// Kombo's error code (the console's groups are class × code × entity;
    /// [`NONE`]: letters without one).
    pub error_code: Option<String>,
    pub state: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One line of the grouped summary.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct DeadLetterGroup {
    pub error_class: String,
    pub tenant_id: Option<TenantId>,
    pub count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub reasons: Vec<String>,
}

const COLUMNS: &str = "id, dedupe_key, message_id, routing_key, tenant_id, integration_id, entity, reason, error_class, \
    error_code, log_url, error_message, attempts, first_failed_at, last_failed_at, headers, payload, state, archived_at, \
    replayed_at, replayed_by, replay_count, purged_at, purged_by";

/// The filter's conditions, on parameters `$1`…`$8` in the order of
/// [`DeadLetterFilter::params`]. An entity or error code of [`NONE`] selects
/// the letters that have none (a group of the console's triage).
/// An entity or error code that selects the letters without one.
pub const NONE: &str = "-";

pub(crate) const WHERE: &str = "($1::bigint[] = '{}' OR id = ANY($1)) AND ($2::text IS NULL OR tenant_id = $2)
    AND ($3::text IS NULL OR entity IS NOT DISTINCT FROM NULLIF($3, '-')) AND ($4::text IS NULL OR error_class = $4)
    AND ($5::text IS NULL OR state = $5) AND ($6::timestamptz IS NULL OR archived_at >= $6)
    AND ($7::timestamptz IS NULL OR archived_at < $7) AND ($8::text IS NULL OR error_code IS NOT DISTINCT FROM NULLIF($8, '-'))";

impl DeadLetterFilter {
    /// The parameters of [`WHERE`], in order.
    pub(crate) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 8] {
        [
            &self.ids,
            &self.tenant_id,
            &self.entity,
            &self.error_class,
            &self.state,
            &self.since,
            &self.until,
            &self.error_code,
        ]
    }
}

impl Store {
    /// Archives a dead letter; `false` when it was archived before (a
    /// redelivery after a crash between insert and ack).
    pub async fn archive_dead_letter(&self, d: &NewDeadLetter) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "INSERT INTO dead_letters (dedupe_key, message_id, routing_key, tenant_id, integration_id, entity,
                    reason, error_class, error_code, log_url, attempts, first_failed_at, last_failed_at, headers, payload,
                    error_message)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (dedupe_key) DO NOTHING",
                &[
                    &d.dedupe_key, &d.message_id, &d.routing_key, &d.tenant_id, &d.integration_id,
                    &d.entity, &d.reason, &d.error_class, &d.error_code, &d.log_url, &d.attempts,
                    &d.first_failed_at, &d.last_failed_at, &d.headers, &d.payload, &d.error_message,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    pub async fn dead_letters(
        &self,
        f: &DeadLetterFilter,
        limit: i64,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM dead_letters WHERE {WHERE} ORDER BY id LIMIT $9"),
                &[&f.params()[..], &[&limit]].concat(),
            )
            .await?;
        read_all(&rows)
    }

    pub async fn dead_letter(&self, id: i64) -> Result<DeadLetter, StoreError> {
        let filter = DeadLetterFilter {
            ids: vec![id],
            ..DeadLetterFilter::default()
        };
        self.dead_letters(&filter, 1)
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("dead letter {id}")))
    }

    /// Grouped by error class and tenant, biggest first.
    pub async fn dead_letter_summary(
        &self,
        f: &DeadLetterFilter,
    ) -> Result<Vec<DeadLetterGroup>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT error_class, tenant_id, count(*) AS count, min(archived_at) AS first_seen, max(archived_at) AS last_seen,
                            (array_agg(DISTINCT COALESCE(error_code, reason)))[1:5] AS reasons
                     FROM dead_letters WHERE {WHERE}
                     GROUP BY error_class, tenant_id ORDER BY count(*) DESC, error_class, tenant_id"
                ),
                &f.params(),
            )
            .await?;
        read_all(&rows)
    }

    /// Marks a dead letter replayed (after its message was confirmed).
    pub async fn mark_replayed(&self, id: i64, actor: &str) -> Result<(), StoreError> {
        self.audit_transition(
            id,
            actor,
            "replay",
            "UPDATE dead_letters SET state = 'replayed', replayed_at = now(), replayed_by = $2,
                    replay_count = replay_count + 1 WHERE id = $1",
        )
        .await
    }

    /// Purges a dead letter: its payload (personal data) is dropped, the row
    /// and an audit record stay.
    pub async fn purge_dead_letter(&self, id: i64, actor: &str) -> Result<(), StoreError> {
        self.audit_transition(
            id,
            actor,
            "purge",
            "UPDATE dead_letters SET state = 'purged', purged_at = now(), purged_by = $2, payload = ''::bytea
             WHERE id = $1",
        )
        .await
    }

    async fn audit_transition(
        &self,
        id: i64,
        actor: &str,
        action: &str,
        update: &str,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let before: Option<String> = tx
            .query_opt(
                "SELECT state FROM dead_letters WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?
            .map(|r| r.col("state"))
            .transpose()?;
        let Some(before) = before else {
            return Err(StoreError::NotFound(format!("dead letter {id}")));
        };
        tx.execute(update, &[&id, &actor]).await?;
        tx.execute(
            "INSERT INTO dlq_audit (dead_letter_id, action, actor, detail) VALUES ($1, $2, $3, $4)",
            &[
                &id,
                &action,
                &actor,
                &serde_json::json!({ "state_before": before }),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
