//! Users: the rows of one page of mapped employees (the page's transaction
//! and its other tables are `pages`).
//!
//! Rows that did not change are not written; an older snapshot never overwrites
//! a newer one; only `hris` memberships change; manager, team and location
//! references resolve as soon as both sides exist, in whichever order they came.

use hris_types::TenantId;
use std::collections::HashMap;

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use hris_mapping::UserFields;
use hris_mapping::columns::SyncedRow;
use hris_mapping::employee::MappedUser;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::StoreError;
use crate::apply::{ApplyContext, ids_by_keys, select_by_keys};
use crate::columns::{self, ColumnArray};
use crate::record_issues::{NewRecordIssue, Severity, Stage};
use crate::row::RowExt;
use hris_mapping::plan::UserWrite;
pub(crate) use read::load_known;
#[cfg(test)]
pub(crate) use read::user_columns;

pub(crate) mod identity;
mod read;

/// A page's users as UNNEST arrays: one per synced column (declared with
/// `UserFields`), then the write plan's own columns.
struct Batch {
    fields: Vec<ColumnArray>,
    kombo_ids: Vec<String>,
    teams: Vec<Value>,
    changed_at: Vec<Option<DateTime<Utc>>>,
    deactivate_at: Vec<Option<DateTime<Utc>>>,
    pending_at: Vec<Option<DateTime<Utc>>>,
    pending_reason: Vec<Option<String>>,
}

impl Batch {
    fn new(writes: &[UserWrite]) -> Self {
        Batch {
            fields: columns::arrays(writes.iter().map(|w| &w.user)),
            kombo_ids: writes.iter().map(|w| w.user.kombo_id.clone()).collect(),
            teams: writes
                .iter()
                .map(|w| Value::from(w.teams.clone()))
                .collect(),
            changed_at: writes.iter().map(|w| w.changed_at).collect(),
            deactivate_at: writes.iter().map(|w| w.deactivate_at).collect(),
            pending_at: writes
                .iter()
                .map(|w| w.pending.as_ref().map(|p| p.at))
                .collect(),
            pending_reason: writes
                .iter()
                .map(|w| w.pending.as_ref().map(|p| p.reason.clone()))
                .collect(),
        }
    }
}

/// The write plan's columns after the synced ones: (UNNEST alias, array
/// type, `users` column).
const PLAN_COLUMNS: [(&str, &str, &str); 5] = [
    ("teams", "jsonb[]", "hris_team_kombo_ids"),
    ("changed_at", "timestamptz[]", "kombo_changed_at"),
    ("deactivate_at", "timestamptz[]", "deactivate_at"),
    ("pending_at", "timestamptz[]", "pending_deactivation_at"),
    ("pending_reason", "text[]", "pending_deactivation_reason"),
];

