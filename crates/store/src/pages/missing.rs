//! Users missing from a complete full listing. One listing that misses a
//! person is not proof they left (Kombo's filters, a glitch of the HR
//! system's export): their deactivation waits, pending, for the tenant's grace
//! period, and only a later listing that still misses them after it makes it
//! due. Any listing that contains them again clears it. An empty listing
//! marks nobody.

use deadpool_postgres::GenericClient;
use hris_mapping::employee::reason;

use crate::StoreError;
use crate::apply::ApplyContext;
use crate::row::RowExt;

/// Clears what the listing disproved and marks who it missed; returns whether
/// the listing may deactivate anyone as missing (it saw someone).
pub(super) async fn mark(
    tx: &impl GenericClient,
    ctx: &ApplyContext,
    run: uuid::Uuid,
) -> Result<bool, StoreError> {
    let seen =
        "EXISTS (SELECT 1 FROM full_sync_seen s WHERE s.run_id = $2 AND s.kombo_id = u.kombo_id)";
    tx.execute(
        &format!(
            "UPDATE users u SET pending_deactivation_at = NULL, pending_deactivation_reason = NULL, updated_at = now()
             WHERE u.tenant_id = $1 AND u.pending_deactivation_reason = $3 AND {seen}"
        ),
        &[&ctx.tenant_id, &run, &reason::VANISHED],
    )
    .await?;
    let listed: i64 = tx
        .query_one(
            "SELECT count(*) AS listed FROM full_sync_seen WHERE run_id = $1",
            &[&run],
        )
        .await?
        .col("listed")?;
    if listed == 0 {
        tracing::warn!(tenant_id = %ctx.tenant_id, "an empty employee listing: nobody is marked missing");
        return Ok(false);
    }
    let grace = crate::users::identity::page_rules(tx, &ctx.tenant_id)
        .await?
        .grace;
    let marked = tx
        .execute(
            &format!(
                "UPDATE users u SET pending_deactivation_at = now() + make_interval(secs => $4),
                     pending_deactivation_reason = $3, updated_at = now()
                 WHERE u.tenant_id = $1 AND u.status = 'active' AND u.kombo_id IS NOT NULL
                   AND u.pending_deactivation_at IS NULL AND NOT {seen}"
            ),
            &[
                &ctx.tenant_id,
                &run,
                &reason::VANISHED,
                &(grace.num_seconds() as f64),
            ],
        )
        .await?;
    if marked > 0 {
        tracing::info!(tenant_id = %ctx.tenant_id, marked, grace_secs = grace.num_seconds(), "users missing from a full listing wait out the grace period");
    }
    Ok(true)
}
