//! `tenant purge`: a disconnected tenant's rows deleted from every table, in
//! an order the foreign keys accept, in one transaction. Only the
//! `privacy_audit` rows stay (counts, no values).

use hris_types::TenantId;
use std::collections::BTreeMap;

use serde::Serialize;

use super::Mode;
use crate::row::RowExt;
use crate::{Store, StoreError};

/// Rows deleted per table (or, in a dry run, that would be).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub rows: BTreeMap<&'static str, u64>,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }
}

const USERS: &str = "(SELECT id FROM users WHERE tenant_id = $1)";
const RUNS: &str = "(SELECT id FROM sync_runs WHERE tenant_id = $1)";
const INTEGRATION: &str = "(SELECT kombo_integration_id FROM tenants WHERE id = $1)";

/// Each table and the rows of tenant `$1` in it, children before parents.
/// A new table with tenant data belongs here; `tests/tests/privacy.rs` checks
/// that every table with a `tenant_id` is empty for the tenant afterwards.
fn statements() -> Vec<(&'static str, String)> {
    let by_tenant =
        |table: &'static str| (table, format!("DELETE FROM {table} WHERE tenant_id = $1"));
    vec![
        (
            "team_memberships",
            format!(
                "DELETE FROM team_memberships WHERE user_id IN {USERS}
                 OR team_id IN (SELECT id FROM teams WHERE tenant_id = $1)"
            ),
        ),
        by_tenant("invitations"),
        by_tenant("held_changes"),
        by_tenant("user_emails"),
        by_tenant("user_links"),
        by_tenant("identity_conflicts"),
        by_tenant("identity_decisions"),
        by_tenant("record_issues"),
        by_tenant("change_log"),
        by_tenant("absences"),
        ("full_sync_seen", format!("DELETE FROM full_sync_seen WHERE run_id IN {RUNS}")),
        (
            "full_sync_deactivations",
            format!("DELETE FROM full_sync_deactivations WHERE run_id IN {RUNS} OR user_id IN {USERS}"),
        ),
        (
            "dlq_audit",
            "DELETE FROM dlq_audit WHERE dead_letter_id IN (SELECT id FROM dead_letters WHERE tenant_id = $1)"
                .to_owned(),
        ),
        by_tenant("dead_letters"),
        (
            "kombo_syncs",
            format!("DELETE FROM kombo_syncs WHERE tenant_id = $1 OR integration_id = {INTEGRATION}"),
        ),
        (
            "kombo_issues",
            format!("DELETE FROM kombo_issues WHERE tenant_id = $1 OR integration_id = {INTEGRATION}"),
        ),
        by_tenant("integration_health"),
        by_tenant("full_sync_schedule"),
        by_tenant("sync_state"),
        by_tenant("sync_runs"),
        (
            "pending_integration_events",
            format!(
                "DELETE FROM pending_integration_events WHERE origin_id = $1 OR integration_id = {INTEGRATION}"
            ),
        ),
        by_tenant("users"),
        by_tenant("teams"),
        by_tenant("locations"),
        by_tenant("absence_types"),
        by_tenant("legal_entities"),
        ("tenants", "DELETE FROM tenants WHERE id = $1".to_owned()),
    ]
}

impl Store {
    /// Deletes every row of a disconnected tenant; refuses (`Conflict`,
    /// nothing changed) while it is connected in any other state. A dry run
    /// rolls the same work back and reports its counts.
    pub async fn purge_tenant(
        &self,
        tenant_id: &TenantId,
        actor: &str,
        mode: Mode,
    ) -> Result<Purged, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let state: String = tx
            .query_opt(
                "SELECT integration_state FROM tenants WHERE id = $1 FOR UPDATE",
                &[&tenant_id],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?
            .col("integration_state")?;
        if state != "disconnected" {
            return Err(StoreError::Conflict(format!(
                "tenant {tenant_id} is {state}: disconnect it first (tenant disconnect --yes)"
            )));
        }
        let mut purged = Purged::default();
        for (table, sql) in statements() {
            let n = tx.execute(&sql, &[&tenant_id]).await?;
            purged.rows.insert(table, n);
        }
        tx.execute(
            "INSERT INTO privacy_audit (action, actor, tenant_id, detail) VALUES ('purge_tenant', $1, $2, $3)",
            &[&actor, &tenant_id, &serde_json::to_value(&purged).unwrap_or_default()],
        )
        .await?;
        match mode {
            Mode::Apply => tx.commit().await?,
            Mode::DryRun => tx.rollback().await?,
        }
        Ok(purged)
    }
}
