//! The steps every page of a planned table (teams, locations, absences)
//! shares around its own upsert: read the page's stored rows, locked, for the
//! pure planner (`hris_mapping::plan::plan_writes`); then log the changes,
//! mark the ids seen (full syncs), count the page into its run and commit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;

use crate::StoreError;
use crate::apply::{ApplyContext, PageStats, RecordChanges, log_changes, select_by_keys};

/// What the planner needs of a stored row: its Kombo id and Kombo timestamp.
pub(crate) struct Stored<T> {
    pub key: fn(&T) -> &str,
    pub changed_at: fn(&T) -> Option<DateTime<Utc>>,
}

/// The stored rows of `keys` in `table` (`columns`, read by `read`), locked
/// for this page's transaction, by Kombo id with their Kombo timestamp.
pub(crate) async fn stored_rows<T>(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    (table, columns): (&str, &str),
    keys: &[&str],
    read: impl Fn(&Row) -> Result<T, StoreError>,
    of: Stored<T>,
) -> Result<HashMap<String, (T, Option<DateTime<Utc>>)>, StoreError> {
    tx.query(
        &select_by_keys(table, columns, "kombo_id", "FOR NO KEY UPDATE"),
        &[&ctx.tenant_id, &keys],
    )
    .await?
    .iter()
    .map(|row| {
        let stored = read(row)?;
        let changed_at = (of.changed_at)(&stored);
        Ok(((of.key)(&stored).to_owned(), (stored, changed_at)))
    })
    .collect()
}

/// The end of a page: its changes logged as `record_type`, its ids marked
/// seen, its counts added to the sync run, committed.
pub(crate) async fn finish_page<'a>(
    tx: Transaction<'_>,
    ctx: &ApplyContext,
    record_type: &str,
    logged: &[RecordChanges<'_>],
    seen: impl Iterator<Item = &'a str>,
    stats: &PageStats,
) -> Result<(), StoreError> {
    if !logged.is_empty() {
        log_changes(&tx, ctx, record_type, logged).await?;
    }
    crate::full_sync::mark_seen(&tx, ctx, seen).await?;
    crate::runs::add_page(&tx, ctx.sync_run_id, stats).await?;
    tx.commit().await?;
    Ok(())
}
