//! The ids a full listing's pages contained (`full_sync_seen`): written by
//! every entity's page, read when the listing completes (`pages`).

use crate::apply::ApplyContext;
use crate::{Store, StoreError};
use deadpool_postgres::GenericClient;

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
