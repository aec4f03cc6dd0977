//! Everything `explain` tells about one user, gathered once for the CLI's
//! `explain` and the console's user page: state, field history with causes,
//! identity (emails, linked records, conflicts), team memberships, open
//! record issues, and the dead letters that may hold their latest change.

use hris_types::TenantId;
use serde::Serialize;

use crate::console::TeamMembership;
use crate::explain::{FieldHistory, UserState};
use crate::identity::{IdentityConflict, UserEmail, UserLink};
use crate::{DeadLetter, DeadLetterFilter, RecordIssue, Store, StoreError};

/// How many of the tenant's pending employee dead letters are shown.
const DEAD_LETTERS_SHOWN: i64 = 50;

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub user: UserState,
    pub emails: Vec<UserEmail>,
    pub linked_records: Vec<UserLink>,
    pub identity_conflicts: Vec<IdentityConflict>,
    /// Oldest first.
    pub history: Vec<FieldHistory>,
    pub teams: Vec<TeamMembership>,
    /// Dead letters are per fetch, not per person: the tenant's employee
    /// sync's that are still pending may hold this user's latest change.
    pub dead_letters: Vec<DeadLetter>,
    pub record_issues: Vec<RecordIssue>,
}

impl Store {
    /// What there is to tell about `user` (found by [`Store::find_user`]).
    pub async fn explain_user(
        &self,
        tenant_id: &TenantId,
        user: UserState,
    ) -> Result<Explanation, StoreError> {
        let record = user.kombo_id.clone().unwrap_or_default();
        let dead = DeadLetterFilter {
            tenant_id: Some(tenant_id.clone()),
            entity: Some("employees".into()),
            state: Some("pending".into()),
            ..DeadLetterFilter::default()
        };
        let (record_issues, history, (emails, linked_records), conflicts, teams, dead_letters) = tokio::try_join!(
            self.record_issues_of(tenant_id, &record),
            self.user_history(tenant_id, user.id),
            self.user_identity(user.id),
            self.identity_conflicts(tenant_id, false),
            self.team_memberships(user.id),
            self.dead_letters(&dead, DEAD_LETTERS_SHOWN),
        )?;
        let identity_conflicts = conflicts
            .into_iter()
            .filter(|c| {
                c.user_ids.contains(&user.id) || Some(&c.kombo_id) == user.kombo_id.as_ref()
            })
            .collect();
        Ok(Explanation {
            user,
            emails,
            linked_records,
            identity_conflicts,
            history,
            teams,
            dead_letters,
            record_issues,
        })
    }
}
