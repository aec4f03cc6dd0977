//! Locations and legal entities: archived when deleted upstream, never removed.

use hris_mapping::org::{LegalEntityFields, LocationFields};

use crate::apply::{ApplyContext, PageStats, RecordChanges, begin_page, ids_by_keys};
use crate::planned::{ARCHIVED_WHEN_DELETED, Stored, Upsert, finish_page, stored_rows};
use crate::{Store, StoreError};
use hris_mapping::plan::plan_writes;

pub(crate) static LOCATIONS: Upsert<LocationFields> = Upsert::new(
    "locations",
    &[(
        "archived_at",
        ARCHIVED_WHEN_DELETED,
        Some(
            "CASE WHEN EXCLUDED.remote_deleted_at IS NULL THEN NULL ELSE COALESCE(locations.archived_at, now()) END",
        ),
    )],
    false,
);

pub(crate) static LEGAL_ENTITIES: Upsert<LegalEntityFields> = Upsert::new(
    "legal_entities",
    &[(
        "archived_at",
        ARCHIVED_WHEN_DELETED,
        Some(
            "CASE WHEN EXCLUDED.remote_deleted_at IS NULL THEN NULL ELSE COALESCE(legal_entities.archived_at, now()) END",
        ),
    )],
    true,
);

impl Store {
    /// Applies one page of locations in one transaction.
    pub async fn apply_locations(
        &self,
        ctx: &ApplyContext,
        page: Vec<LocationFields>,
    ) -> Result<PageStats, StoreError> {
        let mut client = self.client().await?;
        let tx = begin_page(&mut client, ctx).await?;
        let ids: Vec<&str> = page.iter().map(|l| l.kombo_id.as_str()).collect();
        let stored = stored_rows(
            &tx,
            ctx,
            "locations",
            &ids,
            Stored::<LocationFields> {
                key: |l| &l.kombo_id,
                changed_at: |l| l.changed_at,
            },
        )
        .await?;
        let mut stats = PageStats::default();
        let writes = plan_writes(
            &page,
            |l| &l.kombo_id,
            |l| l.changed_at,
            &stored,
            &mut stats,
        );
        if !writes.is_empty() {
            let ids: Vec<&str> = writes.iter().map(|(l, _)| l.kombo_id.as_str()).collect();
            LOCATIONS
                .write(&tx, ctx, writes.iter().map(|(l, _)| *l))
                .await?;
            // Users that named a location before it existed here.
            tx.execute(
                &format!(
                    "UPDATE users u SET primary_location_id = {location}
                     WHERE u.id = ANY({}) AND u.primary_location_id IS DISTINCT FROM {location}",
                    ids_by_keys("users", "location_kombo_id"),
                    location = "(SELECT l.id FROM locations l WHERE l.tenant_id = $1 AND l.kombo_id = u.location_kombo_id)",
                ),
                &[&ctx.tenant_id, &ids],
            )
            .await?;
        }
        let logged: Vec<RecordChanges> = writes.into_iter().map(|(_, c)| c).collect();
        let seen = page.iter().map(|r| r.kombo_id.as_str());
        finish_page(tx, ctx, "location", &logged, seen, &stats).await?;
        Ok(stats)
    }

    /// Applies one page of legal entities (full records win over placeholders).
    pub async fn apply_legal_entities(
        &self,
        ctx: &ApplyContext,
        page: Vec<LegalEntityFields>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = begin_page(&mut client, ctx).await?;
        LEGAL_ENTITIES.write(&tx, ctx, page.iter()).await?;
        tx.commit().await?;
        Ok(())
    }
}
