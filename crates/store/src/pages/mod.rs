//! One page's (or one tick's) transaction across tables. Each table module
//! writes its own rows; these put the steps in order, so that no table module
//! reaches into another.
//!
//! Deletion detection: a complete full listing marks what no longer appears.
//! Users are deactivated (through the mass-change guard, together with the
//! deactivations the listing's pages found), teams and locations
//! archived, absences dropped. Only ever after the last page of a listing that
//! completed: a partial or failed listing marks nothing.

use hris_mapping::employee::{MappedUser, reason};
use hris_mapping::plan::{newest_per_id, plan_page};
use hris_types::TenantId;

use crate::apply::{ApplyContext, PageStats, RecordChanges, begin_page, log_changes};
use crate::org::{upsert_stub_legal_entities, upsert_stub_locations, upsert_stub_teams};
use crate::row::RowExt;
use crate::{Store, StoreError};
use hris_types::SyncedEntity;

mod missing;

impl Store {
    /// Applies one page of employees in one transaction.
    pub async fn apply_users(
        &self,
        ctx: &ApplyContext,
        page: Vec<MappedUser>,
    ) -> Result<PageStats, StoreError> {
        let mut client = self.client().await?;
        let tx = begin_page(&mut client, ctx).await?;
        let page = newest_per_id(page);
        upsert_stub_teams(&tx, ctx, page.iter().flat_map(|m| &m.embedded_teams)).await?;
        upsert_stub_locations(
            &tx,
            ctx,
            page.iter().filter_map(|m| m.embedded_location.as_ref()),
        )
        .await?;
        upsert_stub_legal_entities(
            &tx,
            ctx,
            page.iter().filter_map(|m| m.embedded_legal_entity.as_ref()),
        )
        .await?;

        let rules = crate::users::identity::page_rules(&tx, &ctx.tenant_id).await?;
        let known =
            crate::users::load_known(&tx, &ctx.tenant_id, &page, rules.identity, true).await?;
        let decisions = crate::users::identity::decisions(&tx, &ctx.tenant_id, &page).await?;
        let mut identified = plan_page(&known, &page, &decisions, &rules);
        crate::guard::guard_page(&tx, ctx, &mut identified).await?;
        let plan = identified.plan;
        let stats = plan.stats;
        crate::users::identity::relink(&tx, ctx, &plan.relinks).await?;
        if !plan.writes.is_empty() {
            let ids = crate::users::write(&tx, ctx, &plan.writes).await?;
            crate::users::identity::record_links_and_emails(&tx, ctx, &plan.writes, &ids).await?;
            crate::lifecycle::schedule_invitations(&tx, &plan.writes, &ids, &ctx.tenant_id).await?;
            let logged: Vec<RecordChanges> = plan
                .writes
                .iter()
                .map(|w| RecordChanges {
                    kombo_id: &w.user.kombo_id,
                    changes: w.changes.clone(),
                })
                .collect();
            log_changes(&tx, ctx, "user", &logged).await?;
        }
        crate::guard::hold(&tx, ctx, &plan.held).await?;
        crate::guard::stage(&tx, ctx, &plan.staged).await?;
        crate::guard::supersede(&tx, &ctx.tenant_id, &plan.superseded).await?;
        crate::users::identity::record_conflicts(&tx, ctx, &plan.conflicts, &plan.matched).await?;
        crate::users::record_notes(&tx, ctx, &page).await?;
        crate::full_sync::mark_seen(&tx, ctx, page.iter().map(|m| m.user.kombo_id.as_str()))
            .await?;
        crate::runs::add_page(&tx, ctx.sync_run_id, &stats).await?;
        tx.commit().await?;
        // Every id of the page, not only the rows written: if this step failed
        // after the commit, the retry finds the users unchanged and must still
        // link their absences.
        let page_ids: Vec<&str> = page.iter().map(|m| m.user.kombo_id.as_str()).collect();
        crate::absences::link_absences(&mut client, &ctx.tenant_id, "employee_kombo_id", &page_ids)
            .await?;
        Ok(stats)
    }

