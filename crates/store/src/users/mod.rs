//! Users: the rows of one page of mapped employees (the page's transaction
//! and its other tables are `pages`).
//!
//! Rows that did not change are not written; an older snapshot never overwrites
//! a newer one; only `hris` memberships change; manager, team and location
//! references resolve as soon as both sides exist, in whichever order they came.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use hris_mapping::employee::MappedUser;
use serde_json::Value;
use tokio_postgres::Row;

use crate::StoreError;
use crate::apply::{ApplyContext, ids_by_keys, select_by_keys};
use crate::record_issues::{NewRecordIssue, Severity, Stage};
use crate::row::RowExt;
use hris_mapping::plan::UserWrite;
pub(crate) use read::load_known;

pub(crate) mod identity;
mod read;

/// Column arrays for one UNNEST upsert.
#[derive(Default)]
struct Batch {
    kombo_id: Vec<String>,
    remote_id: Vec<Option<String>>,
    employee_number: Vec<Option<String>>,
    first_name: Vec<Option<String>>,
    last_name: Vec<Option<String>>,
    email: Vec<Option<String>>,
    email_status: Vec<&'static str>,
    job_title: Vec<Option<String>>,
    hire_date: Vec<Option<NaiveDate>>,
    leave_date: Vec<Option<NaiveDate>>,
    status: Vec<&'static str>,
    employment_status: Vec<Option<String>>,
    deactivation_reason: Vec<Option<String>>,
    manager: Vec<Option<String>>,
    team: Vec<Option<String>>,
    location: Vec<Option<String>>,
    legal_entity: Vec<Option<String>>,
    employment_type: Vec<Option<String>>,
    avatar_url: Vec<Option<String>>,
    custom_fields: Vec<Option<Value>>,
    remote_deleted_at: Vec<Option<DateTime<Utc>>>,
    teams: Vec<Value>,
    changed_at: Vec<Option<DateTime<Utc>>>,
    deactivate_at: Vec<Option<DateTime<Utc>>>,
    pending_at: Vec<Option<DateTime<Utc>>>,
    pending_reason: Vec<Option<String>>,
}

impl Batch {
    fn push(&mut self, w: &UserWrite) {
        let u = &w.user;
        self.deactivate_at.push(w.deactivate_at);
        self.pending_at.push(w.pending.as_ref().map(|p| p.at));
        self.pending_reason
            .push(w.pending.as_ref().map(|p| p.reason.clone()));
        self.kombo_id.push(u.kombo_id.clone());
        self.remote_id.push(u.remote_id.clone());
        self.employee_number.push(u.employee_number.clone());
        self.first_name.push(u.first_name.clone());
        self.last_name.push(u.last_name.clone());
        self.email.push(u.email.clone());
        self.email_status.push(u.email_status.as_str());
        self.job_title.push(u.job_title.clone());
        self.hire_date.push(u.hire_date);
        self.leave_date.push(u.leave_date);
        self.status.push(u.status.as_str());
        self.employment_status.push(u.employment_status.clone());
        self.deactivation_reason.push(u.deactivation_reason.clone());
        self.manager.push(u.manager_kombo_id.clone());
        self.team.push(u.primary_team_kombo_id.clone());
        self.location.push(u.location_kombo_id.clone());
        self.legal_entity.push(u.legal_entity_kombo_id.clone());
        self.employment_type.push(u.employment_type.clone());
        self.avatar_url.push(u.avatar_url.clone());
        self.custom_fields.push(u.custom_fields.clone());
        self.remote_deleted_at.push(u.remote_deleted_at);
        self.teams.push(Value::from(w.teams.clone()));
        self.changed_at.push(w.changed_at);
    }
}

