//! The mass-change guard's decisions, pure.
//!
//! A deactivation on the platform removes a person's tasks, enrolments and
//! objectives, so a sync that would deactivate more than the tenant's share
//! (default 20 %) of its people parks them for an admin instead. Every path a
//! deactivation can take (an HR status, a deletion upstream, a record missing
//! from a full listing, a leave date reached, moving out of scope) asks the
//! same two questions here: may this user be deactivated by the sync at all
//! ([`Standing`]), and do this batch's deactivations fit the budget ([`Budget`])?
//!
//! The budget is a rolling day, not one run: a mass termination that reaches
//! us as many small incremental runs (one webhook each) or as the scheduler's
//! leave-date ticks counts as one mass change.

use chrono::{DateTime, Duration, Utc};

/// How long deactivations done by syncs count against the budget.
pub fn window() -> Duration {
    Duration::hours(24)
}

/// A user's standing towards a deactivation the HR data asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nothing stands in the way: the deactivation goes to the budget.
    Open,
    /// Already held for approval: not deactivated, not held twice.
    Held,
    /// An admin rejected deactivating this very snapshot of the record: it
    /// stays active until the HR data changes again.
    Rejected,
}

/// Where a user stands, given its pending hold, the snapshot whose
/// deactivation was rejected, and the snapshot that asks again.
pub fn standing(
    pending_hold: bool,
    rejected_for: Option<DateTime<Utc>>,
    incoming_changed_at: Option<DateTime<Utc>>,
) -> Standing {
    if pending_hold {
        return Standing::Held;
    }
    match (rejected_for, incoming_changed_at) {
        // The same snapshot (or an older one) as the rejected one.
        (Some(rejected), Some(incoming)) if incoming <= rejected => Standing::Rejected,
        // No changed_at to compare: Kombo always sends one, so a record without
        // it cannot be told apart from the rejected snapshot; stay safe.
        (Some(_), None) => Standing::Rejected,
        _ => Standing::Open,
    }
}

/// How many users syncs may still deactivate in a tenant without approval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Deactivations allowed in the window: the threshold's share of everyone
    /// who was active at its start.
    pub limit: i64,
    /// Deactivations syncs already did in the window.
    pub used: i64,
    pub threshold: f64,
}

impl Budget {
    /// `active` users now, `recent` deactivated by syncs within the window.
    /// Their sum is who was active when the window began (give or take the
    /// hires since), so the limit stays put while the window's deactivations
    /// move users from one count to the other.
    pub fn new(threshold: f64, active: i64, recent: i64) -> Self {
        let threshold = if threshold.is_finite() {
            threshold.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let base = active.max(0) + recent.max(0);
        Self {
            limit: (threshold * base as f64).floor() as i64,
            used: recent.max(0),
            threshold,
        }
    }

    pub fn remaining(&self) -> i64 {
        (self.limit - self.used).max(0)
    }

    /// Whether a batch of `n` deactivations applies (all of it) or is held
    /// (all of it): a batch is one decision, so that an admin sees the whole
    /// mass change, never its tail.
    pub fn admits(&self, n: usize) -> bool {
        i64::try_from(n).is_ok_and(|n| n <= self.remaining())
    }

    /// Why a batch was held, for the admin (counts only).
    pub fn because(&self, n: usize) -> String {
        format!(
            "{n} deactivations would pass {:.0}% of the tenant's active users ({} allowed in 24 h, {} used)",
            self.threshold * 100.0,
            self.limit,
            self.used
        )
    }
}

/// What Kombo says about a tenant's integration, as far as deactivations care.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntegrationHealth {
    /// Kombo's filters or scope changed at this time and no sync has run
    /// since: records newly filtered out show as deleted.
    pub data_expired_at: Option<DateTime<Utc>>,
    /// `None`: never asked (no reason to distrust the data).
    pub setup_status: Option<String>,
    /// An `integration.authentication_failed` issue is open.
    pub auth_issue_open: bool,
}

/// The setup status under which Kombo's data is the customer's final choice.
pub const SETUP_COMPLETED: &str = "COMPLETED";

impl IntegrationHealth {
    /// Why a disappearance upstream is not news about someone leaving right
    /// now, if it is not (shown to admins beside each held deactivation).
    pub fn distrust(&self) -> Option<String> {
        if self.auth_issue_open {
            return Some(
                "Kombo reports integration.authentication_failed: deletions upstream are not trusted until it is resolved"
                    .to_owned(),
            );
        }
        if let Some(at) = self.data_expired_at {
            return Some(format!(
                "Kombo's data expired at {} (the customer changed filters or scope): deletions upstream are not news about people leaving",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            ));
        }
        match self.setup_status.as_deref() {
            Some(status) if status != SETUP_COMPLETED => Some(format!(
                "Kombo's setup is {status}, not {SETUP_COMPLETED}: deletions upstream are not trusted yet"
            )),
            _ => None,
        }
    }
}

/// Whether a deactivation for `reason` rests only on a record disappearing
/// (deleted upstream, missing from a listing) and so waits while the health
/// distrusts the data. A termination or an inactive status is the HR system's
/// own statement about the person: it still applies.
pub fn rests_on_disappearance(reason: &str) -> bool {
    reason == crate::employee::reason::DELETED_UPSTREAM
        || reason == crate::employee::reason::VANISHED
}

