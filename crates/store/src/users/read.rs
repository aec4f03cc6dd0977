//! The stored side of user planning: users of a page as the pure planner
//! (`hris_mapping::plan`) sees them, and the read-only previews of
//! `import-all --dry-run`, which run the same planner as the real write.

use hris_types::TenantId;
use std::sync::OnceLock;

use deadpool_postgres::GenericClient;
use hris_mapping::UserFields;
use hris_mapping::columns::SyncedRow;
use hris_mapping::email::{EmailStatus, normalise};
use hris_mapping::employee::MappedUser;
use hris_mapping::identity::{IdentityMatch, UserId};
use hris_mapping::plan::{IdentifiedPage, Pending, StoredUser, newest_per_id, plan_page};
use serde_json::Value;
use tokio_postgres::Row;

use crate::apply::select_by_keys_in;
use crate::columns::RowColumns;
use crate::row::RowExt;
use crate::{Store, StoreError};

/// The columns `stored_from_row` reads, each by its name: the synced ones
/// as `UserFields` declares them, then what the planner needs besides.
pub(crate) fn user_columns() -> &'static str {
    static COLUMNS: OnceLock<String> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        let synced: Vec<&str> = UserFields::COLUMNS.iter().map(|(name, _)| *name).collect();
        format!(
            "{}, hris_team_kombo_ids, kombo_changed_at, deactivation_rejected_for, \
            EXISTS (SELECT 1 FROM held_changes h WHERE h.user_id = users.id AND h.state = 'pending') AS held, \
            id, pending_deactivation_at, pending_deactivation_reason, \
            ARRAY(SELECT e.email FROM user_emails e WHERE e.user_id = users.id AND e.replaced_at IS NOT NULL \
                  ORDER BY e.replaced_at DESC) AS former_emails, \
            ARRAY(SELECT l.kombo_id FROM user_links l WHERE l.user_id = users.id AND l.unlinked_at IS NOT NULL) AS former_kombo_ids, \
            (last_sign_in_at IS NOT NULL OR EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = users.id \
                AND i.state IN ('due', 'sent'))) AS invited, \
            anonymised_at IS NOT NULL AS anonymised",
            synced.join(", ")
        )
    })
}

fn stored_from_row(row: &Row) -> Result<StoredUser, StoreError> {
    let teams: Value = row.col("hris_team_kombo_ids")?;
    let fields = UserFields::from_columns(&RowColumns(row))?;
    // The platform writes its users' emails as typed: normalise here.
    let mut emails: Vec<String> = normalise(fields.email.as_deref()).0.into_iter().collect();
    emails.extend(row.col::<Vec<String>>("former_emails")?);
    let pending_at: Option<chrono::DateTime<chrono::Utc>> = row.col("pending_deactivation_at")?;
    let pending_reason: Option<String> = row.col("pending_deactivation_reason")?;
    Ok(StoredUser {
        id: UserId(row.col("id")?),
        emails,
        former_kombo_ids: row.col("former_kombo_ids")?,
        invited: row.col("invited")?,
        pending: pending_at
            .zip(pending_reason)
            .map(|(at, reason)| Pending { at, reason }),
        fields,
        teams: serde_json::from_value(teams).unwrap_or_default(),
        changed_at: row.col("kombo_changed_at")?,
        rejected_for: row.col("deactivation_rejected_for")?,
        held: row.col("held")?,
        anonymised: row.col("anonymised")?,
    })
}

/// The tenant's users a page may concern: linked to one of its records (now
/// or before), holding one of its emails (now or before), or, when the rule
/// uses them, one of its employee numbers. Each key is looked up through its
/// index (a join on arrays made PostgreSQL scan the tenant's users).
pub(crate) async fn load_known(
    client: &impl GenericClient,
    tenant_id: &TenantId,
    page: &[MappedUser],
    rule: IdentityMatch,
    for_update: bool,
) -> Result<Vec<StoredUser>, StoreError> {
    let ids: Vec<&str> = page.iter().map(|m| m.user.kombo_id.as_str()).collect();
    let emails: Vec<&str> = page
        .iter()
        .filter(|m| m.user.email_status == EmailStatus::Ok)
        .filter_map(|m| m.user.email.as_deref())
        .collect();
    let numbers: Vec<&str> = if rule == IdentityMatch::EmailThenEmployeeNumber {
        page.iter()
            .filter_map(|m| m.user.employee_number.as_deref().map(str::trim))
            .filter(|n| !n.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    let by = |keys: &str, table: &str, column: &str, key: &str| {
        select_by_keys_in(keys, table, &format!("{column} AS id"), key, "")
    };
    let user_ids: Vec<i64> = client
        .query(
            &format!(
                "SELECT DISTINCT id FROM ({} UNION ALL {} UNION ALL {} UNION ALL {} UNION ALL {}) AS found",
                by("$2", "users", "id", "kombo_id"),
                by("$2", "user_links", "user_id", "kombo_id"),
                by("$3", "users", "id", "lower(btrim(email))"),
                by("$3", "user_emails", "user_id", "email"),
                by("$4", "users", "id", "btrim(employee_number)"),
            ),
            &[&tenant_id, &ids, &emails, &numbers],
        )
        .await?
        .iter()
        .map(|r| r.col("id"))
        .collect::<Result<_, _>>()?;
    let lock = if for_update { "FOR NO KEY UPDATE" } else { "" };
    client
        .query(
            &format!(
                "SELECT {} FROM users WHERE id = ANY($1) ORDER BY id {lock}",
                user_columns()
            ),
            &[&user_ids],
        )
        .await?
        .iter()
        .map(stored_from_row)
        .collect()
}

impl Store {
    /// What applying `page` would change, read-only (for `--dry-run`): the
    /// same identity step and planner as the real write.
    pub async fn preview_users(
        &self,
        tenant_id: &TenantId,
        page: Vec<MappedUser>,
    ) -> Result<IdentifiedPage, StoreError> {
        let client = self.client().await?;
        let page = newest_per_id(page);
        let rules = crate::users::identity::page_rules(&client, tenant_id).await?;
        let known = load_known(&client, tenant_id, &page, rules.identity, false).await?;
        let decisions = crate::users::identity::decisions(&client, tenant_id, &page).await?;
        Ok(plan_page(&known, &page, &decisions, &rules))
    }
}

impl Store {
    /// Active users a full listing with `seen` ids would deactivate as missing.
    pub async fn preview_vanished(
        &self,
        tenant_id: &TenantId,
        seen: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                // As the listing's end decides: nobody after an empty listing;
                // with a grace period, only those already missing past it.
                "SELECT u.kombo_id FROM users u JOIN tenants t ON t.id = u.tenant_id
                 WHERE u.tenant_id = $1 AND u.status = 'active' AND cardinality($2::text[]) > 0
                 AND u.kombo_id IS NOT NULL AND NOT (u.kombo_id = ANY($2))
                 AND (t.deactivation_grace_seconds = 0
                      OR (u.pending_deactivation_reason = 'missing_from_full_sync' AND u.pending_deactivation_at <= now()))
                 ORDER BY u.kombo_id",
                &[&tenant_id, &seen],
            )
            .await?
            .iter()
            .map(|r| r.col("kombo_id"))
            .collect()
    }
}
