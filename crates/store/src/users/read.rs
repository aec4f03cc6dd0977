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
use tokio_postgres::Row;

use crate::apply::select_by_keys;
use crate::row::RowExt;
use crate::{Store, StoreError};

/// The columns `stored_from_row` reads, each by its name.
const USER_COLUMNS: &str = "kombo_id, remote_id, employee_number, first_name, last_name, email, email_status, \
    job_title, hire_date, leave_date, status, employment_status, deactivation_reason, manager_kombo_id, \
    primary_team_kombo_id, location_kombo_id, legal_entity_kombo_id, employment_type, avatar_url, \
    custom_fields, remote_deleted_at, hris_team_kombo_ids, kombo_changed_at, deactivation_rejected_for, \
    EXISTS (SELECT 1 FROM held_changes h WHERE h.user_id = users.id AND h.state = 'pending') AS held";

fn stored_from_row(row: &Row) -> Result<StoredUser, StoreError> {
    let teams: Value = row.col("hris_team_kombo_ids")?;
    Ok(StoredUser {
        fields: UserFields {
            kombo_id: row.col("kombo_id")?,
            remote_id: row.col("remote_id")?,
            employee_number: row.col("employee_number")?,
            first_name: row.col("first_name")?,
            last_name: row.col("last_name")?,
            email: row.col("email")?,
            email_status: EmailStatus::parse(row.col("email_status")?),
            job_title: row.col("job_title")?,
            hire_date: row.col("hire_date")?,
            leave_date: row.col("leave_date")?,
            status: UserStatus::parse(row.col("status")?),
            employment_status: row.col("employment_status")?,
            deactivation_reason: row.col("deactivation_reason")?,
            manager_kombo_id: row.col("manager_kombo_id")?,
            primary_team_kombo_id: row.col("primary_team_kombo_id")?,
            location_kombo_id: row.col("location_kombo_id")?,
            legal_entity_kombo_id: row.col("legal_entity_kombo_id")?,
            employment_type: row.col("employment_type")?,
            avatar_url: row.col("avatar_url")?,
            custom_fields: row.col("custom_fields")?,
            remote_deleted_at: row.col("remote_deleted_at")?,
        },
        teams: serde_json::from_value(teams).unwrap_or_default(),
        changed_at: row.col("kombo_changed_at")?,
        rejected_for: row.col("deactivation_rejected_for")?,
        held: row.col("held")?,
    })
}

pub(crate) async fn load_stored(
    client: &impl GenericClient,
    tenant_id: &str,
    page: &[MappedUser],
    for_update: bool,
) -> Result<HashMap<String, StoredUser>, StoreError> {
    let ids: Vec<&str> = page.iter().map(|m| m.user.kombo_id.as_str()).collect();
    let lock = if for_update { "FOR NO KEY UPDATE" } else { "" };
    client
        .query(
            &select_by_keys("users", USER_COLUMNS, "kombo_id", lock),
            &[&tenant_id, &ids],
        )
        .await?
        .iter()
        .map(|row| stored_from_row(row).map(|s| (s.fields.kombo_id.clone(), s)))
        .collect()
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
        client
            .query(
                "SELECT kombo_id FROM users WHERE tenant_id = $1 AND status = 'active'
                 AND NOT (kombo_id = ANY($2)) ORDER BY kombo_id",
                &[&tenant_id, &seen],
            )
            .await?
            .iter()
            .map(|r| r.col("kombo_id"))
            .collect()
    }
}
