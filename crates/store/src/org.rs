//! Teams (from groups), locations and legal entities.
//!
//! Employees embed their groups, location and legal entity; those become
//! placeholder rows at once (insert-if-missing, never overwriting), so a user's
//! references resolve before the teams or locations worker has run. The full
//! records, with `changed_at`, always win over a placeholder.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use hris_mapping::org::{LegalEntityFields, LocationFields, TeamFields};

use hris_mapping::plan::plan_writes;

use crate::apply::{ApplyContext, PageStats, RecordChanges, begin_page, ids_by_keys};
use crate::planned::{ARCHIVED_WHEN_DELETED, Stored, Upsert, finish_page, stored_rows};
use crate::{Store, StoreError};

pub(crate) async fn upsert_stub_teams<'a>(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    teams: impl Iterator<Item = &'a TeamFields>,
) -> Result<(), StoreError> {
    let unique: BTreeMap<&str, &TeamFields> = teams.map(|t| (t.kombo_id.as_str(), t)).collect();
    if unique.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = unique.keys().copied().collect();
    let names: Vec<Option<&str>> = unique.values().map(|t| t.name.as_deref()).collect();
    let types: Vec<Option<&str>> = unique.values().map(|t| t.group_type.as_deref()).collect();
    tx.execute(
        "INSERT INTO teams (tenant_id, kombo_id, name, group_type, fetched_at)
         SELECT $1, r.id, r.name, r.type, $5 FROM UNNEST($2::text[], $3::text[], $4::text[]) AS r(id, name, type)
         ON CONFLICT (tenant_id, kombo_id) DO NOTHING",
        &[&ctx.tenant_id, &ids, &names, &types, &ctx.fetched_at],
    )
    .await?;
    Ok(())
}

pub(crate) async fn upsert_stub_locations<'a>(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    locations: impl Iterator<Item = &'a LocationFields>,
) -> Result<(), StoreError> {
    let named = locations.map(|l| (l.kombo_id.as_str(), l.name.as_deref()));
    upsert_named_stubs(tx, ctx, "locations", named).await
}

pub(crate) async fn upsert_stub_legal_entities<'a>(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    entities: impl Iterator<Item = &'a LegalEntityFields>,
) -> Result<(), StoreError> {
    let named = entities.map(|l| (l.kombo_id.as_str(), l.name.as_deref()));
    upsert_named_stubs(tx, ctx, "legal_entities", named).await
}

/// Placeholder rows (Kombo id and name) in `table`, one of our own table names.
async fn upsert_named_stubs<'a>(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    table: &'static str,
    named: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> Result<(), StoreError> {
    let unique: BTreeMap<&str, Option<&str>> = named.collect();
    if unique.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = unique.keys().copied().collect();
    let names: Vec<Option<&str>> = unique.values().copied().collect();
    tx.execute(
        &format!(
            "INSERT INTO {table} (tenant_id, kombo_id, name, fetched_at)
             SELECT $1, r.id, r.name, $4 FROM UNNEST($2::text[], $3::text[]) AS r(id, name)
             ON CONFLICT (tenant_id, kombo_id) DO NOTHING"
        ),
        &[&ctx.tenant_id, &ids, &names, &ctx.fetched_at],
    )
    .await?;
    Ok(())
}

pub(crate) static TEAMS: Upsert<TeamFields> = Upsert::new(
    "teams",
    &[(
        "archived_at",
        ARCHIVED_WHEN_DELETED,
        Some(
            "CASE WHEN EXCLUDED.remote_deleted_at IS NULL THEN NULL ELSE COALESCE(teams.archived_at, now()) END",
        ),
    )],
    false,
);

impl Store {
    /// Applies one page of groups as teams, in one transaction.
    pub async fn apply_teams(
        &self,
        ctx: &ApplyContext,
        page: Vec<TeamFields>,
    ) -> Result<PageStats, StoreError> {
        let mut client = self.client().await?;
        let tx = begin_page(&mut client, ctx).await?;
        let ids: Vec<&str> = page.iter().map(|t| t.kombo_id.as_str()).collect();
        let stored = stored_rows(
            &tx,
            ctx,
            "teams",
            &ids,
            Stored::<TeamFields> {
                key: |t| &t.kombo_id,
                changed_at: |t| t.changed_at,
            },
        )
        .await?;
        let mut stats = PageStats::default();
        let writes = plan_writes(
            &page,
            |t| &t.kombo_id,
            |t| t.changed_at,
            &stored,
            &mut stats,
        );
        if !writes.is_empty() {
            let ids: Vec<&str> = writes.iter().map(|(t, _)| t.kombo_id.as_str()).collect();
            TEAMS
                .write(&tx, ctx, writes.iter().map(|(t, _)| *t))
                .await?;
            // Parents may arrive after their children, on any page.
            tx.execute(
                &format!(
                    "UPDATE teams c SET parent_team_id = {parent}
                     WHERE c.id = ANY({by_id} || {by_parent}) AND c.parent_team_id IS DISTINCT FROM {parent}",
                    parent = "(SELECT p.id FROM teams p WHERE p.tenant_id = $1 AND p.kombo_id = c.parent_kombo_id)",
                    by_id = ids_by_keys("teams", "kombo_id"),
                    by_parent = ids_by_keys("teams", "parent_kombo_id"),
                ),
                &[&ctx.tenant_id, &ids],
            )
            .await?;
        }
        let logged: Vec<RecordChanges> = writes.into_iter().map(|(_, c)| c).collect();
        let seen = page.iter().map(|r| r.kombo_id.as_str());
        finish_page(tx, ctx, "team", &logged, seen, &stats).await?;
        Ok(stats)
    }
}
