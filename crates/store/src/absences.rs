//! Absences and absence types. Cancelled, declined and deleted absences stop
//! counting; the rows stay.

use hris_mapping::absence::{AbsenceFields, AbsenceTypeFields};
use hris_types::TenantId;

use crate::apply::{ApplyContext, PageStats, RecordChanges, begin_page, ids_by_keys};
use crate::planned::{ARCHIVED_WHEN_DELETED, Stored, Upsert, finish_page, stored_rows};
use crate::{Store, StoreError};
use hris_mapping::plan::plan_writes;

pub(crate) static ABSENCE_TYPES: Upsert<AbsenceTypeFields> = Upsert::new(
    "absence_types",
    &[(
        "archived_at",
        ARCHIVED_WHEN_DELETED,
        Some(
            "CASE WHEN EXCLUDED.remote_deleted_at IS NULL THEN NULL ELSE COALESCE(absence_types.archived_at, now()) END",
        ),
    )],
    true,
);

pub(crate) static ABSENCES: Upsert<AbsenceFields> = Upsert::new(
    "absences",
    &[
        // Written again: an absence that comes back counts again.
        ("dropped_at", "NULL", None),
        (
            "user_id",
            "(SELECT u.id FROM users u WHERE u.tenant_id = $1 AND u.kombo_id = r.employee_kombo_id)",
            None,
        ),
        (
            "absence_type_id",
            "(SELECT t.id FROM absence_types t WHERE t.tenant_id = $1 AND t.kombo_id = r.type_kombo_id)",
            None,
        ),
    ],
    false,
);

impl Store {
    /// Absence types are few and change rarely: upserted newest-wins, unlogged.
    pub async fn apply_absence_types(
        &self,
        ctx: &ApplyContext,
        page: Vec<AbsenceTypeFields>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = begin_page(&mut client, ctx).await?;
        ABSENCE_TYPES.write(&tx, ctx, page.iter()).await?;
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
            "absences",
            &ids,
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
            ABSENCES
                .write(&tx, ctx, writes.iter().map(|(a, _)| *a))
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
    tenant_id: &TenantId,
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
