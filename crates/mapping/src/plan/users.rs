//! Planning one page of users: which rows change, field by field, which are
//! new, and what the mass-change guard does with the page's deactivations.
//! The same plan drives the real write and `import-all --dry-run`, so the dry
//! run predicts exactly what the run does.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{PageStats, created_entry, is_stale};
use crate::employee::{MappedUser, reason};
use crate::guard::{Standing, standing};
use crate::identity::{IdentityMatch, UserId};
use crate::{FieldChange, UserFields, UserStatus, diff};

/// Fields a held deactivation keeps as they were.
const DEACTIVATION_FIELDS: [&str; 2] = ["status", "deactivation_reason"];

/// What a tenant decided for its pages of users, and the page's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRules {
    pub identity: IdentityMatch,
    /// How long a user deleted upstream stays active in case the HR system
    /// re-creates them (`deactivation_grace_seconds`); zero deactivates at once.
    pub grace: chrono::Duration,
    /// A relinked leaver who comes back is invited again (`rehire_invite`).
    pub rehire_invite: bool,
    pub now: DateTime<Utc>,
}

impl PageRules {
    /// The defaults of a new tenant, except a grace of zero.
    pub fn immediate(now: DateTime<Utc>) -> Self {
        Self {
            identity: IdentityMatch::Email,
            grace: chrono::Duration::zero(),
            rehire_invite: true,
            now,
        }
    }
}

/// A deactivation decided but not yet due, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// A stored user as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    pub id: UserId,
    /// The synced fields; `kombo_id` is empty for a user the platform created.
    pub fields: UserFields,
    /// Normalised emails, the current one first, then earlier ones.
    pub emails: Vec<String>,
    /// Records it was linked to before its current one.
    pub former_kombo_ids: Vec<String>,
    /// Invited already, or signed in: never invited again by an adoption.
    pub invited: bool,
    pub pending: Option<Pending>,
    pub teams: Vec<String>,
    /// Kombo's `changed_at` of the stored snapshot.
    pub changed_at: Option<DateTime<Utc>>,
    /// The snapshot whose deactivation an admin rejected.
    pub rejected_for: Option<DateTime<Utc>>,
    /// A deactivation of this user waits for approval.
    pub held: bool,
    /// Its personal fields were blanked (`tenant anonymise`): a sync leaves
    /// them blank while the HR record stays deactivated.
    pub anonymised: bool,
}

impl StoredUser {
    /// A user with these fields and nothing else known: its current email
    /// only, no former links, never invited, nothing pending or held.
    pub fn new(id: UserId, fields: UserFields) -> Self {
        Self {
            id,
            emails: fields.email.clone().into_iter().collect(),
            fields,
            former_kombo_ids: Vec::new(),
            invited: false,
            pending: None,
            teams: Vec::new(),
            changed_at: None,
            rejected_for: None,
            held: false,
            anonymised: false,
        }
    }
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
    /// A deactivation waiting out the grace period (or none).
    pub pending: Option<Pending>,
    /// A returning person: a sent or cancelled invitation is scheduled anew.
    pub reinvite: bool,
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
    /// Users an HR record takes over, written before the rows.
    pub relinks: Vec<super::identity::Relink>,
    /// Records that matched ambiguously: nothing written for them.
    pub conflicts: Vec<super::identity::RecordConflict>,
    /// Records that matched cleanly: their open conflicts close.
    pub matched: Vec<String>,
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

/// What writing `page` over `stored` (by Kombo id) changes.
pub fn plan_users(
    stored: &HashMap<String, StoredUser>,
    page: &[MappedUser],
    rules: &PageRules,
) -> UserPlan {
    let mut plan = UserPlan::default();
    for mapped in page {
        let mapped = &with_grace(mapped, stored.get(&mapped.user.kombo_id), rules);
        let mut teams = mapped.team_kombo_ids.clone();
        teams.sort();
        let old = stored.get(&mapped.user.kombo_id);
        if old.is_some_and(|o| {
            is_stale(o.changed_at, mapped.changed_at) || stays_anonymous(o, mapped)
        }) {
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
        let old_pending = old.and_then(|o| o.pending.as_ref());
        if old.is_some() && old_pending != mapped.pending.as_ref() {
            changes.push(FieldChange {
                field: "pending_deactivation",
                old: pending_json(old_pending),
                new: pending_json(mapped.pending.as_ref()),
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
            pending: mapped.pending.clone(),
            reinvite: false,
        };
        if write.deactivates() {
            plan.stats.deactivated += 1;
        }
        plan.writes.push(write);
    }
    plan
}

/// An anonymised leaver whose HR record is still deactivated: writing the
/// record would bring back the personal data that was erased. Someone active
/// again in the HR system is a person the platform serves again: the record
/// applies (and the store clears `anonymised_at`).
fn stays_anonymous(old: &StoredUser, mapped: &MappedUser) -> bool {
    old.anonymised && mapped.user.status == UserStatus::Deactivated
}

/// A record deleted upstream keeps its active user through the grace period:
/// the HR system may re-create the person under a new id, who then takes the
/// same user over. The deadline runs from when we first saw the deletion (a
/// stored one is kept), not from Kombo's timestamp, which may be old news.
/// Any other sighting of a record clears what was pending.
fn with_grace(mapped: &MappedUser, old: Option<&StoredUser>, rules: &PageRules) -> Graced {
    let mut graced = Graced {
        record: mapped.clone(),
        pending: None,
    };
    let deleted = mapped.user.deactivation_reason.as_deref() == Some(reason::DELETED_UPSTREAM);
    let Some(old) = old.filter(|o| deleted && o.fields.status == UserStatus::Active) else {
        return graced;
    };
    if rules.grace <= chrono::Duration::zero() {
        return graced;
    }
    let at = match &old.pending {
        Some(p) if p.reason == reason::DELETED_UPSTREAM => p.at,
        _ => rules.now + rules.grace,
    };
    if at > rules.now {
        graced.record.user.status = UserStatus::Active;
        graced.record.user.deactivation_reason = None;
        graced.pending = Some(Pending {
            at,
            reason: reason::DELETED_UPSTREAM.to_owned(),
        });
    }
    graced
}

/// A mapped user with what is pending for it.
struct Graced {
    record: MappedUser,
    pending: Option<Pending>,
}

impl std::ops::Deref for Graced {
    type Target = MappedUser;

    fn deref(&self) -> &MappedUser {
        &self.record
    }
}

fn pending_json(pending: Option<&Pending>) -> Value {
    pending.map_or(
        Value::Null,
        |p| serde_json::json!({ "at": p.at.to_rfc3339(), "reason": p.reason }),
    )
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
