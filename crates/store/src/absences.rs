//! Absences and absence types. Cancelled, declined and deleted absences stop
//! counting; the rows stay.

use chrono::{DateTime, NaiveDate, Utc};
use hris_mapping::absence::{AbsenceFields, AbsenceTypeFields};

use crate::apply::{ApplyContext, PageStats, RecordChanges, begin_page, ids_by_keys};
use crate::planned::{Stored, finish_page, stored_rows};
use crate::row::RowExt;
use crate::{Store, StoreError};
use hris_mapping::plan::plan_writes;

impl Store {
    /// Absence types are few and change rarely: upserted newest-wins, unlogged.
    pub async fn apply_absence_types(
        &self,
        ctx: &ApplyContext,
        page: Vec<AbsenceTypeFields>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = begin_page(&mut client, ctx).await?;
        let ids: Vec<&str> = page.iter().map(|t| t.kombo_id.as_str()).collect();
        let names: Vec<Option<&str>> = page.iter().map(|t| t.name.as_deref()).collect();
        let units: Vec<Option<&str>> = page.iter().map(|t| t.unit.as_deref()).collect();
        let deleted: Vec<Option<DateTime<Utc>>> =
            page.iter().map(|t| t.remote_deleted_at).collect();
        let changed: Vec<Option<DateTime<Utc>>> = page.iter().map(|t| t.changed_at).collect();
        let remote: Vec<Option<&str>> = page.iter().map(|t| t.remote_id.as_deref()).collect();
        tx.execute(
            "INSERT INTO absence_types (tenant_id, kombo_id, remote_id, name, unit, remote_deleted_at,
                archived_at, kombo_changed_at, fetched_at)
             SELECT DISTINCT ON (r.id) $1, r.id, r.remote_id, r.name, r.unit, r.deleted,
                    CASE WHEN r.deleted IS NOT NULL THEN now() END, r.changed, $8
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
                  AS r(id, remote_id, name, unit, deleted, changed)
             ORDER BY r.id, r.changed DESC NULLS LAST
             ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET
                remote_id = EXCLUDED.remote_id, name = EXCLUDED.name, unit = EXCLUDED.unit,
                remote_deleted_at = EXCLUDED.remote_deleted_at,
                archived_at = CASE WHEN EXCLUDED.remote_deleted_at IS NULL THEN NULL
                                   ELSE COALESCE(absence_types.archived_at, now()) END,
                kombo_changed_at = EXCLUDED.kombo_changed_at, fetched_at = EXCLUDED.fetched_at,
                updated_at = now()
             WHERE absence_types.kombo_changed_at IS NULL OR EXCLUDED.kombo_changed_at IS NULL
                OR EXCLUDED.kombo_changed_at >= absence_types.kombo_changed_at",
            &[&ctx.tenant_id, &ids, &remote, &names, &units, &deleted, &changed, &ctx.fetched_at],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies one page of absences in one transaction.
    pub async fn apply_absences(
        &self,
        ctx: &ApplyContext,
        page: Vec<AbsenceFields>,
    ) -> Result<PageStats, StoreError> {
        let mut client = self.client().await?;
        let tx = begin_page(&mut client, ctx).await?;
        let ids: Vec<&str> = page.iter().map(|a| a.kombo_id.as_str()).collect();
        let stored = stored_rows(
            &tx,
            ctx,
            (
                "absences",
                "kombo_id, remote_id, employee_kombo_id, type_kombo_id, start_date, end_date,
                 start_time, end_time, amount, unit, status, counts, remote_deleted_at, kombo_changed_at",
            ),
            &ids,
            |r| {
                Ok(AbsenceFields {
                        kombo_id: r.col("kombo_id")?,
                        remote_id: r.col("remote_id")?,
                        employee_kombo_id: r.col("employee_kombo_id")?,
                        type_kombo_id: r.col("type_kombo_id")?,
                        start_date: r.col("start_date")?,
                        end_date: r.col("end_date")?,
                        start_time: r.col("start_time")?,
                        end_time: r.col("end_time")?,
                        amount: r.col("amount")?,
                        unit: r.col("unit")?,
                        status: r.col("status")?,
                        counts: r.col("counts")?,
                        remote_deleted_at: r.col("remote_deleted_at")?,
                        changed_at: r.col("kombo_changed_at")?,
                    })
            },
            Stored::<AbsenceFields> {
                key: |a| &a.kombo_id,
                changed_at: |a| a.changed_at,
            },
        )
        .await?;
        let mut stats = PageStats::default();
        let writes = plan_writes(
            &page,
            |a| &a.kombo_id,
            |a| a.changed_at,
            &stored,
            &mut stats,
        );
        if !writes.is_empty() {
            let text = |f: fn(&AbsenceFields) -> Option<&str>| -> Vec<Option<&str>> {
                writes.iter().map(|(a, _)| f(a)).collect()
            };
            let dates = |f: fn(&AbsenceFields) -> Option<NaiveDate>| -> Vec<Option<NaiveDate>> {
                writes.iter().map(|(a, _)| f(a)).collect()
            };
            let times =
                |f: fn(&AbsenceFields) -> Option<DateTime<Utc>>| -> Vec<Option<DateTime<Utc>>> {
                    writes.iter().map(|(a, _)| f(a)).collect()
                };
            let amounts: Vec<Option<f64>> = writes.iter().map(|(a, _)| a.amount).collect();
            let counts: Vec<bool> = writes.iter().map(|(a, _)| a.counts).collect();
            tx.execute(
                "INSERT INTO absences (tenant_id, kombo_id, remote_id, employee_kombo_id, type_kombo_id,
                    start_date, end_date, start_time, end_time, amount, unit, status, counts,
                    remote_deleted_at, dropped_at, kombo_changed_at, fetched_at, user_id, absence_type_id)
                 SELECT $1, r.id, r.remote_id, r.employee, r.type, r.start_date, r.end_date, r.start_time,
                        r.end_time, r.amount, r.unit, r.status, r.counts, r.deleted, NULL, r.changed, $16,
                        (SELECT u.id FROM users u WHERE u.tenant_id = $1 AND u.kombo_id = r.employee),
                        (SELECT t.id FROM absence_types t WHERE t.tenant_id = $1 AND t.kombo_id = r.type)
                 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::date[],
                             $8::text[], $9::text[], $10::float8[], $11::text[], $12::text[], $13::bool[],
                             $14::timestamptz[], $15::timestamptz[])
                      AS r(id, remote_id, employee, type, start_date, end_date, start_time, end_time,
                           amount, unit, status, counts, deleted, changed)
                 ON CONFLICT (tenant_id, kombo_id) DO UPDATE SET
                    remote_id = EXCLUDED.remote_id, employee_kombo_id = EXCLUDED.employee_kombo_id,
                    type_kombo_id = EXCLUDED.type_kombo_id, start_date = EXCLUDED.start_date,
                    end_date = EXCLUDED.end_date, start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time,
                    amount = EXCLUDED.amount, unit = EXCLUDED.unit, status = EXCLUDED.status,
                    counts = EXCLUDED.counts, remote_deleted_at = EXCLUDED.remote_deleted_at,
                    dropped_at = NULL, kombo_changed_at = EXCLUDED.kombo_changed_at,
                    fetched_at = EXCLUDED.fetched_at, user_id = EXCLUDED.user_id,
                    absence_type_id = EXCLUDED.absence_type_id, updated_at = now()",
                &[
                    &ctx.tenant_id,
                    &writes.iter().map(|(a, _)| a.kombo_id.as_str()).collect::<Vec<_>>(),
                    &text(|a| a.remote_id.as_deref()),
                    &writes.iter().map(|(a, _)| a.employee_kombo_id.as_str()).collect::<Vec<_>>(),
                    &text(|a| a.type_kombo_id.as_deref()),
                    &dates(|a| a.start_date),
                    &dates(|a| a.end_date),
                    &text(|a| a.start_time.as_deref()),
                    &text(|a| a.end_time.as_deref()),
                    &amounts,
                    &text(|a| a.unit.as_deref()),
                    &text(|a| a.status.as_deref()),
                    &counts,
                    &times(|a| a.remote_deleted_at),
                    &times(|a| a.changed_at),
                    &ctx.fetched_at,
                ],
            )
            .await?;
        }
        let logged: Vec<RecordChanges> = writes.into_iter().map(|(_, c)| c).collect();
        let seen = page.iter().map(|r| r.kombo_id.as_str());
        finish_page(tx, ctx, "absence", &logged, seen, &stats).await?;
        link_absences(&mut client, &ctx.tenant_id, "kombo_id", &ids).await?;
        Ok(stats)
    }
}

/// Points absences at their users, after the page's commit. The absences and
/// employees workers run at once: inside their transactions neither sees the
/// other's uncommitted rows, so an absence and its new employee could each be
/// written without the link. Run after each commit, whichever runs last sees
/// both rows.
pub(crate) async fn link_absences<T: tokio_postgres::types::ToSql + Sync>(
    client: &mut deadpool_postgres::Object,
    tenant_id: &str,
    key: &'static str,
    ids: &[T],
) -> Result<(), StoreError> {
    // Driven by an index on absences (no join on users): a join let the
    // generic plan scan all of the tenant's absences on every page.
    let sql = format!(
        "UPDATE absences a SET user_id = (SELECT u.id FROM users u \
             WHERE u.tenant_id = $1 AND u.kombo_id = a.employee_kombo_id) \
         WHERE a.id = ANY({}) AND a.user_id IS NULL",
        ids_by_keys("absences", key)
    );
    let tx = client.transaction().await?;
    crate::apply::keyed_access(&tx).await?;
    tx.execute(&sql, &[&tenant_id, &ids]).await?;
    tx.commit().await?;
    Ok(())
}
