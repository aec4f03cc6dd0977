//! What every page write shares: its context (tenant, lease, cause), its
//! counters, the lease fence and the change log.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use hris_mapping::FieldChange;
use uuid::Uuid;

use crate::StoreError;
use crate::sync_state::{Lease, renew};

/// Who writes a page, and why.
#[derive(Debug, Clone)]
pub struct ApplyContext {
    pub tenant_id: String,
    /// The fetch lease; every page transaction checks it is still ours.
    pub lease: Option<Lease>,
    pub lease_ttl: Duration,
    /// The Kombo event (or scheduled message) that caused this fetch.
    pub cause_event_id: Option<String>,
    pub sync_run_id: Option<Uuid>,
    /// When the page was read from Kombo.
    pub fetched_at: DateTime<Utc>,
    /// A full listing: remember every id seen, to find what vanished.
    pub track_seen: bool,
}

/// Counters of one page or run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageStats {
    pub created: u32,
    pub updated: u32,
    pub deactivated: u32,
    pub unchanged: u32,
    pub held: u32,
    pub failed: u32,
}

impl PageStats {
    /// created, updated, deactivated, unchanged, held, failed (as SQL integers).
    pub fn columns(&self) -> [i32; 6] {
        [
            self.created,
            self.updated,
            self.deactivated,
            self.unchanged,
            self.held,
            self.failed,
        ]
        .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
    }

    pub fn add(&mut self, other: &PageStats) {
        self.created += other.created;
        self.updated += other.updated;
        self.deactivated += other.deactivated;
        self.unchanged += other.unchanged;
        self.held += other.held;
        self.failed += other.failed;
    }
}

/// Fails the transaction when the lease was lost: a worker that stalled past its
/// lease must not write over the one that took over.
pub(crate) async fn fence(
    client: &impl GenericClient,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    if let Some(lease) = &ctx.lease
        && !renew(client, lease, ctx.lease_ttl).await?
    {
        return Err(StoreError::Conflict("the fetch lease was lost".to_owned()));
    }
    Ok(())
}

/// One record's changes, for the change log.
pub(crate) struct RecordChanges<'a> {
    pub kombo_id: &'a str,
    pub changes: Vec<FieldChange>,
}

/// Writes the field-level history of a page in one statement.
pub(crate) async fn log_changes(
    client: &impl GenericClient,
    ctx: &ApplyContext,
    record_type: &str,
    records: &[RecordChanges<'_>],
) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    let mut fields = Vec::new();
    let mut old = Vec::new();
    let mut new = Vec::new();
    for record in records {
        for change in &record.changes {
            ids.push(record.kombo_id);
            fields.push(change.field);
            old.push(change.old.clone());
            new.push(change.new.clone());
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    client
        .execute(
            "INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, cause_event_id, sync_run_id)
             SELECT $1, $2, r.id, r.field, r.old, r.new, $7, $8
             FROM UNNEST($3::text[], $4::text[], $5::jsonb[], $6::jsonb[]) AS r(id, field, old, new)",
            &[&ctx.tenant_id, &record_type, &ids, &fields, &old, &new, &ctx.cause_event_id, &ctx.sync_run_id],
        )
        .await?;
    Ok(())
}

/// Whether a stored snapshot is newer than the incoming one: only when both
/// carry Kombo's `changed_at` and the stored one is later.
pub(crate) fn is_stale(stored: Option<DateTime<Utc>>, incoming: Option<DateTime<Utc>>) -> bool {
    matches!((stored, incoming), (Some(s), Some(i)) if s > i)
}
