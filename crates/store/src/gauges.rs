//! The state on-call alerts on, read from PostgreSQL for the scheduler's
//! gauges: counts over every tenant, never one series per tenant.

use crate::row::RowExt;
use crate::{Store, StoreError};

/// Counts the scheduler publishes as gauges after each tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpsGauges {
    /// Pending dead letters by error class.
    pub dead_letters_pending: Vec<(String, i64)>,
    pub held_changes_pending: i64,
    pub identity_conflicts_open: i64,
    /// Tenants by integration state.
    pub tenants: Vec<(String, i64)>,
    /// Active tenants whose last fetch of some entity failed.
    pub tenants_with_error: i64,
    /// Seconds since the oldest last full sync of an active tenant's entity
    /// (an entity never fully synced counts from the tenant's creation).
    pub full_sync_oldest_age_seconds: f64,
}

impl Store {
    /// One read of everything the alert rules need from PostgreSQL.
    pub async fn ops_gauges(&self) -> Result<OpsGauges, StoreError> {
        let client = self.client().await?;
        let pairs = |rows: Vec<tokio_postgres::Row>| -> Result<Vec<(String, i64)>, StoreError> {
            rows.iter()
                .map(|r| Ok((r.col("key")?, r.col("n")?)))
                .collect()
        };
        let dead = client
            .query(
                "SELECT error_class AS key, count(*) AS n FROM dead_letters
                 WHERE state = 'pending' GROUP BY error_class ORDER BY 1",
                &[],
            )
            .await?;
        let tenants = client
            .query(
                "SELECT integration_state AS key, count(*) AS n FROM tenants GROUP BY 1 ORDER BY 1",
                &[],
            )
            .await?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM held_changes WHERE state = 'pending') AS held,
                        (SELECT count(*) FROM identity_conflicts WHERE state = 'open') AS conflicts,
                        (SELECT count(DISTINCT s.tenant_id) FROM sync_state s JOIN tenants t ON t.id = s.tenant_id
                         WHERE t.integration_state = 'active' AND s.last_error IS NOT NULL) AS with_error,
                        COALESCE((SELECT EXTRACT(EPOCH FROM now() - min(COALESCE(s.last_full_at, t.created_at)))::float8
                         FROM tenants t LEFT JOIN sync_state s ON s.tenant_id = t.id
                         WHERE t.integration_state = 'active'), 0)::float8 AS oldest",
                &[],
            )
            .await?;
        Ok(OpsGauges {
            dead_letters_pending: pairs(dead)?,
            held_changes_pending: row.col("held")?,
            identity_conflicts_open: row.col("conflicts")?,
            tenants: pairs(tenants)?,
            tenants_with_error: row.col("with_error")?,
            full_sync_oldest_age_seconds: row.col("oldest")?,
        })
    }
}
