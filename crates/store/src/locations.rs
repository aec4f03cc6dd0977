//! Locations and legal entities: archived when deleted upstream, never removed.

use chrono::{DateTime, Utc};
use hris_mapping::org::{LegalEntityFields, LocationFields};

use crate::apply::{ApplyContext, PageStats, RecordChanges, begin_page, ids_by_keys};
use crate::planned::{Stored, finish_page, stored_rows};
use crate::row::RowExt;
use crate::{Store, StoreError};
use hris_mapping::plan::plan_writes;

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
            (
                "locations",
                "kombo_id, remote_id, name, location_type, city, country, remote_deleted_at, kombo_changed_at",
            ),
            &ids,
            |r| {
                Ok(LocationFields {
                    kombo_id: r.col("kombo_id")?,
                    remote_id: r.col("remote_id")?,
                    name: r.col("name")?,
                    location_type: r.col("location_type")?,
                    city: r.col("city")?,
                    country: r.col("country")?,
                    remote_deleted_at: r.col("remote_deleted_at")?,
                    changed_at: r.col("kombo_changed_at")?,
                })
            },
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
            let col = |f: fn(&LocationFields) -> Option<&str>| -> Vec<Option<&str>> {
                writes.iter().map(|(l, _)| f(l)).collect()
            };
            let times =
                |f: fn(&LocationFields) -> Option<DateTime<Utc>>| -> Vec<Option<DateTime<Utc>>> {
                    writes.iter().map(|(l, _)| f(l)).collect()
                };
            tx.execute(
                "INSERT INTO locations (tenant_id, kombo_id, remote_id, name, location_type, city, country,
                    remote_deleted_at, archived_at, kombo_changed_at, fetched_at)
                 SELECT $1, r.id, r.remote_id, r.name, r.type, r.city, r.country, r.deleted,
                        CASE WHEN r.deleted IS NOT NULL THEN now() END, r.changed, $10
                 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                             $8::timestamptz[], $9::timestamptz[])
                      AS r(id, remote_id, name, type, city, country, deleted, changed)
                 ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET
                    remote_id = EXCLUDED.remote_id, name = EXCLUDED.name, location_type = EXCLUDED.location_type,
                    city = EXCLUDED.city, country = EXCLUDED.country, remote_deleted_at = EXCLUDED.remote_deleted_at,
                    archived_at = CASE WHEN EXCLUDED.remote_deleted_at IS NULL THEN NULL
                                       ELSE COALESCE(locations.archived_at, now()) END,
                    kombo_changed_at = EXCLUDED.kombo_changed_at, fetched_at = EXCLUDED.fetched_at,
                    updated_at = now()",
                &[
                    &ctx.tenant_id,
                    &ids,
                    &col(|l| l.remote_id.as_deref()),
                    &col(|l| l.name.as_deref()),
                    &col(|l| l.location_type.as_deref()),
                    &col(|l| l.city.as_deref()),
                    &col(|l| l.country.as_deref()),
                    &times(|l| l.remote_deleted_at),
                    &times(|l| l.changed_at),
                    &ctx.fetched_at,
                ],
            )
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
        let ids: Vec<&str> = page.iter().map(|l| l.kombo_id.as_str()).collect();
        let col = |f: fn(&LegalEntityFields) -> Option<&str>| -> Vec<Option<&str>> {
            page.iter().map(f).collect()
        };
        let deleted: Vec<Option<DateTime<Utc>>> =
            page.iter().map(|l| l.remote_deleted_at).collect();
        let changed: Vec<Option<DateTime<Utc>>> = page.iter().map(|l| l.changed_at).collect();
        tx.execute(
            "INSERT INTO legal_entities (tenant_id, kombo_id, remote_id, name, country, remote_deleted_at,
                archived_at, kombo_changed_at, fetched_at)
             SELECT DISTINCT ON (r.id) $1, r.id, r.remote_id, r.name, r.country, r.deleted,
                    CASE WHEN r.deleted IS NOT NULL THEN now() END, r.changed, $8
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
                  AS r(id, remote_id, name, country, deleted, changed)
             ORDER BY r.id, r.changed DESC NULLS LAST
             ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET
                remote_id = EXCLUDED.remote_id, name = EXCLUDED.name, country = EXCLUDED.country,
                remote_deleted_at = EXCLUDED.remote_deleted_at,
                archived_at = CASE WHEN EXCLUDED.remote_deleted_at IS NULL THEN NULL
                                   ELSE COALESCE(legal_entities.archived_at, now()) END,
                kombo_changed_at = EXCLUDED.kombo_changed_at, fetched_at = EXCLUDED.fetched_at,
                updated_at = now()
             WHERE legal_entities.kombo_changed_at IS NULL
                OR EXCLUDED.kombo_changed_at IS NULL
                OR EXCLUDED.kombo_changed_at >= legal_entities.kombo_changed_at",
            &[
                &ctx.tenant_id,
                &ids,
                &col(|l| l.remote_id.as_deref()),
                &col(|l| l.name.as_deref()),
                &col(|l| l.country.as_deref()),
                &deleted,
                &changed,
                &ctx.fetched_at,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