/// The page upsert, built once from the declared columns: `$1` is the
/// tenant, then one array per synced column and per plan column, then the
/// fetch time, the sync run and the cause.
pub(crate) fn upsert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let synced: Vec<&str> = UserFields::COLUMNS.iter().map(|(name, _)| *name).collect();
        let types = UserFields::COLUMNS
            .iter()
            .map(|(_, kind)| ColumnArray::sql_type(*kind))
            .chain(PLAN_COLUMNS.iter().map(|(_, ty, _)| *ty));
        let arrays: Vec<String> = types.enumerate().map(|(i, ty)| format!("${}::{ty}", i + 2)).collect();
        let aliases: Vec<&str> = synced.iter().copied().chain(PLAN_COLUMNS.iter().map(|(a, _, _)| *a)).collect();
        let targets: Vec<&str> = synced.iter().copied().chain(PLAN_COLUMNS.iter().map(|(_, _, c)| *c)).collect();
        let updates: Vec<String> = targets[1..]
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        let (fetched_at, sync_run, cause) = (arrays.len() + 2, arrays.len() + 3, arrays.len() + 4);
        format!(
            "INSERT INTO users (tenant_id, {targets}, fetched_at, deactivation_evidence,
                manager_user_id, primary_team_id, primary_location_id)
             SELECT $1, r.*, ${fetched_at},
                CASE WHEN r.status = 'deactivated' THEN jsonb_build_object('sync_run', ${sync_run}::uuid, 'event', ${cause}::text) END,
                -- References resolved in the same write when their target exists
                -- already: a second UPDATE of every row doubled an import's writes.
                (SELECT m.id FROM users m WHERE m.tenant_id = $1 AND m.kombo_id = r.manager_kombo_id),
                (SELECT t.id FROM teams t WHERE t.tenant_id = $1 AND t.kombo_id = r.primary_team_kombo_id),
                (SELECT l.id FROM locations l WHERE l.tenant_id = $1 AND l.kombo_id = r.location_kombo_id)
             FROM UNNEST({arrays}) AS r({aliases})
             ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET {updates},
                deactivation_evidence = CASE
                    WHEN EXCLUDED.status = 'deactivated' AND users.status = 'active' THEN EXCLUDED.deactivation_evidence
                    ELSE users.deactivation_evidence END,
                fetched_at = EXCLUDED.fetched_at, manager_user_id = EXCLUDED.manager_user_id,
                primary_team_id = EXCLUDED.primary_team_id, primary_location_id = EXCLUDED.primary_location_id,
                -- The guard's budget counts deactivations syncs made by themselves.
                auto_deactivated_at = CASE
                    WHEN EXCLUDED.status = 'deactivated' AND users.status = 'active' THEN now()
                    WHEN EXCLUDED.status = 'active' THEN NULL
                    ELSE users.auto_deactivated_at END,
                -- Only a person active again in the HR system is written over an
                -- anonymised user (the planner skips the others): the data is theirs again.
                anonymised_at = CASE WHEN EXCLUDED.status = 'active' THEN NULL ELSE users.anonymised_at END,
                updated_at = now()
             RETURNING kombo_id, id",
            targets = targets.join(", "),
            arrays = arrays.join(", "),
            aliases = aliases.join(", "),
            updates = updates.join(",\n                "),
        )
    })
}

/// Writes a page's planned users: the rows, their `hris` memberships and
/// their references. Returns each written user's row id by Kombo id.
pub(crate) async fn write(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    writes: &[UserWrite],
) -> Result<HashMap<String, i64>, StoreError> {
    let batch = Batch::new(writes);
    let ids = upsert(tx, ctx, &batch).await?;
    let changed: Vec<(&str, &[String])> = writes
        .iter()
        .filter(|w| w.teams_changed)
        .map(|w| (w.user.kombo_id.as_str(), w.teams.as_slice()))
        .collect();
    sync_memberships(tx, ctx, &changed, &ids).await?;
    resolve_references(tx, &ctx.tenant_id, &batch.kombo_ids).await?;
    Ok(ids)
}

/// What the mapping had to change to store a record becomes an `altered`
/// record issue; records applied as received close theirs (and any `skipped`
/// one from an earlier fetch: the HR system fixed the record).
pub(crate) async fn record_notes(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    page: &[MappedUser],
) -> Result<(), StoreError> {
    const ENTITY: &str = "employees";
    let notes: Vec<NewRecordIssue> = page
        .iter()
        .filter(|m| !m.notes.is_empty())
        .map(|m| NewRecordIssue {
            kombo_id: Some(m.user.kombo_id.clone()),
            severity: Severity::Altered,
            stage: Stage::Map,
            reason: m
                .notes
                .iter()
                .map(|n| format!("{}: {}", n.field, n.what))
                .collect::<Vec<_>>()
                .join("; "),
            sqlstate: None,
        })
        .collect();
    crate::record_issues::upsert(tx, ctx, ENTITY, &notes).await?;
    let applied: Vec<&str> = page.iter().map(|m| m.user.kombo_id.as_str()).collect();
    let altered: Vec<&str> = page
        .iter()
        .filter(|m| !m.notes.is_empty())
        .map(|m| m.user.kombo_id.as_str())
        .collect();
    crate::record_issues::resolve(tx, ctx, ENTITY, &applied, &altered).await
}

