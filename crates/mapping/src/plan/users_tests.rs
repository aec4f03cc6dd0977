use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use hris_kombo::records::{EmbeddedGroup, Employee};
use proptest::prelude::*;

use super::*;
use crate::TenantPolicy;
use crate::employee::map_employee;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default()
}

/// An employee with a few fields drawn from small sets, so that pages repeat
/// ids, statuses and snapshots often.
fn any_employee() -> impl Strategy<Value = Employee> {
    (
        0u8..12,
        "[A-C][a-c]{0,3}",
        prop::sample::select(vec!["ACTIVE", "INACTIVE", "LEAVE", "PENDING"]),
        prop::option::of(-20i64..20),
        0i64..4,
        prop::collection::vec(0u8..4, 0..3),
    )
        .prop_map(|(id, name, status, leave, at, groups)| Employee {
            id: format!("E{id}"),
            first_name: Some(name),
            employment_status: Some(status.to_owned()),
            termination_date: leave.map(|d| (now() + Duration::days(d)).date_naive().to_string()),
            changed_at: (now() - Duration::hours(10) + Duration::minutes(at)).to_rfc3339(),
            groups: groups
                .into_iter()
                .map(|g| EmbeddedGroup {
                    id: format!("G{g}"),
                    group_type: Some("TEAM".to_owned()),
                    ..EmbeddedGroup::default()
                })
                .collect(),
            ..Employee::default()
        })
}

fn page_of(employees: &[Employee]) -> Vec<MappedUser> {
    let policy = TenantPolicy::default();
    newest_per_id(
        employees
            .iter()
            .map(|e| map_employee(e, &policy, now()))
            .collect(),
    )
}

fn rules() -> PageRules {
    PageRules::immediate(now())
}

fn stored(fields: UserFields) -> StoredUser {
    StoredUser::new(UserId(0), fields)
}

/// What the store holds after writing `plan`.
fn apply(plan: &UserPlan, into: &mut HashMap<String, StoredUser>) {
    for w in &plan.writes {
        into.insert(
            w.user.kombo_id.clone(),
            StoredUser {
                teams: w.teams.clone(),
                changed_at: w.changed_at,
                pending: w.pending.clone(),
                ..stored(w.user.clone())
            },
        );
    }
}

/// Everyone on the page stored active, as before a mass termination.
fn all_active(page: &[MappedUser]) -> HashMap<String, StoredUser> {
    page.iter()
        .map(|m| {
            let mut fields = m.user.clone();
            fields.status = UserStatus::Active;
            fields.deactivation_reason = None;
            fields.first_name = Some("before".to_owned());
            (m.user.kombo_id.clone(), stored(fields))
        })
        .collect()
}

