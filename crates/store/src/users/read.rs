//! The stored side of user planning: users of a page as the pure planner
//! (`hris_mapping::plan`) sees them, and the read-only previews of
//! `import-all --dry-run`, which run the same planner as the real write.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use hris_mapping::email::EmailStatus;
use hris_mapping::employee::MappedUser;
use hris_mapping::plan::{StoredUser, UserPlan, newest_per_id, plan_users};
use hris_mapping::{UserFields, UserStatus};
use serde_json::Value;

use crate::apply::select_by_keys;
use crate::{Store, StoreError};

/// The columns `stored_from_row` reads, in its order.
const USER_COLUMNS: &str = "kombo_id, remote_id, employee_number, first_name, last_name, email, email_status, \
    job_title, hire_date, leave_date, status, employment_status, deactivation_reason, manager_kombo_id, \
    primary_team_kombo_id, location_kombo_id, legal_entity_kombo_id, employment_type, avatar_url, \
    custom_fields, remote_deleted_at, hris_team_kombo_ids, kombo_changed_at, deactivation_rejected_for, \
    EXISTS (SELECT 1 FROM held_changes h WHERE h.user_id = users.id AND h.state = 'pending') AS held";

fn stored_from_row(row: &tokio_postgres::Row) -> StoredUser {
    let teams: Value = row.get(21);
    StoredUser {
        fields: UserFields {
            kombo_id: row.get(0),
            remote_id: row.get(1),
            employee_number: row.get(2),
            first_name: row.get(3),
            last_name: row.get(4),
            email: row.get(5),
            email_status: EmailStatus::parse(row.get(6)),
            job_title: row.get(7),
            hire_date: row.get(8),
            leave_date: row.get(9),
            status: UserStatus::parse(row.get(10)),
            employment_status: row.get(11),
            deactivation_reason: row.get(12),
            manager_kombo_id: row.get(13),
            primary_team_kombo_id: row.get(14),
            location_kombo_id: row.get(15),
            legal_entity_kombo_id: row.get(16),
            employment_type: row.get(17),
            avatar_url: row.get(18),
            custom_fields: row.get(19),
            remote_deleted_at: row.get(20),
        },
        teams: serde_json::from_value(teams).unwrap_or_default(),
        changed_at: row.get(22),
        rejected_for: row.get(23),
        held: row.get(24),
    }
}

pub(crate) async fn load_stored(
    client: &impl GenericClient,
    tenant_id: &str,
    page: &[MappedUser],
    for_update: bool,
) -> Result<HashMap<String, StoredUser>, StoreError> {
    let ids: Vec<&str> = page.iter().map(|m| m.user.kombo_id.as_str()).collect();
    let lock = if for_update { "FOR NO KEY UPDATE" } else { "" };
    Ok(client
        .query(
            &select_by_keys("users", USER_COLUMNS, "kombo_id", lock),
            &[&tenant_id, &ids],
        )
        .await?
        .iter()
        .map(stored_from_row)
        .map(|s| (s.fields.kombo_id.clone(), s))
        .collect())
}

impl Store {
    /// What applying `page` would change, read-only (for `--dry-run`).
    pub async fn preview_users(
        &self,
        tenant_id: &str,
        page: Vec<MappedUser>,
    ) -> Result<UserPlan, StoreError> {
        let client = self.client().await?;
        let page = newest_per_id(page);
        let stored = load_stored(&client, tenant_id, &page, false).await?;
        Ok(plan_users(&stored, &page))
    }
}

impl Store {
    /// Active users a full listing with `seen` ids would find missing.
    pub async fn preview_vanished(
        &self,
        tenant_id: &str,
        seen: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query(
                "SELECT kombo_id FROM users WHERE tenant_id = $1 AND status = 'active'
                 AND NOT (kombo_id = ANY($2)) ORDER BY kombo_id",
                &[&tenant_id, &seen],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// The tenant's mass-change budget as it stands (read-only).
    pub async fn guard_budget(
        &self,
        tenant_id: &str,
    ) -> Result<hris_mapping::guard::Budget, StoreError> {
        let client = self.client().await?;
        crate::guard::read_budget(&client, tenant_id).await
    }
}
