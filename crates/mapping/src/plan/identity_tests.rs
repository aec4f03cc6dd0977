use chrono::{DateTime, Duration, Utc};
use hris_kombo::records::Employee;
use proptest::prelude::*;

use super::*;
use crate::TenantPolicy;
use crate::email::normalise;
use crate::employee::map_employee;
use crate::identity::IdentityMatch;
use crate::lifecycle::InvitePolicy;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default()
}

fn rules() -> PageRules {
    PageRules::immediate(now())
}

fn employee(id: &str, email: &str) -> Employee {
    Employee {
        id: id.into(),
        first_name: Some(format!("name of {id}")),
        work_email: Some(email.into()),
        employment_status: Some("ACTIVE".into()),
        start_date: Some((now() + Duration::days(3)).to_rfc3339()),
        changed_at: now().to_rfc3339(),
        ..Employee::default()
    }
}

fn mapped(employees: &[Employee]) -> Vec<MappedUser> {
    let policy = TenantPolicy::default().with_invite(InvitePolicy::Immediately);
    employees
        .iter()
        .map(|e| map_employee(e, &policy, now()))
        .collect()
}

/// A user as stored: linked to `kombo` (or the platform's own), with an email
/// as the platform wrote it.
fn user(id: i64, kombo: Option<&str>, raw_email: &str) -> StoredUser {
    let record = mapped(&[employee(kombo.unwrap_or(""), raw_email)]).remove(0);
    let mut fields = record.user;
    fields.email = Some(raw_email.into());
    StoredUser {
        emails: normalise(Some(raw_email)).0.into_iter().collect(),
        ..StoredUser::new(UserId(id), fields)
    }
}

fn no_decisions() -> BTreeMap<String, Decided> {
    BTreeMap::new()
}

#[test]
fn platform_users_are_adopted_whatever_the_case_and_spaces_of_their_email() {
    let known = [
        user(10, None, " Ada@Example.com"),
        user(11, None, "BOB@example.com "),
    ];
    let page = mapped(&[
        employee("K1", "ada@example.com"),
        employee("K2", "bob@EXAMPLE.com"),
        employee("K3", "cy@example.com"),
    ]);
    let out = plan_page(&known, &page, &no_decisions(), &rules());
    let relinked: Vec<(UserId, Option<String>, String)> = out
        .plan
        .relinks
        .iter()
        .map(|r| (r.user, r.from.clone(), r.to.clone()))
        .collect();
    assert_eq!(
        relinked,
        vec![
            (UserId(10), None, "K1".to_owned()),
            (UserId(11), None, "K2".to_owned())
        ]
    );
    assert_eq!(out.plan.stats.created, 1, "only the stranger is new");
    assert_eq!(out.plan.stats.updated, 2);
    assert!(
        out.plan
            .writes
            .iter()
            .filter(|w| w.is_new)
            .all(|w| w.user.kombo_id == "K3")
    );
}

#[test]
fn a_record_deleted_and_created_again_keeps_the_same_user() {
    let known = [user(7, Some("K_OLD"), "ada@example.com")];
    let mut old = employee("K_OLD", "ada@example.com");
    old.remote_deleted_at = Some(now().to_rfc3339());
    let page = mapped(&[old, employee("K_NEW", "ada@example.com")]);
    let out = plan_page(&known, &page, &no_decisions(), &rules());
    assert_eq!(
        out.plan.relinks,
        vec![Relink {
            user: UserId(7),
            from: Some("K_OLD".into()),
            to: "K_NEW".into(),
            by: MatchKey::Email,
        }]
    );
    assert_eq!(out.plan.writes.len(), 1, "{:?}", out.plan.writes);
    let write = &out.plan.writes[0];
    assert_eq!(write.user.kombo_id, "K_NEW");
    assert_eq!(write.user.status, UserStatus::Active);
    assert!(!write.deactivates() && !write.is_new);
    assert_eq!(
        write.invite_at, None,
        "an active person is not invited again"
    );
}