/// Writes the batch; returns each written user's row id by Kombo id.
async fn upsert(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    b: &Batch,
) -> Result<HashMap<String, i64>, StoreError> {
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ctx.tenant_id];
    params.extend(b.fields.iter().map(ColumnArray::sql));
    params.extend([
        &b.teams as &(dyn ToSql + Sync),
        &b.changed_at,
        &b.deactivate_at,
        &b.pending_at,
        &b.pending_reason,
        &ctx.fetched_at,
        &ctx.sync_run_id,
        &ctx.cause_event_id,
    ]);
    let rows = tx.query(upsert_sql(), &params).await?;
    row_ids(&rows)
}

/// Row ids by Kombo id, from rows with columns `kombo_id` and `id`.
fn row_ids(rows: &[Row]) -> Result<HashMap<String, i64>, StoreError> {
    rows.iter()
        .map(|r| Ok((r.col("kombo_id")?, r.col("id")?)))
        .collect()
}

/// Makes the `hris` memberships of these users match their synced groups;
/// memberships an admin added (`manual`) are never touched.
async fn sync_memberships(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    users: &[(&str, &[String])],
    ids: &HashMap<String, i64>,
) -> Result<(), StoreError> {
    if users.is_empty() {
        return Ok(());
    }
    // Everything is addressed by row ids resolved here. Joined through the
    // users' JSON team lists instead, PostgreSQL hashed all of the tenant's
    // teams once per user (quadratic in the company's size).
    let team_kids: Vec<&str> = users
        .iter()
        .flat_map(|(_, teams)| teams.iter().map(String::as_str))
        .collect();
    let teams = row_ids(
        &tx.query(
            &select_by_keys("teams", "kombo_id, id", "kombo_id", ""),
            &[&ctx.tenant_id, &team_kids],
        )
        .await?,
    )?;
    let user_ids: Vec<i64> = users
        .iter()
        .filter_map(|(u, _)| ids.get(*u).copied())
        .collect();
    let mut wanted_users = Vec::new();
    let mut wanted_teams = Vec::new();
    for (user, kids) in users {
        let Some(user) = ids.get(*user) else { continue };
        for team in kids.iter().filter_map(|k| teams.get(k)) {
            wanted_users.push(*user);
            wanted_teams.push(*team);
        }
    }
    tx.execute(
        "DELETE FROM team_memberships tm
         WHERE tm.user_id = ANY($1::bigint[]) AND tm.source = 'hris'
           AND NOT EXISTS (SELECT 1 FROM UNNEST($2::bigint[], $3::bigint[]) AS w(user_id, team_id)
                           WHERE w.user_id = tm.user_id AND w.team_id = tm.team_id)",
        &[&user_ids, &wanted_users, &wanted_teams],
    )
    .await?;
    tx.execute(
        "INSERT INTO team_memberships (user_id, team_id, source)
         SELECT w.user_id, w.team_id, 'hris' FROM UNNEST($1::bigint[], $2::bigint[]) AS w(user_id, team_id)
         ON CONFLICT DO NOTHING",
        &[&wanted_users, &wanted_teams],
    )
    .await?;
    Ok(())
}

/// Points manager ids at the rows their Kombo ids name, for these users (a
/// manager later in the same page) and for users whose manager is one of them
/// (a manager seen after its reports). Only rows that change are written.
/// Teams and locations always exist by then (placeholders from the page).
pub(crate) async fn resolve_references(
    tx: &impl GenericClient,
    tenant_id: &TenantId,
    kombo_ids: &[String],
) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "UPDATE users u SET manager_user_id = {manager}
             WHERE u.id = ANY({by_id} || {by_manager}) AND u.manager_user_id IS DISTINCT FROM {manager}",
            manager = "(SELECT m.id FROM users m WHERE m.tenant_id = $1 AND m.kombo_id = u.manager_kombo_id)",
            by_id = ids_by_keys("users", "kombo_id"),
            by_manager = ids_by_keys("users", "manager_kombo_id"),
        ),
        &[&tenant_id, &kombo_ids],
    )
    .await?;
    Ok(())
}