    /// Marks what the completed full listing of `entity` did not contain, and
    /// decides the deactivations its pages found (users). `complete` is false when
    /// the listing held records without a readable id: then nobody can be
    /// told missing, and nothing is marked vanished.
    pub async fn finish_full_listing(
        &self,
        ctx: &ApplyContext,
        entity: SyncedEntity,
        complete: bool,
    ) -> Result<PageStats, StoreError> {
        let run = ctx
            .sync_run_id
            .ok_or_else(|| StoreError::Invalid("a full listing needs a sync run".into()))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        crate::apply::fence(&tx, ctx).await?;
        let unseen = "NOT EXISTS (SELECT 1 FROM full_sync_seen s WHERE s.run_id = $2 AND s.kombo_id = x.kombo_id)";
        let mut stats = PageStats::default();
        let (record_type, sql) = match entity {
            SyncedEntity::Employees => {
                let marks_vanished = complete && missing::mark(&tx, ctx, run).await?;
                let batch =
                    crate::guard::full_listing_batch(&tx, &ctx.tenant_id, run, marks_vanished)
                        .await?;
                stats = crate::guard::decide_batch(
                    &tx,
                    &ctx.tenant_id,
                    &batch,
                    ctx.cause_event_id.as_deref().unwrap_or("full sync"),
                    ctx.sync_run_id,
                )
                .await?;
                ("user", None)
            }
            SyncedEntity::Teams => (
                "team",
                Some(
                    "UPDATE teams x SET archived_at = now(), updated_at = now() WHERE x.tenant_id = $1 AND x.archived_at IS NULL AND x.kombo_changed_at IS NOT NULL",
                ),
            ),
            SyncedEntity::Locations => (
                "location",
                Some(
                    "UPDATE locations x SET archived_at = now(), updated_at = now() WHERE x.tenant_id = $1 AND x.archived_at IS NULL AND x.kombo_changed_at IS NOT NULL",
                ),
            ),
            SyncedEntity::Absences => (
                "absence",
                Some(
                    "UPDATE absences x SET dropped_at = now(), counts = false, updated_at = now() WHERE x.tenant_id = $1 AND x.dropped_at IS NULL",
                ),
            ),
        };
        if let Some(sql) = sql.filter(|_| complete) {
            // Placeholders (teams and locations only seen embedded in employees,
            // with no changed_at) are not the listing's to archive.
            let n = tx
                .execute(&format!("{sql} AND {unseen}"), &[&ctx.tenant_id, &run])
                .await?;
            stats.deactivated = n as u32;
            if n > 0 {
                tracing::info!(tenant_id = %ctx.tenant_id, record_type, vanished = n, "records missing from a full listing marked");
            }
        }
        tx.execute("DELETE FROM full_sync_seen WHERE run_id = $1", &[&run])
            .await?;
        tx.execute(
            "DELETE FROM full_sync_deactivations WHERE run_id = $1",
            &[&run],
        )
        .await?;
        crate::runs::add_page(&tx, ctx.sync_run_id, &stats).await?;
        tx.commit().await?;
        Ok(stats)
    }

    /// Deactivates users whose leave day has ended, or whose deletion upstream
    /// outlasted the grace period (no re-created record took them over), with
    /// change-log entries,
    /// through the mass-change guard: each tenant's due users are one batch,
    /// applied within its budget or held together. Users with a pending hold
    /// wait for the decision. Returns (deactivated, held).
    pub async fn apply_due_deactivations(&self) -> Result<(i64, i64), StoreError> {
        let tenants: Vec<TenantId> = {
            let client = self.client().await?;
            client
                .query(
                    "SELECT DISTINCT tenant_id FROM users
                     WHERE status = 'active' AND (deactivate_at <= now()
                        OR (pending_deactivation_at <= now() AND pending_deactivation_reason = $1))",
                    &[&reason::DELETED_UPSTREAM],
                )
                .await?
                .iter()
                .map(|r| r.col("tenant_id"))
                .collect::<Result<_, _>>()?
        };
        let (mut deactivated, mut held) = (0i64, 0i64);
        for tenant in tenants {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let batch: Vec<(i64, String)> = tx
                .query(
                    "SELECT u.id, CASE WHEN u.deactivate_at <= now() THEN $2 ELSE $3 END AS reason FROM users u
                     WHERE u.tenant_id = $1 AND u.status = 'active'
                       AND (u.deactivate_at <= now()
                            OR (u.pending_deactivation_at <= now() AND u.pending_deactivation_reason = $3))
                       AND NOT EXISTS (SELECT 1 FROM held_changes h WHERE h.user_id = u.id AND h.state = 'pending')
                     ORDER BY u.id FOR NO KEY UPDATE OF u SKIP LOCKED",
                    &[&tenant, &reason::LEFT, &reason::DELETED_UPSTREAM],
                )
                .await?
                .iter()
                .map(|r| Ok((r.col("id")?, r.col("reason")?)))
                .collect::<Result<_, StoreError>>()?;
            let stats = crate::guard::decide_batch(
                &tx,
                &tenant,
                &batch,
                crate::guard::SCHEDULER_CAUSE,
                None,
            )
            .await?;
            tx.commit().await?;
            deactivated += i64::from(stats.deactivated);
            held += i64::from(stats.held);
        }
        Ok((deactivated, held))
    }
}