#[test]
fn two_live_records_with_one_email_change_nobody_and_the_rest_applies() {
    let known = [user(1, Some("K1"), "hr@example.com")];
    let page = mapped(&[
        employee("K1", "hr@example.com"),
        employee("K2", "hr@example.com"),
        employee("K3", "cy@example.com"),
    ]);
    let out = plan_page(&known, &page, &no_decisions(), &rules());
    let conflicted: Vec<&str> = out
        .plan
        .conflicts
        .iter()
        .map(|c| c.kombo_id.as_str())
        .collect();
    assert_eq!(conflicted, ["K1", "K2"]);
    assert_eq!(out.plan.stats.conflicts, 2);
    let written: Vec<&str> = out
        .plan
        .writes
        .iter()
        .map(|w| w.user.kombo_id.as_str())
        .collect();
    assert_eq!(written, ["K3"]);
    assert!(out.plan.relinks.is_empty());
}

#[test]
fn an_employee_number_adopts_without_rewriting_the_login_email() {
    let mut platform = user(5, None, "ada.old@example.com");
    platform.fields.employee_number = Some("A-17".into());
    let mut record = employee("K1", "ada.new@example.com");
    record.employee_number = Some(" A-17 ".into());
    let rules = PageRules {
        identity: IdentityMatch::EmailThenEmployeeNumber,
        ..rules()
    };
    let out = plan_page(&[platform], &mapped(&[record]), &no_decisions(), &rules);
    assert_eq!(out.plan.relinks[0].by, MatchKey::EmployeeNumber);
    assert_eq!(
        out.plan.writes[0].user.email.as_deref(),
        Some("ada.old@example.com")
    );
    assert!(
        out.plan.writes[0]
            .changes
            .iter()
            .all(|c| c.field != "email")
    );
}

#[test]
fn invitations_follow_the_person() {
    let mut invited = user(1, None, "ada@example.com");
    invited.invited = true;
    let mut left = user(2, Some("K_OLD"), "bob@example.com");
    left.fields.status = UserStatus::Deactivated;
    left.fields.deactivation_reason = Some(reason::LEFT.into());
    let page = mapped(&[
        employee("K1", "ada@example.com"),
        employee("K2", "bob@example.com"),
    ]);
    let out = plan_page(
        &[invited.clone(), left.clone()],
        &page,
        &no_decisions(),
        &rules(),
    );
    let ada = &out.plan.writes[0];
    assert_eq!((ada.invite_at, ada.reinvite), (None, false));
    let bob = &out.plan.writes[1];
    assert!(
        bob.invite_at.is_some() && bob.reinvite,
        "a returning leaver is invited again"
    );
    assert_eq!(bob.user.status, UserStatus::Active);

    let never = PageRules {
        rehire_invite: false,
        ..rules()
    };
    let out = plan_page(&[invited, left], &page, &no_decisions(), &never);
    assert_eq!(
        (out.plan.writes[1].invite_at, out.plan.writes[1].reinvite),
        (None, false)
    );
}

#[test]
fn someone_out_of_scope_is_never_created_nor_adopts() {
    let known = [user(1, None, "ada@example.com")];
    let mut page = mapped(&[
        employee("K1", "ada@example.com"),
        employee("K2", "bob@example.com"),
    ]);
    for m in &mut page {
        m.in_scope = false;
    }
    let out = plan_page(&known, &page, &no_decisions(), &rules());
    assert!(out.plan.writes.is_empty() && out.plan.relinks.is_empty());
    assert_eq!(out.plan.stats.unchanged, 2);
}

fn any_known() -> impl Strategy<Value = Vec<StoredUser>> {
    prop::collection::vec((prop::option::of(0..6u8), 0..4u8, any::<bool>()), 0..6).prop_map(
        |rows| {
            let mut linked = BTreeSet::new();
            rows.into_iter()
                .enumerate()
                .map(|(i, (kombo, email, deactivated))| {
                    let kombo = kombo.filter(|k| linked.insert(*k)).map(|k| format!("K{k}"));
                    let mut u = user(i as i64 + 1, kombo.as_deref(), &format!("e{email}@x.com"));
                    if deactivated {
                        u.fields.status = UserStatus::Deactivated;
                    }
                    u
                })
                .collect()
        },
    )
}

