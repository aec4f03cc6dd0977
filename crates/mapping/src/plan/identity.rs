//! A page of users, identified: which stored user each record is (the pure
//! matcher of [`crate::identity`]), turned into what the planner writes over,
//! the relinks to make first and the conflicts to record. A record that
//! matched ambiguously writes nothing and never stops the rest of its page.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::users::{PageRules, StoredUser, UserPlan, plan_users};
use crate::email::EmailStatus;
use crate::employee::{MappedUser, reason};
use crate::identity::{Arrival, Candidate, Conflict, Decided, Identity, MatchKey, UserId, resolve};
use crate::{UserFields, UserStatus};

/// A user an HR record takes over (written before the page's rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relink {
    pub user: UserId,
    /// The record it was linked to; `None` for a user the platform created.
    pub from: Option<String>,
    pub to: String,
    pub by: MatchKey,
}

/// A record that matched ambiguously.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordConflict {
    pub kombo_id: String,
    pub conflict: Conflict,
}

/// The page's plan, with the stored side and the records it was made from
/// (what the guard screens).
#[derive(Debug, Clone, Default)]
pub struct IdentifiedPage {
    pub plan: UserPlan,
    /// Stored users by the Kombo id of the record they are now.
    pub stored: HashMap<String, StoredUser>,
    pub page: Vec<MappedUser>,
}

/// Identifies every record of `page` against `known` (the tenant's users that
/// share a Kombo id, a former one, an email or an employee number with it),
/// then plans the writes.
pub fn plan_page(
    known: &[StoredUser],
    page: &[MappedUser],
    decisions: &BTreeMap<String, Decided>,
    rules: &PageRules,
) -> IdentifiedPage {
    let candidates: Vec<Candidate> = known.iter().map(candidate).collect();
    let arrivals: Vec<Arrival> = page.iter().map(|m| arrival(m, decisions)).collect();
    let identities = resolve(&candidates, &arrivals, rules.identity);
    let by_id: HashMap<UserId, &StoredUser> = known.iter().map(|s| (s.id, s)).collect();

    let mut out = IdentifiedPage::default();
    let mut relinks = Vec::new();
    let mut conflicts = Vec::new();
    let mut matched = Vec::new();
    let mut reinvite = BTreeSet::new();
    let mut skipped = 0u32;
    for (mapped, identity) in page.iter().zip(identities) {
        let kombo = mapped.user.kombo_id.clone();
        let user = match identity {
            Identity::Conflict(conflict) => {
                conflicts.push(RecordConflict {
                    kombo_id: kombo,
                    conflict,
                });
                continue;
            }
            Identity::Linked(user) => by_id.get(&user).map(|s| (*s).clone()),
            Identity::Adopt {
                user,
                by,
                email_follows,
            } => {
                // Someone outside the tenant's scope never takes a user over.
                let Some(old) = by_id.get(&user).filter(|_| mapped.in_scope) else {
                    skipped += 1;
                    matched.push(kombo);
                    continue;
                };
                let (stored, record) = adopt(old, mapped, email_follows, rules, &mut reinvite);
                relinks.push(Relink {
                    user,
                    from: linked(old).map(str::to_owned),
                    to: kombo.clone(),
                    by,
                });
                out.stored.insert(kombo.clone(), stored);
                out.page.push(record);
                matched.push(kombo);
                continue;
            }
            Identity::Create if mapped.in_scope => None,
            Identity::Create | Identity::Superseded { .. } | Identity::Ignored => {
                skipped += 1;
                matched.push(kombo);
                continue;
            }
        };
        if let Some(user) = user {
            out.stored.insert(kombo.clone(), user);
        }
        out.page.push(mapped.clone());
        matched.push(kombo);
    }
    let mut plan = plan_users(&out.stored, &out.page, rules);
    for write in &mut plan.writes {
        write.reinvite = reinvite.contains(&write.user.kombo_id);
    }
    plan.stats.unchanged += skipped;
    plan.stats.conflicts = conflicts.len() as u32;
    plan.relinks = relinks;
    plan.conflicts = conflicts;
    plan.matched = matched;
    out.plan = plan;
    out
}

/// The stored user as the adopting record will see it, and the record as it
/// will be written: the login email is kept when a non-email key adopted;
/// invitations follow the person (someone already invited or signed in is not
/// invited again; a returning leaver gets the tenant's rehire policy).
fn adopt(
    old: &StoredUser,
    mapped: &MappedUser,
    email_follows: bool,
    rules: &PageRules,
    reinvite: &mut BTreeSet<String>,
) -> (StoredUser, MappedUser) {
    let mut stored = old.clone();
    stored.fields.kombo_id = mapped.user.kombo_id.clone();
    // The old record's snapshot time and rejection say nothing about this one.
    stored.changed_at = None;
    stored.rejected_for = None;
    let mut record = mapped.clone();
    if !email_follows {
        record.user.email = old.fields.email.clone();
        record.user.email_status = old.fields.email_status;
    }
    let rehire = linked(old).is_some();
    let returning = old.fields.status == UserStatus::Deactivated;
    if returning && rehire && rules.rehire_invite {
        reinvite.insert(mapped.user.kombo_id.clone());
    } else if old.invited || rehire {
        record.invite_at = None;
    }
    (stored, record)
}

/// The Kombo id a stored user is linked to.
pub fn linked(user: &StoredUser) -> Option<&str> {
    Some(user.fields.kombo_id.as_str()).filter(|k| !k.is_empty())
}

/// A record that ended: deleted upstream, terminated (a leave date, even a
/// future one: a contract that ends hands over to the next), or inactive.
fn ended(fields: &UserFields) -> bool {
    fields.remote_deleted_at.is_some()
        || fields.leave_date.is_some()
        || fields.deactivation_reason.as_deref() == Some(reason::INACTIVE)
}

fn candidate(user: &StoredUser) -> Candidate {
    Candidate {
        user: user.id,
        kombo_id: linked(user).map(str::to_owned),
        emails: user.emails.clone(),
        employee_number: usable(user.fields.employee_number.as_deref()),
        record_ended: ended(&user.fields) || user.fields.status == UserStatus::Deactivated,
        former_kombo_ids: user.former_kombo_ids.clone(),
    }
}

fn arrival(mapped: &MappedUser, decisions: &BTreeMap<String, Decided>) -> Arrival {
    let user = &mapped.user;
    Arrival {
        kombo_id: user.kombo_id.clone(),
        email: user
            .email
            .clone()
            .filter(|_| user.email_status == EmailStatus::Ok),
        employee_number: usable(user.employee_number.as_deref()),
        ended: ended(user),
        decided: decisions.get(&user.kombo_id).copied(),
    }
}

/// An employee number worth matching on: trimmed, not empty.
fn usable(number: Option<&str>) -> Option<String> {
    number
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