proptest! {
    /// Applying a page and planning the same page again writes nothing.
    #[test]
    fn replaying_a_page_is_a_no_op(employees in prop::collection::vec(any_employee(), 0..30)) {
        let page = page_of(&employees);
        let mut stored = HashMap::new();
        let first = plan_users(&stored, &page, &rules());
        prop_assert_eq!(first.stats.created as usize, page.len());
        apply(&first, &mut stored);
        let second = plan_users(&stored, &page, &rules());
        prop_assert!(second.writes.is_empty(), "{:?}", second.writes);
        prop_assert_eq!(second.stats.unchanged as usize, page.len());
    }

    /// A snapshot older than the stored one changes nothing, whatever it says.
    #[test]
    fn an_older_snapshot_never_wins(newer in any_employee(), older in any_employee()) {
        let mut older = older;
        older.id = newer.id.clone();
        older.changed_at = (now() - Duration::days(30)).to_rfc3339();
        let mut stored = HashMap::new();
        apply(&plan_users(&stored, &page_of(&[newer]), &rules()), &mut stored);
        let plan = plan_users(&stored, &page_of(&[older]), &rules());
        prop_assert!(plan.writes.is_empty());
    }

    /// Whatever the decision, the writes that still deactivate are exactly
    /// the admitted ones; held and staged ones keep their users active.
    #[test]
    fn the_guard_decision_is_the_only_way_to_deactivate(
        employees in prop::collection::vec(any_employee(), 0..30),
        decision in prop_oneof![
            Just(Decision::Admit),
            Just(Decision::Stage),
            Just(Decision::Hold { because: "over the budget".to_owned() }),
        ],
        held_ids in prop::collection::vec(0u8..12, 0..4),
    ) {
        let page = page_of(&employees);
        let mut stored = all_active(&page);
        for id in held_ids {
            if let Some(s) = stored.get_mut(&format!("E{id}")) {
                s.held = true;
            }
        }
        let mut plan = plan_users(&stored, &page, &rules());
        let open = screen(&mut plan, &page, &stored);
        let open_ids: Vec<String> = open.iter().map(|&i| plan.writes[i].user.kombo_id.clone()).collect();
        for id in &open_ids {
            prop_assert!(!stored[id].held, "a held user is never open again");
        }
        decide(&mut plan, &open, &decision);
        let deactivating: Vec<&str> = plan.writes.iter().filter(|w| w.deactivates()).map(|w| w.user.kombo_id.as_str()).collect();
        match &decision {
            Decision::Admit => prop_assert_eq!(deactivating.len(), open_ids.len()),
            Decision::Stage => {
                prop_assert!(deactivating.is_empty());
                prop_assert_eq!(plan.staged.len(), open_ids.len());
            }
            Decision::Hold { .. } => {
                prop_assert!(deactivating.is_empty());
                prop_assert_eq!(plan.held.len(), open_ids.len());
                prop_assert_eq!(plan.stats.held as usize, open_ids.len());
            }
        }
        prop_assert_eq!(plan.stats.deactivated as usize, deactivating.len());
        for w in &plan.writes {
            if w.user.status == UserStatus::Active && w.was_active {
                prop_assert!(w.deactivate_at.is_none_or(|at| at > now()) || !open_ids.contains(&w.user.kombo_id));
            }
        }
    }

    /// A rejected snapshot deactivates nobody; a newer one is open again.
    #[test]
    fn a_rejected_snapshot_stays_rejected(employee in any_employee()) {
        let mut employee = employee;
        employee.employment_status = Some("INACTIVE".to_owned());
        let page = page_of(std::slice::from_ref(&employee));
        let mut stored = all_active(&page);
        let incoming = page[0].changed_at;
        if let Some(s) = stored.get_mut(&employee.id) {
            s.rejected_for = incoming;
        }
        let mut plan = plan_users(&stored, &page, &rules());
        prop_assert!(screen(&mut plan, &page, &stored).is_empty());
        prop_assert!(plan.writes.iter().all(|w| !w.deactivates()));
        if let Some(s) = stored.get_mut(&employee.id) {
            s.rejected_for = incoming.map(|t| t - Duration::seconds(1));
        }
        let mut plan = plan_users(&stored, &page, &rules());
        prop_assert_eq!(screen(&mut plan, &page, &stored).len(), 1);
    }
}

#[test]
fn a_deletion_upstream_waits_out_the_grace_period_then_deactivates() {
    let employee = Employee {
        id: "E1".into(),
        remote_deleted_at: Some((now() - Duration::days(3)).to_rfc3339()),
        changed_at: now().to_rfc3339(),
        ..Employee::default()
    };
    let page = page_of(std::slice::from_ref(&employee));
    let stored = all_active(&page);
    let rules = PageRules {
        grace: Duration::hours(24),
        ..rules()
    };
    // Kombo's deletion is three days old; the grace runs from our sighting.
    let plan = plan_users(&stored, &page, &rules);
    let write = &plan.writes[0];
    assert_eq!(write.user.status, UserStatus::Active);
    assert!(!write.deactivates());
    assert_eq!(
        write.pending,
        Some(Pending {
            at: now() + Duration::hours(24),
            reason: "deleted_upstream".into()
        })
    );
    // Seen again within the grace: the deadline stands, nothing changes.
    let mut after = stored.clone();
    apply(&plan, &mut after);
    let later = PageRules {
        now: now() + Duration::hours(23),
        ..rules.clone()
    };
    assert!(plan_users(&after, &page, &later).writes.is_empty());
    // Past the deadline: deactivated, with its reason.
    let due = PageRules {
        now: now() + Duration::hours(25),
        ..rules
    };
    let mut stale = after.clone();
    if let Some(s) = stale.get_mut("E1") {
        s.changed_at = None;
    }
    let plan = plan_users(&stale, &page, &due);
    assert!(plan.writes[0].deactivates());
    assert_eq!(
        plan.writes[0].user.deactivation_reason.as_deref(),
        Some("deleted_upstream")
    );
    assert_eq!(plan.writes[0].pending, None);
}

