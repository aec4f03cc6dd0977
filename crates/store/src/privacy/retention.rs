//! Retention: change log entries, dead letter payloads and run errors older
//! than their tenant allows go, a bounded batch at a time (the scheduler calls
//! this every tick), each batch audited per tenant with its count.

use crate::row::RowExt;
use crate::tenants::TenantSettings;
use crate::{Store, StoreError};

/// Rows one batch expired, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    pub change_log: i64,
    pub dead_letter_payloads: i64,
    pub run_errors: i64,
}

impl Expired {
    /// Some kind filled its batch: more may be waiting.
    pub fn full(&self, limit: i64) -> bool {
        [self.change_log, self.dead_letter_payloads, self.run_errors]
            .iter()
            .any(|n| *n >= limit)
    }

    pub fn total(&self) -> i64 {
        self.change_log + self.dead_letter_payloads + self.run_errors
    }
}

/// One sweep: `doomed` selects at most `$1` ids (locked, skipping rows
/// another scheduler holds), `change` deletes or blanks them as `x` and must
/// end in a way that `RETURNING x.tenant_id` can follow. Returns the count.
fn sweep(kind: &str, doomed: &str, change: &str) -> String {
    format!(
        "WITH doomed AS ({doomed}),
              done AS ({change} RETURNING x.tenant_id),
              audited AS (INSERT INTO privacy_audit (action, actor, tenant_id, detail)
                          SELECT 'retention', 'scheduler', tenant_id,
                                 jsonb_build_object('kind', '{kind}', 'rows', count(*))
                          FROM done GROUP BY tenant_id
                          RETURNING (detail->>'rows')::bigint AS n)
         SELECT coalesce(sum(n), 0)::bigint AS n FROM audited"
    )
}

impl Store {
    /// Expires at most `limit` rows of each kind, in one transaction. Each
    /// selection is also cut at the shortest retention of any tenant: the
    /// age index is then read only up to that point, so a tick that finds
    /// nothing to expire does not walk the whole change log.
    pub async fn expire_batch(&self, limit: i64) -> Result<Expired, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let change_log = sweep(
            "change_log",
            "SELECT c.id FROM change_log c JOIN tenants t ON t.id = c.tenant_id
             WHERE c.changed_at < now() - make_interval(days => t.change_log_retention_days)
               AND c.changed_at < now() - make_interval(days => (SELECT min(change_log_retention_days) FROM tenants))
             ORDER BY c.changed_at LIMIT $1 FOR UPDATE OF c SKIP LOCKED",
            "DELETE FROM change_log x USING doomed WHERE x.id = doomed.id",
        );
        // A dead letter without a tenant keeps its payload as long as a new
        // tenant's default allows. Its id, reason and headers stay.
        let payloads = sweep(
            "dead_letter_payload",
            "SELECT d.id FROM dead_letters d LEFT JOIN tenants t ON t.id = d.tenant_id
             WHERE length(d.payload) > 0
               AND d.archived_at < now() - make_interval(days => coalesce(t.dead_letter_payload_retention_days, $2))
               AND d.archived_at < now() - make_interval(days =>
                   (SELECT least(min(dead_letter_payload_retention_days), $2) FROM tenants))
             ORDER BY d.archived_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
            "UPDATE dead_letters x SET payload = ''::bytea FROM doomed WHERE x.id = doomed.id",
        );
        let errors = sweep(
            "run_error",
            "SELECT r.id FROM sync_runs r JOIN tenants t ON t.id = r.tenant_id
             WHERE r.error IS NOT NULL AND r.started_at < now() - make_interval(days => t.run_error_retention_days)
               AND r.started_at < now() - make_interval(days => (SELECT min(run_error_retention_days) FROM tenants))
             ORDER BY r.started_at LIMIT $1 FOR UPDATE OF r SKIP LOCKED",
            "UPDATE sync_runs x SET error = NULL FROM doomed WHERE x.id = doomed.id",
        );
        let default_days = TenantSettings::default().dead_letter_payload_retention_days;
        let expired = Expired {
            change_log: tx.query_one(&change_log, &[&limit]).await?.col("n")?,
            dead_letter_payloads: tx
                .query_one(&payloads, &[&limit, &default_days])
                .await?
                .col("n")?,
            run_errors: tx.query_one(&errors, &[&limit]).await?.col("n")?,
        };
        tx.commit().await?;
        Ok(expired)
    }
}
