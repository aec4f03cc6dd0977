//! The steps every page of a planned table (teams, locations, absences)
//! shares around its own upsert: read the page's stored rows, locked, for the
//! pure planner (`hris_mapping::plan::plan_writes`); then log the changes,
//! mark the ids seen (full syncs), count the page into its run and commit.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use hris_mapping::columns::SyncedRow;
use tokio_postgres::types::ToSql;

use crate::StoreError;
use crate::apply::{ApplyContext, PageStats, RecordChanges, log_changes, select_by_keys};
use crate::columns::{self, ColumnArray, RowColumns};

/// The stored rows of `keys` in `table`, read as the declared row type,
/// locked for this page's transaction, by Kombo id with their Kombo timestamp.
pub(crate) async fn stored_rows<T: SyncedRow>(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    table: &str,
    keys: &[&str],
    of: Stored<T>,
) -> Result<HashMap<String, (T, Option<DateTime<Utc>>)>, StoreError> {
    let columns: Vec<&str> = T::COLUMNS.iter().map(|(name, _)| *name).collect();
    tx.query(
        &select_by_keys(table, &columns.join(", "), "kombo_id", "FOR NO KEY UPDATE"),
        &[&ctx.tenant_id, &keys],
    )
    .await?
    .iter()
    .map(|row| {
        let stored = T::from_columns(&RowColumns(row))?;
        let changed_at = (of.changed_at)(&stored);
        Ok(((of.key)(&stored).to_owned(), (stored, changed_at)))
    })
    .collect()
}

/// What the planner needs of a stored row: its Kombo id and Kombo timestamp.
pub(crate) struct Stored<T> {
    pub key: fn(&T) -> &str,
    pub changed_at: fn(&T) -> Option<DateTime<Utc>>,
}

/// One table's page upsert, its column lists taken from the declared row
/// type `T`: `$1` is the tenant, then one `UNNEST` array a declared column,
/// then the fetch time. Only what is not a declared column is named here.
/// Built once, on first use.
pub(crate) struct Upsert<T> {
    table: &'static str,
    extra: &'static [Extra],
    newest_wins: bool,
    sql: OnceLock<String>,
    row: PhantomData<fn() -> T>,
}

/// A column written besides the declared ones and `fetched_at`: (column,
/// value on insert over the `UNNEST` row `r`, value on update; `None` takes
/// the inserted one).
pub(crate) type Extra = (&'static str, &'static str, Option<&'static str>);

/// A deleted record is archived when first seen deleted.
pub(crate) const ARCHIVED_WHEN_DELETED: &str =
    "CASE WHEN r.remote_deleted_at IS NOT NULL THEN now() END";

impl<T: SyncedRow> Upsert<T> {
    /// `newest_wins`: several snapshots of one record may be in a page
    /// (placeholders from many employees); the newest is written, and never
    /// over a newer stored one.
    pub(crate) const fn new(
        table: &'static str,
        extra: &'static [Extra],
        newest_wins: bool,
    ) -> Self {
        Upsert {
            table,
            extra,
            newest_wins,
            sql: OnceLock::new(),
            row: PhantomData,
        }
    }

    pub(crate) fn sql(&self) -> &str {
        self.sql.get_or_init(|| self.build())
    }

    fn build(&self) -> String {
        let declared: Vec<&str> = T::COLUMNS.iter().map(|(name, _)| *name).collect();
        let arrays: Vec<String> = T::COLUMNS
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| format!("${}::{}", i + 2, ColumnArray::sql_type(*kind)))
            .collect();
        let fetched_at = T::COLUMNS.len() + 2;
        let table = self.table;
        let extra = self.extra.iter();
        let targets: Vec<&str> = declared
            .iter()
            .copied()
            .chain(extra.clone().map(|(column, _, _)| *column))
            .collect();
        let values: Vec<String> = declared
            .iter()
            .map(|c| format!("r.{c}"))
            .chain(extra.clone().map(|(_, insert, _)| (*insert).to_owned()))
            .collect();
        let updates: Vec<String> = declared[1..]
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .chain(extra.map(|(column, _, update)| match update {
                Some(update) => format!("{column} = {update}"),
                None => format!("{column} = EXCLUDED.{column}"),
            }))
            .collect();
        let (distinct, order, newer) = if self.newest_wins {
            (
                "DISTINCT ON (r.kombo_id)",
                "ORDER BY r.kombo_id, r.kombo_changed_at DESC NULLS LAST",
                format!(
                    "WHERE {table}.kombo_changed_at IS NULL OR EXCLUDED.kombo_changed_at IS NULL
                        OR EXCLUDED.kombo_changed_at >= {table}.kombo_changed_at"
                ),
            )
        } else {
            ("", "", String::new())
        };
        format!(
            "INSERT INTO {table} (tenant_id, {targets}, fetched_at)
             SELECT {distinct} $1, {values}, ${fetched_at}
             FROM UNNEST({arrays}) AS r({declared})
             {order}
             ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET {updates},
                fetched_at = EXCLUDED.fetched_at, updated_at = now()
             {newer}",
            targets = targets.join(", "),
            values = values.join(", "),
            arrays = arrays.join(", "),
            declared = declared.join(", "),
            updates = updates.join(", "),
        )
    }

    /// Writes a page's `rows`.
    pub(crate) async fn write<'a>(
        &self,
        tx: &impl GenericClient,
        ctx: &ApplyContext,
        rows: impl Iterator<Item = &'a T>,
    ) -> Result<(), StoreError>
    where
        T: 'a,
    {
        let arrays = columns::arrays(rows);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ctx.tenant_id];
        params.extend(arrays.iter().map(ColumnArray::sql));
        params.push(&ctx.fetched_at);
        tx.execute(self.sql(), &params).await?;
        Ok(())
    }
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