#[test]
fn a_sighting_clears_a_pending_deactivation() {
    let employee = Employee {
        id: "E1".into(),
        changed_at: now().to_rfc3339(),
        ..Employee::default()
    };
    let page = page_of(std::slice::from_ref(&employee));
    let mut stored = all_active(&page);
    if let Some(s) = stored.get_mut("E1") {
        s.fields.first_name = page[0].user.first_name.clone();
        s.pending = Some(Pending {
            at: now(),
            reason: "missing_from_full_sync".into(),
        });
    }
    let plan = plan_users(&stored, &page, &rules());
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(plan.writes[0].pending, None);
    assert_eq!(plan.writes[0].changes[0].field, "pending_deactivation");
}

/// An anonymised leaver as the store holds them after `tenant anonymise`.
fn anonymised_leaver(record: &MappedUser) -> StoredUser {
    let mut fields = record.user.clone();
    fields.first_name = None;
    fields.last_name = None;
    fields.email = None;
    fields.job_title = None;
    fields.status = UserStatus::Deactivated;
    StoredUser {
        anonymised: true,
        changed_at: Some(now() - Duration::days(20)),
        ..stored(fields)
    }
}

fn leaver(status: &str) -> Employee {
    Employee {
        id: "E1".to_owned(),
        first_name: Some("Ada".to_owned()),
        last_name: Some("Lovelace".to_owned()),
        work_email: Some("ada@acme.example".to_owned()),
        job_title: Some("Analyst".to_owned()),
        employment_status: Some(status.to_owned()),
        changed_at: now().to_rfc3339(),
        ..Employee::default()
    }
}

#[test]
fn an_anonymised_leaver_stays_blank_until_active_again_in_the_hr_system() {
    let gone = page_of(&[leaver("INACTIVE")]);
    assert_eq!(gone[0].user.status, UserStatus::Deactivated);
    let known = [anonymised_leaver(&gone[0])];
    let by_id = HashMap::from([("E1".to_owned(), known[0].clone())]);

    // A newer snapshot of the same deactivated record, by either path.
    let plan = plan_users(&by_id, &gone, &rules());
    assert!(plan.writes.is_empty(), "{:?}", plan.writes);
    assert_eq!((plan.stats.unchanged, plan.stats.updated), (1, 0));
    let page = super::super::plan_page(&known, &gone, &Default::default(), &rules());
    assert!(page.plan.writes.is_empty(), "{:?}", page.plan.writes);
    assert_eq!(page.plan.stats.unchanged, 1);

    // The same person active again: the record applies, names and all.
    let back = page_of(&[leaver("ACTIVE")]);
    let plan = plan_users(&by_id, &back, &rules());
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(plan.writes[0].user.first_name.as_deref(), Some("Ada"));
    assert_eq!(plan.writes[0].user.status, UserStatus::Active);

    // Not anonymised: the deactivated record's names are written as usual.
    let plain = HashMap::from([(
        "E1".to_owned(),
        StoredUser {
            anonymised: false,
            ..known[0].clone()
        },
    )]);
    let plan = plan_users(&plain, &gone, &rules());
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(plan.writes[0].user.last_name.as_deref(), Some("Lovelace"));
}
