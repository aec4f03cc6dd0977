//! Identity, pure: which platform user an HR record is. The platform has users
//! before a tenant connects (the admin, people invited by hand or signed in
//! with SSO), and the HR system deletes and re-creates people (a new Kombo id)
//! and reuses an email for a rehire or a contractor made permanent. So a record
//! is matched, in order, by the Kombo id already linked; then by its normalised
//! work email against users nobody else's live record holds (platform users,
//! and users whose linked record ended); then, if the tenant allows it, by its
//! employee number. Whatever is ambiguous becomes a conflict: nobody is merged
//! and nobody changes until the data is fixed upstream or a person decides.

use std::collections::{BTreeMap, BTreeSet};

/// A tenant's `identity_match` setting (one spelling everywhere).
pub use hris_types::IdentityMatch;

/// A platform user's row id (`users.id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub i64);

/// A platform user as matching sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub user: UserId,
    /// The HR record it is linked to; `None` for a user the platform created.
    pub kombo_id: Option<String>,
    /// Its normalised emails, current first, then former ones (an old email
    /// still finds the person).
    pub emails: Vec<String>,
    pub employee_number: Option<String>,
    /// Its linked record ended (deleted upstream, or terminated): a rehire or
    /// a new contract may take the user over.
    pub record_ended: bool,
    /// Records it was linked to before (handed over to its current one).
    pub former_kombo_ids: Vec<String>,
}

/// An HR record of a page as matching sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    pub kombo_id: String,
    /// The normalised work email, only when it is a usable address.
    pub email: Option<String>,
    pub employee_number: Option<String>,
    /// Deleted upstream or terminated.
    pub ended: bool,
    /// What a person decided for this record (`tenant identity resolve`).
    pub decided: Option<Decided>,
}

/// A person's standing decision about a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// Applied on its own, whatever its email matches: its own user (a new
    /// one if it has none).
    Create,
    /// Never synced.
    Ignore,
}

/// Which key adopted a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKey {
    Email,
    EmployeeNumber,
}

/// Why a record was not matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// Other live records of the tenant carry the same email (a shared
    /// mailbox, a typo upstream).
    SharedEmail { others: Vec<String> },
    /// The email belongs to a user linked to another live record.
    EmailHeld { user: UserId },
    /// More than one user could be this record.
    Ambiguous { users: Vec<UserId> },
}

/// What a record of a page is, for the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Already linked to this user.
    Linked(UserId),
    /// A user nobody's live record holds becomes this record's, with its
    /// `users.id` and history. `email_follows` is false when it was adopted
    /// by a key other than its email: then the login email is not rewritten
    /// in the same step.
    Adopt {
        user: UserId,
        by: MatchKey,
        email_follows: bool,
    },
    /// A record that ended and whose user a live record of the same page
    /// takes over: nothing is written for it.
    Superseded { by: String },
    /// Nobody matches: a new user.
    Create,
    /// A person decided this record is not synced.
    Ignored,
    /// Nothing happens to anyone; the conflict is recorded.
    Conflict(Conflict),
}