fn any_page() -> impl Strategy<Value = Vec<MappedUser>> {
    prop::collection::btree_map(0..6u8, (0..4u8, any::<bool>()), 0..6).prop_map(|records| {
        let employees: Vec<Employee> = records
            .into_iter()
            .map(|(k, (email, deleted))| {
                let mut e = employee(&format!("K{k}"), &format!("e{email}@x.com"));
                if deleted {
                    e.remote_deleted_at = Some(now().to_rfc3339());
                }
                e
            })
            .collect();
        mapped(&employees)
    })
}

proptest! {
    /// Whatever the users and the page: one user is written for at most one
    /// record, relinked at most once, and a conflicted record writes nothing.
    #[test]
    fn a_page_never_merges_or_duplicates(known in any_known(), page in any_page()) {
        let out = plan_page(&known, &page, &no_decisions(), &rules());
        let mut relinked = BTreeSet::new();
        for r in &out.plan.relinks {
            prop_assert!(relinked.insert(r.user), "user {:?} relinked twice", r.user);
        }
        let conflicted: BTreeSet<&str> = out.plan.conflicts.iter().map(|c| c.kombo_id.as_str()).collect();
        let mut written_users = BTreeSet::new();
        for w in &out.plan.writes {
            prop_assert!(!conflicted.contains(w.user.kombo_id.as_str()));
            if let Some(s) = out.stored.get(&w.user.kombo_id) {
                prop_assert!(written_users.insert(s.id), "user {:?} written twice", s.id);
            }
        }
        // No two active writes share an email unless one of them is a user
        // already stored with it (the planner never creates a second one).
        let new_emails: Vec<&str> = out.plan.writes.iter()
            .filter(|w| w.is_new && w.user.status == UserStatus::Active)
            .filter_map(|w| w.user.email.as_deref())
            .collect();
        let unique: BTreeSet<&&str> = new_emails.iter().collect();
        prop_assert_eq!(unique.len(), new_emails.len());
    }
}

fn any_raw_email() -> impl Strategy<Value = String> {
    prop_oneof![
        // Shared mailboxes, case and spaces around one address.
        prop::sample::select(vec!["hr@x.com", " HR@X.COM ", "Hr@x.com\t"]).prop_map(str::to_owned),
        // Unicode, no @, several @, empty: whatever an HR system holds.
        "[a-zA-Zäöüß@. ]{0,12}",
        ".{0,20}",
    ]
}

proptest! {
    /// Any addresses, many records sharing one: the page is planned without
    /// a panic, never creates two active users with one address, and never
    /// writes a record it found in conflict.
    #[test]
    fn any_emails_have_a_defined_outcome(
        raw in prop::collection::vec((any_raw_email(), any::<bool>()), 1..10),
        platform in prop::collection::vec(any_raw_email(), 0..4),
    ) {
        let known: Vec<StoredUser> = platform
            .iter()
            .enumerate()
            .map(|(i, email)| user(100 + i as i64, None, email))
            .collect();
        let employees: Vec<Employee> = raw
            .iter()
            .enumerate()
            .map(|(i, (email, deleted))| {
                let mut e = employee(&format!("K{i}"), email);
                if *deleted {
                    e.remote_deleted_at = Some(now().to_rfc3339());
                }
                e
            })
            .collect();
        let out = plan_page(&known, &mapped(&employees), &no_decisions(), &rules());
        let conflicted: BTreeSet<&str> =
            out.plan.conflicts.iter().map(|c| c.kombo_id.as_str()).collect();
        let mut active_emails = BTreeSet::new();
        for w in &out.plan.writes {
            prop_assert!(!conflicted.contains(w.user.kombo_id.as_str()));
            if w.user.status == UserStatus::Active
                && w.user.email_status == crate::email::EmailStatus::Ok
                && let Some(email) = &w.user.email
            {
                prop_assert!(active_emails.insert(email.clone()), "two active users with {email}");
            }
        }
        let mut adopted = BTreeSet::new();
        for r in &out.plan.relinks {
            prop_assert!(adopted.insert(r.user));
        }
    }
}
