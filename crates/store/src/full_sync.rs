//! Deletion detection: a complete full listing marks what no longer appears.
//! Users are deactivated (through the mass-change guard, together with the
//! deactivations the listing's pages found), teams and locations
//! archived, absences dropped. Only ever after the last page of a listing that
//! completed: a partial or failed listing marks nothing.

use crate::apply::{ApplyContext, PageStats};
use crate::{Store, StoreError};
use deadpool_postgres::GenericClient;
use hris_types::SyncedEntity;

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
    /// Marks what the completed full listing of `entity` did not contain, and
    /// decides the deactivations its pages found (users).
    /// `complete` is false when
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
                let batch =
                    crate::guard::full_listing_batch(&tx, &ctx.tenant_id, run, complete).await?;
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

    /// Drops the seen-ids of a full sync that will not finish.
    pub async fn forget_full_listing(&self, run: uuid::Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        for sql in [
            "DELETE FROM full_sync_seen WHERE run_id = $1",
            "DELETE FROM full_sync_deactivations WHERE run_id = $1",
        ] {
            client.execute(sql, &[&run]).await?;
        }
        Ok(())
    }
}