/// Writes a page's planned users: the rows, their `hris` memberships and
/// their references. Returns each written user's row id by Kombo id.
pub(crate) async fn write(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    writes: &[UserWrite],
) -> Result<HashMap<String, i64>, StoreError> {
    let mut batch = Batch::default();
    for w in writes {
        batch.push(w);
    }
    let ids = upsert(tx, ctx, &batch).await?;
    let changed: Vec<(&str, &[String])> = writes
        .iter()
        .filter(|w| w.teams_changed)
        .map(|w| (w.user.kombo_id.as_str(), w.teams.as_slice()))
        .collect();
    sync_memberships(tx, ctx, &changed, &ids).await?;
    resolve_references(tx, &ctx.tenant_id, &batch.kombo_id).await?;
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
    let rows = tx.query(
        "INSERT INTO users (tenant_id, kombo_id, remote_id, employee_number, first_name, last_name, email,
            email_status, job_title, hire_date, leave_date, status, employment_status, deactivation_reason,
            manager_kombo_id, primary_team_kombo_id, location_kombo_id, legal_entity_kombo_id,
            employment_type, avatar_url, custom_fields, remote_deleted_at, hris_team_kombo_ids,
            kombo_changed_at, deactivate_at, pending_deactivation_at, pending_deactivation_reason,
            fetched_at, deactivation_evidence, manager_user_id, primary_team_id, primary_location_id)
         SELECT $1, r.*, $25,
            CASE WHEN r.status = 'deactivated' THEN jsonb_build_object('sync_run', $29::uuid, 'event', $30::text) END,
            -- References resolved in the same write when their target exists
            -- already: a second UPDATE of every row doubled an import's writes.
            (SELECT m.id FROM users m WHERE m.tenant_id = $1 AND m.kombo_id = r.manager),
            (SELECT t.id FROM teams t WHERE t.tenant_id = $1 AND t.kombo_id = r.team),
            (SELECT l.id FROM locations l WHERE l.tenant_id = $1 AND l.kombo_id = r.location)
         FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::date[], $11::date[], $12::text[], $13::text[],
            $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
            $21::jsonb[], $22::timestamptz[], $23::jsonb[], $24::timestamptz[], $26::timestamptz[],
            $27::timestamptz[], $28::text[])
            AS r(kombo_id, remote_id, employee_number, first_name, last_name, email, email_status, job_title,
                 hire_date, leave_date, status, employment_status, deactivation_reason, manager, team,
                 location, legal_entity, employment_type, avatar_url, custom_fields, remote_deleted_at,
                 teams, changed_at, deactivate_at, pending_at, pending_reason)
         ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET
            remote_id = EXCLUDED.remote_id, employee_number = EXCLUDED.employee_number,
            first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, email = EXCLUDED.email,
            email_status = EXCLUDED.email_status, job_title = EXCLUDED.job_title,
            hire_date = EXCLUDED.hire_date, leave_date = EXCLUDED.leave_date, status = EXCLUDED.status,
            employment_status = EXCLUDED.employment_status,
            deactivation_reason = EXCLUDED.deactivation_reason,
            manager_kombo_id = EXCLUDED.manager_kombo_id,
            primary_team_kombo_id = EXCLUDED.primary_team_kombo_id,
            location_kombo_id = EXCLUDED.location_kombo_id,
            legal_entity_kombo_id = EXCLUDED.legal_entity_kombo_id,
            employment_type = EXCLUDED.employment_type, avatar_url = EXCLUDED.avatar_url,
            custom_fields = EXCLUDED.custom_fields, remote_deleted_at = EXCLUDED.remote_deleted_at,
            hris_team_kombo_ids = EXCLUDED.hris_team_kombo_ids,
            kombo_changed_at = EXCLUDED.kombo_changed_at, deactivate_at = EXCLUDED.deactivate_at,
            pending_deactivation_at = EXCLUDED.pending_deactivation_at,
            pending_deactivation_reason = EXCLUDED.pending_deactivation_reason,
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
        &[
            &ctx.tenant_id, &b.kombo_id, &b.remote_id, &b.employee_number, &b.first_name,
            &b.last_name, &b.email, &b.email_status, &b.job_title, &b.hire_date, &b.leave_date,
            &b.status, &b.employment_status, &b.deactivation_reason, &b.manager, &b.team,
            &b.location, &b.legal_entity, &b.employment_type, &b.avatar_url, &b.custom_fields,
            &b.remote_deleted_at, &b.teams, &b.changed_at, &ctx.fetched_at, &b.deactivate_at,
            &b.pending_at, &b.pending_reason, &ctx.sync_run_id, &ctx.cause_event_id,
        ],
    )
    .await?;
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
    tenant_id: &str,
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