/// Resolves every record of `page` (by index) against `candidates`, the
/// tenant's users that share a Kombo id, an email or an employee number with
/// the page. No user is ever given to two records.
pub fn resolve(candidates: &[Candidate], page: &[Arrival], rule: IdentityMatch) -> Vec<Identity> {
    let by_kombo: BTreeMap<&str, &Candidate> = candidates
        .iter()
        .filter_map(|c| Some((c.kombo_id.as_deref()?, c)))
        .collect();
    // The page's live records by email: more than one is a shared email.
    let mut live_by_email: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in page.iter().filter(|a| !a.ended) {
        if let Some(email) = a.email.as_deref() {
            live_by_email.entry(email).or_default().insert(&a.kombo_id);
        }
    }
    let ended_in_page: BTreeSet<&str> = page
        .iter()
        .filter(|a| a.ended)
        .map(|a| a.kombo_id.as_str())
        .collect();
    let in_page: BTreeSet<&str> = page.iter().map(|a| a.kombo_id.as_str()).collect();
    let live_in_page: BTreeSet<&str> = page
        .iter()
        .filter(|a| !a.ended)
        .map(|a| a.kombo_id.as_str())
        .collect();
    // Free to be taken over: unlinked, or linked to a record that ended (now,
    // or in this page) and not to a live record of this page.
    let free = |c: &Candidate| match c.kombo_id.as_deref() {
        None => true,
        Some(k) => !live_in_page.contains(k) && (c.record_ended || ended_in_page.contains(k)),
    };
    let mut out: Vec<Identity> = page
        .iter()
        .map(|a| {
            match a.decided {
                Some(Decided::Ignore) => return Identity::Ignored,
                // Applied on its own, whatever its email matches: its own
                // user if it has one, a new one otherwise.
                Some(Decided::Create) => {
                    return by_kombo
                        .get(a.kombo_id.as_str())
                        .map_or(Identity::Create, |c| Identity::Linked(c.user));
                }
                _ => {}
            }
            let shared = a.email.as_deref().and_then(|e| live_by_email.get(e));
            if let Some(others) = shared.filter(|s| !a.ended && s.len() > 1) {
                return Identity::Conflict(Conflict::SharedEmail {
                    others: others
                        .iter()
                        .filter(|k| **k != a.kombo_id)
                        .map(|k| (*k).to_owned())
                        .collect(),
                });
            }
            if let Some(c) = by_kombo.get(a.kombo_id.as_str()) {
                // A linked record whose (new) email another live user holds
                // would make two active users with one email: it waits.
                if let Some(held) = a.email.as_deref().filter(|_| !a.ended).and_then(|email| {
                    candidates.iter().find(|o| {
                        o.user != c.user
                            && o.emails.first().map(String::as_str) == Some(email)
                            && !o.record_ended
                            && o.kombo_id.as_deref().is_none_or(|k| !in_page.contains(k))
                    })
                }) {
                    return Identity::Conflict(Conflict::EmailHeld { user: held.user });
                }
                return Identity::Linked(c.user);
            }
            // A record that handed its user over (a late copy of its deletion,
            // say) writes nothing: the user is its successor's now.
            if let Some(taker) = candidates
                .iter()
                .find(|c| c.former_kombo_ids.contains(&a.kombo_id))
            {
                return Identity::Superseded {
                    by: taker.kombo_id.clone().unwrap_or_default(),
                };
            }
            if rule == IdentityMatch::KomboIdOnly || a.ended {
                // An ended record nobody knows is created as it is (deactivated).
                return Identity::Create;
            }
            if let Some(email) = a.email.as_deref() {
                let holders: Vec<&Candidate> = candidates
                    .iter()
                    .filter(|c| c.emails.iter().any(|e| e == email))
                    .collect();
                let takeable: Vec<UserId> =
                    holders.iter().filter(|c| free(c)).map(|c| c.user).collect();
                match takeable.as_slice() {
                    [user] => {
                        return Identity::Adopt {
                            user: *user,
                            by: MatchKey::Email,
                            email_follows: true,
                        };
                    }
                    [] => {
                        // Only a user's current email is held; an earlier one
                        // may be someone else's now.
                        if let Some(held) = holders
                            .iter()
                            .find(|c| c.emails.first().map(String::as_str) == Some(email))
                        {
                            return Identity::Conflict(Conflict::EmailHeld { user: held.user });
                        }
                    }
                    users => {
                        return Identity::Conflict(Conflict::Ambiguous {
                            users: users.to_vec(),
                        });
                    }
                }
            }
            if rule == IdentityMatch::EmailThenEmployeeNumber
                && let Some(number) = a.employee_number.as_deref()
            {
                let takeable: Vec<UserId> = candidates
                    .iter()
                    .filter(|c| c.employee_number.as_deref() == Some(number) && free(c))
                    .map(|c| c.user)
                    .collect();
                match takeable.as_slice() {
                    [user] => {
                        return Identity::Adopt {
                            user: *user,
                            by: MatchKey::EmployeeNumber,
                            email_follows: false,
                        };
                    }
                    [] => {}
                    users => {
                        return Identity::Conflict(Conflict::Ambiguous {
                            users: users.to_vec(),
                        });
                    }
                }
            }
            Identity::Create
        })
        .collect();
    settle(candidates, page, &mut out);
    out
}

/// A user adopted by a live record is no longer its ended record's: that one
/// is superseded. A user two records would adopt is neither's: both conflict.
fn settle(candidates: &[Candidate], page: &[Arrival], out: &mut [Identity]) {
    let mut adopters: BTreeMap<UserId, Vec<usize>> = BTreeMap::new();
    for (i, identity) in out.iter().enumerate() {
        if let Identity::Adopt { user, .. } = identity {
            adopters.entry(*user).or_default().push(i);
        }
    }
    for (user, claims) in adopters {
        if let [only] = claims.as_slice() {
            let taker = page[*only].kombo_id.clone();
            let previous = candidates
                .iter()
                .find(|c| c.user == user)
                .and_then(|c| c.kombo_id.as_deref());
            for (i, a) in page.iter().enumerate() {
                if Some(a.kombo_id.as_str()) == previous && out[i] == Identity::Linked(user) {
                    out[i] = Identity::Superseded { by: taker.clone() };
                }
            }
        } else {
            for i in claims {
                out[i] = Identity::Conflict(Conflict::Ambiguous { users: vec![user] });
            }
        }
    }
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
