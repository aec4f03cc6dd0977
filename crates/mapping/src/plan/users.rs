//! Planning one page of users: which rows change, field by field, which are
//! new, and what the mass-change guard does with the page's deactivations.
//! The same plan drives the real write and `import-all --dry-run`, so the dry
//! run predicts exactly what the run does.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{PageStats, created_entry, is_stale};
use crate::employee::MappedUser;
use crate::guard::{Standing, standing};
use crate::{FieldChange, UserFields, UserStatus, diff};

/// Fields a held deactivation keeps as they were.
const DEACTIVATION_FIELDS: [&str; 2] = ["status", "deactivation_reason"];

/// A stored user as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    pub fields: UserFields,
    pub teams: Vec<String>,
    /// Kombo's `changed_at` of the stored snapshot.
    pub changed_at: Option<DateTime<Utc>>,
    /// The snapshot whose deactivation an admin rejected.
    pub rejected_for: Option<DateTime<Utc>>,
    /// A deactivation of this user waits for approval.
    pub held: bool,
}

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

/// A page may hold the same employee twice (a cursor shifted by a concurrent
/// change): keep the newest snapshot.
pub fn newest_per_id(page: Vec<MappedUser>) -> Vec<MappedUser> {
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

/// What writing `page` over `stored` changes.
pub fn plan_users(stored: &HashMap<String, StoredUser>, page: &[MappedUser]) -> UserPlan {
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

/// The guard's first look at a plan: users with a pending hold or a rejected
/// snapshot keep active (their hold stands); holds of users the HR data made
/// active again are superseded. Returns the indices of the writes whose
/// deactivation is open for a [`Decision`].
pub fn screen(
    plan: &mut UserPlan,
    page: &[MappedUser],
    stored: &HashMap<String, StoredUser>,
) -> Vec<usize> {
    plan.superseded = page
        .iter()
        .filter(|m| m.user.status == UserStatus::Active)
        .filter(|m| stored.get(&m.user.kombo_id).is_some_and(|s| s.held))
        .map(|m| m.user.kombo_id.clone())
        .collect();
    let mut open = Vec::new();
    for (i, write) in plan.writes.iter_mut().enumerate() {
        if !write.deactivates() {
            continue;
        }
        let old = stored.get(&write.user.kombo_id);
        let held = old.is_some_and(|s| s.held);
        let rejected_for = old.and_then(|s| s.rejected_for);
        match standing(held, rejected_for, write.changed_at) {
            Standing::Held | Standing::Rejected => keep_active(write, &mut plan.stats),
            Standing::Open => open.push(i),
        }
    }
    open
}

/// What the guard decided for a page's open deactivations (one batch).
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Within the budget: they apply with the page.
    Admit,
    /// A full sync: decided with the rest of its listing at the end.
    Stage,
    /// Over the budget: parked for approval, with the reason shown to admins.
    Hold { because: String },
}

/// Applies `decision` to the writes at `open` (from [`screen`]), then drops
/// writes left with nothing to change.
pub fn decide(plan: &mut UserPlan, open: &[usize], decision: &Decision) {
    for &i in open {
        let Some(write) = plan.writes.get_mut(i) else {
            continue;
        };
        let reason = write.user.deactivation_reason.clone().unwrap_or_default();
        match decision {
            Decision::Admit => continue,
            Decision::Stage => plan.staged.push((write.user.kombo_id.clone(), reason)),
            Decision::Hold { because } => plan.held.push(HeldDeactivation {
                kombo_id: write.user.kombo_id.clone(),
                reason,
                because: because.clone(),
            }),
        }
        keep_active(write, &mut plan.stats);
    }
    let before = plan.writes.len();
    plan.writes.retain(|w| !w.changes.is_empty());
    let dropped = (before - plan.writes.len()) as u32;
    plan.stats.updated = plan.stats.updated.saturating_sub(dropped);
    plan.stats.unchanged += dropped;
    plan.stats.held = plan.held.len() as u32;
}

/// The write without its deactivation: active, and no leave-date deactivation
/// pending (the scheduler must not do what the guard held).
fn keep_active(write: &mut UserWrite, stats: &mut PageStats) {
    write.user.status = UserStatus::Active;
    write.user.deactivation_reason = None;
    write.deactivate_at = None;
    write
        .changes
        .retain(|c| !DEACTIVATION_FIELDS.contains(&c.field));
    write.was_active = false;
    stats.deactivated = stats.deactivated.saturating_sub(1);
}

#[cfg(test)]
#[path = "users_tests.rs"]
mod tests;
