//! Planning one page of users, without writing: which rows change, field by
//! field, and which are new. The same plan drives the real write and
//! `import-all --dry-run`, so the dry run predicts exactly what the run does.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use hris_mapping::email::EmailStatus;
use hris_mapping::employee::MappedUser;
use hris_mapping::{FieldChange, UserFields, UserStatus, diff};
use serde_json::Value;

use crate::apply::{PageStats, created_entry, is_stale, select_by_keys};
use crate::users::USER_COLUMNS;
use crate::{Store, StoreError};

/// One user row to write, with what changes.
#[derive(Debug, Clone, PartialEq)]
pub struct UserWrite {
    pub user: UserFields,
    pub teams: Vec<String>,
    pub teams_changed: bool,
    pub changed_at: Option<DateTime<Utc>>,
    pub deactivate_at: Option<DateTime<Utc>>,
    pub invite_at: Option<DateTime<Utc>>,
    pub changes: Vec<FieldChange>,
    pub is_new: bool,
    /// Stored as active before this write.
    pub was_active: bool,
}

impl UserWrite {
    /// Turns an active user into a deactivated one.
    pub fn deactivates(&self) -> bool {
        self.was_active && self.user.status == UserStatus::Deactivated
    }
}

/// A deactivation the mass-change guard parked.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldDeactivation {
    pub kombo_id: String,
    pub reason: String,
    pub because: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserPlan {
    pub writes: Vec<UserWrite>,
    pub held: Vec<HeldDeactivation>,
    /// A full sync's deactivations, decided when its whole listing is in:
    /// (Kombo id, reason).
    pub staged: Vec<(String, String)>,
    /// Users whose pending hold the HR data took back (active again).
    pub superseded: Vec<String>,
    pub stats: PageStats,
}

/// A stored user as the mapping sees it, plus its snapshot time.
pub(crate) struct Stored {
    pub(crate) fields: UserFields,
    pub(crate) teams: Vec<String>,
    pub(crate) changed_at: Option<DateTime<Utc>>,
    /// The snapshot whose deactivation an admin rejected.
    pub(crate) rejected_for: Option<DateTime<Utc>>,
    /// A deactivation of this user waits for approval.
    pub(crate) held: bool,
}

pub(crate) fn stored_from_row(row: &tokio_postgres::Row) -> Stored {
    let teams: Value = row.get(21);
    Stored {
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

/// A page may hold the same employee twice (a cursor shifted by a concurrent
/// change): keep the newest snapshot.
pub(crate) fn newest_per_id(page: Vec<MappedUser>) -> Vec<MappedUser> {
    let mut by_id: BTreeMap<String, MappedUser> = BTreeMap::new();
    for m in page {
        match by_id.get(&m.user.kombo_id) {
            Some(existing) if is_stale(existing.changed_at, m.changed_at) => {}
            _ => {
                by_id.insert(m.user.kombo_id.clone(), m);
            }
        }
    }
    by_id.into_values().collect()
}

pub(crate) async fn load_stored(
    client: &impl GenericClient,
    tenant_id: &str,
    page: &[MappedUser],
    for_update: bool,
) -> Result<HashMap<String, Stored>, StoreError> {
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

/// What writing `page` over `stored` changes (pure).
pub(crate) fn plan_users(stored: &HashMap<String, Stored>, page: &[MappedUser]) -> UserPlan {
    let mut plan = UserPlan::default();
    for mapped in page {
        let mut teams = mapped.team_kombo_ids.clone();
        teams.sort();
        let old = stored.get(&mapped.user.kombo_id);
        if old.is_some_and(|o| is_stale(o.changed_at, mapped.changed_at)) {
            plan.stats.unchanged += 1;
            continue;
        }
        let mut changes = diff(old.map(|o| &o.fields), &mapped.user);
        let old_teams = old.map(|o| o.teams.clone());
        let teams_changed = old_teams.as_ref() != Some(&teams);
        if teams_changed && (old_teams.is_some() || !teams.is_empty()) {
            changes.push(FieldChange {
                field: "teams",
                old: old_teams.map_or(Value::Null, Value::from),
                new: Value::from(teams.clone()),
            });
        }
        if old.is_none() {
            // A new user's history starts with one entry holding every field:
            // per-field rows would make a first import write ~20 change-log rows
            // per person, most of the import's cost, and say nothing more.
            changes = vec![created_entry(&changes)];
        }
        match old {
            None => plan.stats.created += 1,
            Some(_) if changes.is_empty() => {
                plan.stats.unchanged += 1;
                continue;
            }
            Some(_) => plan.stats.updated += 1,
        }
        let write = UserWrite {
            user: mapped.user.clone(),
            teams,
            teams_changed,
            changed_at: mapped.changed_at,
            deactivate_at: mapped.deactivate_at,
            invite_at: mapped.invite_at,
            changes,
            is_new: old.is_none(),
            was_active: old.is_some_and(|o| o.fields.status == UserStatus::Active),
        };
        if write.deactivates() {
            plan.stats.deactivated += 1;
        }
        plan.writes.push(write);
    }
    plan
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