/// Deactivations the health holds, and why; the rest go on to the budget.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSplit<T> {
    pub because: Option<String>,
    pub held: Vec<(T, String)>,
    pub rest: Vec<(T, String)>,
}

/// Splits a batch of deactivations `(key, reason)`: while the health distrusts
/// the data, those resting on a disappearance are held; the rest (and every
/// one, when the data is trusted) go on to the mass-change budget.
pub fn split_by_health<T>(health: &IntegrationHealth, batch: Vec<(T, String)>) -> HealthSplit<T> {
    let Some(because) = health.distrust() else {
        return HealthSplit {
            because: None,
            held: Vec::new(),
            rest: batch,
        };
    };
    let (held, rest) = batch
        .into_iter()
        .partition(|(_, reason)| rests_on_disappearance(reason));
    HealthSplit {
        because: Some(because),
        held,
        rest,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_distrusted_batch_holds_disappearances_and_passes_terminations() {
        let batch = || {
            vec![
                (1, "deleted_upstream".to_owned()),
                (2, "leave_date_reached".to_owned()),
                (3, "missing_from_full_sync".to_owned()),
            ]
        };
        let trusted = split_by_health(&IntegrationHealth::default(), batch());
        assert_eq!(trusted.because, None);
        assert!(trusted.held.is_empty());
        assert_eq!(trusted.rest, batch());
        let health = IntegrationHealth {
            auth_issue_open: true,
            ..IntegrationHealth::default()
        };
        let split = split_by_health(&health, batch());
        assert!(split.because.is_some());
        assert_eq!(
            split.held.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(split.rest, vec![(2, "leave_date_reached".to_owned())]);
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn distrust_names_its_cause_and_trusts_a_healthy_integration() {
        assert_eq!(IntegrationHealth::default().distrust(), None);
        let completed = IntegrationHealth {
            setup_status: Some("COMPLETED".to_owned()),
            ..IntegrationHealth::default()
        };
        assert_eq!(completed.distrust(), None);
        let expired = IntegrationHealth {
            data_expired_at: at(0),
            ..completed.clone()
        };
        assert_eq!(
            expired.distrust().as_deref(),
            Some(
                "Kombo's data expired at 2023-11-14T22:13:20Z (the customer changed filters or scope): deletions upstream are not news about people leaving"
            )
        );
        let auth = IntegrationHealth {
            auth_issue_open: true,
            ..expired
        };
        assert!(
            auth.distrust()
                .is_some_and(|d| d.starts_with("Kombo reports integration.authentication_failed"))
        );
        let setup = IntegrationHealth {
            setup_status: Some("FINAL_SYNC_PENDING".to_owned()),
            ..IntegrationHealth::default()
        };
        assert!(
            setup
                .distrust()
                .is_some_and(|d| d.contains("FINAL_SYNC_PENDING"))
        );
    }

    #[test]
    fn only_disappearances_wait_for_trust() {
        assert!(rests_on_disappearance("deleted_upstream"));
        assert!(rests_on_disappearance("missing_from_full_sync"));
        assert!(!rests_on_disappearance("leave_date_reached"));
        assert!(!rests_on_disappearance("employment_status_inactive"));
    }

    fn at(s: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_700_000_000 + s, 0)
    }

    #[test]
    fn standings() {
        assert_eq!(standing(true, None, at(0)), Standing::Held);
        assert_eq!(standing(false, at(5), at(5)), Standing::Rejected);
        assert_eq!(standing(false, at(5), at(4)), Standing::Rejected);
        assert_eq!(standing(false, at(5), at(6)), Standing::Open);
        assert_eq!(standing(false, None, at(6)), Standing::Open);
        assert_eq!(standing(false, at(5), None), Standing::Rejected);
    }

    #[test]
    fn sixty_percent_is_held_twenty_is_not() {
        let budget = Budget::new(0.2, 285, 0);
        assert_eq!(budget.limit, 57);
        assert!(budget.admits(57));
        assert!(!budget.admits(171));
        assert!(budget.because(171).contains("57 allowed"));
    }

    proptest! {
        /// However the deactivations of a day arrive (in one run or many small
        /// ones), the guard never lets syncs deactivate more than the
        /// threshold's share of the people active when the day began.
        #[test]
        fn the_budget_is_never_exceeded(
            active in 0i64..5_000,
            threshold in 0.01f64..=1.0,
            batches in prop::collection::vec(0usize..400, 0..40),
        ) {
            let start = active;
            let mut active = active;
            let mut recent = 0i64;
            for n in batches {
                let n = (n as i64).min(active) as usize;
                let budget = Budget::new(threshold, active, recent);
                if budget.admits(n) {
                    active -= n as i64;
                    recent += n as i64;
                }
            }
            prop_assert!(recent as f64 <= threshold * start as f64 + 1e-9,
                "{} deactivated of {} at {}", recent, start, threshold);
        }

        /// A batch within the budget always applies; one over it never does.
        #[test]
        fn admits_exactly_the_remaining(active in 0i64..5_000, recent in 0i64..500, n in 0usize..2_000, threshold in 0.01f64..=1.0) {
            let budget = Budget::new(threshold, active, recent);
            prop_assert_eq!(budget.admits(n), (n as i64) <= budget.remaining());
        }
    }
}
