//! What every page write shares: its context (tenant, lease, cause), its
//! counters, the lease fence and the change log.

use hris_types::TenantId;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
pub use hris_mapping::plan::{PageStats, RecordChanges};
use uuid::Uuid;

use crate::StoreError;
use crate::sync_state::{Lease, renew};

/// Who writes a page, and why.
#[derive(Debug, Clone)]
pub struct ApplyContext {
    pub tenant_id: TenantId,
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

/// Starts a page's transaction: keyed access for its statements, then the
/// lease fence.
pub(crate) async fn begin_page<'a>(
    client: &'a mut deadpool_postgres::Object,
    ctx: &ApplyContext,
) -> Result<deadpool_postgres::Transaction<'a>, StoreError> {
    let tx = client.transaction().await?;
    keyed_access(&tx).await?;
    fence(&tx, ctx).await?;
    Ok(tx)
}

/// Makes this transaction's statements reach rows through their keys' indexes.
/// A page touches at most a few hundred rows by key, but while a big tenant is
/// imported the planner's statistics lag behind (autovacuum refreshes them at
/// most once a minute, and a new tenant is not in them at all): it then
/// believed the tenant had a few hundred rows and scanned all of them, or the
/// whole table, on every page, which made a 100,000-person import quadratic.
pub(crate) async fn keyed_access(tx: &impl GenericClient) -> Result<(), StoreError> {
    // JIT too: the same stale estimates priced small keyed statements above
    // `jit_above_cost`, and compiling them took longer than running them.
    tx.batch_execute(
        "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off",
    )
    .await?;
    Ok(())
}

/// `SELECT`s `columns` of the rows of `table` of tenant `$1` whose `key` is one
/// of the text array `$2`, each found by its own index probe, with `lock`
/// (e.g. `FOR NO KEY UPDATE`) taken on them.
///
/// Written as `tenant_id = $1 AND key = ANY($2)`, the planner costed one scan
/// of the tenant's rows against a probe per key; with the tenant's size
/// underestimated (see [`keyed_access`]) it scanned the tenant on every page.
/// A probe by one key of a unique or selective index is the cheapest plan
/// whatever the statistics say, and `OFFSET 0` keeps the planner from
/// flattening the probes back into one join.
pub(crate) fn select_by_keys(table: &str, columns: &str, key: &str, lock: &str) -> String {
    select_by_keys_in("$2", table, columns, key, lock)
}

/// [`select_by_keys`] with the keys in parameter `keys` (several lookups
/// in one statement, each with its own array).
pub(crate) fn select_by_keys_in(
    keys: &str,
    table: &str,
    columns: &str,
    key: &str,
    lock: &str,
) -> String {
    format!(
        "SELECT r.* FROM UNNEST({keys}::text[]) AS k(key) CROSS JOIN LATERAL \
         (SELECT {columns} FROM {table} WHERE tenant_id = $1 AND {key} = k.key OFFSET 0 {lock}) AS r"
    )
}

/// `ARRAY(…)` of the row ids [`select_by_keys`] finds, for
/// `UPDATE … WHERE id = ANY(…)`: an index scan of the primary key. Joined
/// to the table instead (`UPDATE … FROM (…) r WHERE id = r.id`), the planner
/// hashed the whole table on every page (600 ms a page at 600,000 people).
pub(crate) fn ids_by_keys(table: &str, key: &str) -> String {
    format!("ARRAY({})", select_by_keys(table, "id", key, ""))
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
        return Err(StoreError::LeaseLost);
    }
    Ok(())
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
