//! Deletion detection: a complete full listing marks what no longer appears.
//! Users are deactivated (through the mass-change guard), teams and locations
//! archived, absences dropped. Only ever after the last page of a listing that
//! completed: a partial or failed listing marks nothing.

use deadpool_postgres::GenericClient;
use hris_mapping::employee::reason;

use crate::apply::{ApplyContext, PageStats};
use crate::lifecycle::allowance;
use crate::{Store, StoreError};

/// Records the ids a full sync's page contained.
pub(crate) async fn mark_seen<'a>(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), StoreError> {
    let (true, Some(run)) = (ctx.track_seen, ctx.sync_run_id) else {
        return Ok(());
    };
    let ids: Vec<&str> = ids.collect();
    tx.execute(
        "INSERT INTO full_sync_seen (run_id, kombo_id) SELECT $1, UNNEST($2::text[]) ON CONFLICT DO NOTHING",
        &[&run, &ids],
    )
    .await?;
    Ok(())
}

impl Store {
    /// Marks what the completed full listing of `table` did not contain.
    /// `table` is users, teams, locations or absences.
    pub async fn finish_full_listing(
        &self,
        ctx: &ApplyContext,
        table: &str,
    ) -> Result<PageStats, StoreError> {
        let run = ctx
            .sync_run_id
            .ok_or_else(|| StoreError::Invalid("a full listing needs a sync run".into()))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        crate::apply::fence(&tx, ctx).await?;
        let unseen = "NOT EXISTS (SELECT 1 FROM full_sync_seen s WHERE s.run_id = $2 AND s.kombo_id = x.kombo_id)";
        let mut stats = PageStats::default();
        let (record_type, sql) = match table {
            "users" => {
                let gone: Vec<String> = tx
                    .query(&format!("SELECT x.kombo_id FROM users x WHERE x.tenant_id = $1 AND x.status = 'active' AND {unseen}"), &[&ctx.tenant_id, &run])
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                if !gone.is_empty() {
                    let (allowed, because) = allowance(&tx, ctx)
                        .await?
                        .unwrap_or((i64::MAX, String::new()));
                    if gone.len() as i64 > allowed {
                        let held: Vec<crate::user_plan::HeldDeactivation> = gone
                            .iter()
                            .map(|id| crate::user_plan::HeldDeactivation {
                                kombo_id: id.clone(),
                                reason: reason::VANISHED.to_owned(),
                                because: format!("{because} (missing from the full listing)"),
                            })
                            .collect();
                        crate::lifecycle::hold(&tx, ctx, &held).await?;
                        stats.held = held.len() as u32;
                    } else {
                        tx.execute(
                            "WITH gone AS (
                                UPDATE users SET status = 'deactivated', deactivation_reason = $3, updated_at = now()
                                WHERE tenant_id = $1 AND kombo_id = ANY($2) AND status = 'active' RETURNING kombo_id)
                             INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, cause_event_id, sync_run_id)
                             SELECT $1, 'user', kombo_id, f.field, f.old, f.new, $4, $5
                             FROM gone, LATERAL (VALUES ('status', '\"active\"'::jsonb, '\"deactivated\"'::jsonb),
                                                        ('deactivation_reason', 'null'::jsonb, to_jsonb($3::text))) AS f(field, old, new)",
                            &[&ctx.tenant_id, &gone, &reason::VANISHED, &ctx.cause_event_id, &ctx.sync_run_id],
                        )
                        .await?;
                        stats.deactivated = gone.len() as u32;
                    }
                }
                ("user", None)
            }
            "teams" => (
                "team",
                Some(
                    "UPDATE teams x SET archived_at = now(), updated_at = now() WHERE x.tenant_id = $1 AND x.archived_at IS NULL AND x.kombo_changed_at IS NOT NULL",
                ),
            ),
            "locations" => (
                "location",
                Some(
                    "UPDATE locations x SET archived_at = now(), updated_at = now() WHERE x.tenant_id = $1 AND x.archived_at IS NULL AND x.kombo_changed_at IS NOT NULL",
                ),
            ),
            "absences" => (
                "absence",
                Some(
                    "UPDATE absences x SET dropped_at = now(), counts = false, updated_at = now() WHERE x.tenant_id = $1 AND x.dropped_at IS NULL",
                ),
            ),
            other => return Err(StoreError::Invalid(format!("no full listing for {other}"))),
        };
        if let Some(sql) = sql {
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
        crate::runs::add_page(&tx, ctx.sync_run_id, &stats).await?;
        tx.commit().await?;
        Ok(stats)
    }

    /// Drops the seen-ids of a full sync that will not finish.
    pub async fn forget_full_listing(&self, run: uuid::Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM full_sync_seen WHERE run_id = $1", &[&run])
            .await?;
        Ok(())
    }
}
