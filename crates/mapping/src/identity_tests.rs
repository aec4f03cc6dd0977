use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn user(id: i64, kombo: Option<&str>, email: &str, number: Option<&str>) -> Candidate {
    Candidate {
        user: UserId(id),
        kombo_id: kombo.map(str::to_owned),
        emails: vec![email.to_owned()],
        employee_number: number.map(str::to_owned),
        record_ended: false,
        former_kombo_ids: Vec::new(),
    }
}

fn record(kombo: &str, email: Option<&str>, number: Option<&str>) -> Arrival {
    Arrival {
        kombo_id: kombo.to_owned(),
        email: email.map(str::to_owned),
        employee_number: number.map(str::to_owned),
        ended: false,
        decided: None,
    }
}

#[test]
fn a_platform_user_is_adopted_by_email_and_a_linked_one_stays_linked() {
    let users = [
        user(1, None, "ada@x.com", None),
        user(2, Some("K2"), "bob@x.com", None),
    ];
    let page = [
        record("K1", Some("ada@x.com"), None),
        record("K2", Some("bob@x.com"), None),
        record("K3", Some("cy@x.com"), None),
    ];
    assert_eq!(
        resolve(&users, &page, IdentityMatch::Email),
        vec![
            Identity::Adopt {
                user: UserId(1),
                by: MatchKey::Email,
                email_follows: true
            },
            Identity::Linked(UserId(2)),
            Identity::Create,
        ]
    );
}

#[test]
fn a_rehire_under_a_new_kombo_id_takes_over_the_same_user() {
    let mut left = user(7, Some("OLD"), "ada@x.com", None);
    left.record_ended = true;
    let page = [record("NEW", Some("ada@x.com"), None)];
    assert_eq!(
        resolve(&[left], &page, IdentityMatch::Email),
        vec![Identity::Adopt {
            user: UserId(7),
            by: MatchKey::Email,
            email_follows: true
        }]
    );
}

#[test]
fn a_contractor_made_permanent_in_one_page_supersedes_the_old_record() {
    let contractor = user(7, Some("C"), "ada@x.com", None);
    let mut ended = record("C", Some("ada@x.com"), None);
    ended.ended = true;
    let page = [ended, record("P", Some("ada@x.com"), None)];
    assert_eq!(
        resolve(&[contractor], &page, IdentityMatch::Email),
        vec![
            Identity::Superseded { by: "P".into() },
            Identity::Adopt {
                user: UserId(7),
                by: MatchKey::Email,
                email_follows: true
            },
        ]
    );
}

#[test]
fn an_email_held_by_a_live_linked_user_is_a_conflict() {
    let users = [user(2, Some("K2"), "ada@x.com", None)];
    let page = [record("K9", Some("ada@x.com"), None)];
    assert_eq!(
        resolve(&users, &page, IdentityMatch::Email),
        vec![Identity::Conflict(Conflict::EmailHeld { user: UserId(2) })]
    );
}

#[test]
fn two_live_records_with_one_email_both_conflict_and_nobody_changes() {
    let users = [user(1, Some("A"), "hr@x.com", None)];
    let page = [
        record("A", Some("hr@x.com"), None),
        record("B", Some("hr@x.com"), None),
        record("C", Some("cy@x.com"), None),
    ];
    let out = resolve(&users, &page, IdentityMatch::Email);
    assert_eq!(
        out[0],
        Identity::Conflict(Conflict::SharedEmail {
            others: vec!["B".into()]
        })
    );
    assert_eq!(
        out[1],
        Identity::Conflict(Conflict::SharedEmail {
            others: vec!["A".into()]
        })
    );
    assert_eq!(out[2], Identity::Create);
}

#[test]
fn two_platform_users_with_one_email_are_ambiguous() {
    let users = [
        user(1, None, "ada@x.com", None),
        user(2, None, "ada@x.com", None),
    ];
    let page = [record("K", Some("ada@x.com"), None)];
    assert_eq!(
        resolve(&users, &page, IdentityMatch::Email),
        vec![Identity::Conflict(Conflict::Ambiguous {
            users: vec![UserId(1), UserId(2)]
        })]
    );
}

#[test]
fn the_employee_number_adopts_only_when_the_tenant_allows_and_keeps_the_email() {
    let users = [user(1, None, "old@x.com", Some("E-1"))];
    let page = [record("K", Some("new@x.com"), Some("E-1"))];
    assert_eq!(
        resolve(&users, &page, IdentityMatch::Email),
        vec![Identity::Create]
    );
    assert_eq!(
        resolve(&users, &page, IdentityMatch::EmailThenEmployeeNumber),
        vec![Identity::Adopt {
            user: UserId(1),
            by: MatchKey::EmployeeNumber,
            email_follows: false
        }]
    );
    assert_eq!(
        resolve(&users, &page, IdentityMatch::KomboIdOnly),
        vec![Identity::Create]
    );
}

#[test]
fn a_former_email_still_finds_the_person() {
    let mut moved = user(4, None, "new@x.com", None);
    moved.emails.push("old@x.com".into());
    let page = [record("K", Some("old@x.com"), None)];
    assert!(matches!(
        resolve(&[moved], &page, IdentityMatch::Email)[0],
        Identity::Adopt {
            user: UserId(4),
            ..
        }
    ));
}

#[test]
fn a_user_two_records_would_adopt_is_neithers() {
    let mut both = user(3, None, "new@x.com", None);
    both.emails.push("old@x.com".into());
    let page = [
        record("A", Some("new@x.com"), None),
        record("B", Some("old@x.com"), None),
    ];
    let conflict = Identity::Conflict(Conflict::Ambiguous {
        users: vec![UserId(3)],
    });
    assert_eq!(
        resolve(&[both], &page, IdentityMatch::Email),
        vec![conflict.clone(), conflict]
    );
}

#[test]
fn the_setting_has_one_spelling_each() {
    for &rule in IdentityMatch::ALL {
        assert_eq!(rule.as_str().parse::<IdentityMatch>(), Ok(rule));
    }
    assert!("Email".parse::<IdentityMatch>().is_err());
}

// Small alphabets so that collisions (shared emails, numbers, ids) are common.
fn any_candidates() -> impl Strategy<Value = Vec<Candidate>> {
    prop::collection::vec(
        (
            prop::option::of(0..6u8),
            prop::collection::vec(0..3u8, 0..3),
            prop::option::of(0..4u8),
            any::<bool>(),
        ),
        0..8,
    )
    .prop_map(|rows| {
        let mut seen_kombo = std::collections::BTreeSet::new();
        rows.into_iter()
            .enumerate()
            .map(|(i, (kombo, emails, number, ended))| Candidate {
                user: UserId(i as i64 + 1),
                // A Kombo id links at most one user (a unique index).
                kombo_id: kombo
                    .filter(|k| seen_kombo.insert(*k))
                    .map(|k| format!("K{k}")),
                emails: emails.into_iter().map(|e| format!("e{e}@x.com")).collect(),
                employee_number: number.map(|n| format!("N{n}")),
                record_ended: ended,
                former_kombo_ids: Vec::new(),
            })
            .collect()
    })
}

fn any_page() -> impl Strategy<Value = Vec<Arrival>> {
    prop::collection::btree_map(
        0..8u8,
        (
            prop::option::of(0..3u8),
            prop::option::of(0..4u8),
            any::<bool>(),
        ),
        0..8,
    )
    .prop_map(|records| {
        records
            .into_iter()
            .map(|(k, (email, number, ended))| Arrival {
                kombo_id: format!("K{k}"),
                email: email.map(|e| format!("e{e}@x.com")),
                employee_number: number.map(|n| format!("N{n}")),
                ended,
                decided: None,
            })
            .collect()
    })
}

fn any_rule() -> impl Strategy<Value = IdentityMatch> {
    prop::sample::select(IdentityMatch::ALL.to_vec())
}

/// The user each record would write to.
fn claimed(out: &[Identity]) -> Vec<UserId> {
    out.iter()
        .filter_map(|i| match i {
            Identity::Linked(u) | Identity::Adopt { user: u, .. } => Some(*u),
            _ => None,
        })
        .collect()
}

proptest! {
    // Collisions that matter (one free user with two emails, each on one live
    // record) are rare among random pages: more cases than the default.
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn no_user_is_ever_given_to_two_records(
        users in any_candidates(), page in any_page(), rule in any_rule()
    ) {
        let mut claims = claimed(&resolve(&users, &page, rule));
        let n = claims.len();
        claims.sort();
        claims.dedup();
        prop_assert_eq!(claims.len(), n);
    }

    #[test]
    fn adoption_by_a_non_email_key_never_rewrites_the_email(
        users in any_candidates(), page in any_page(), rule in any_rule()
    ) {
        for identity in resolve(&users, &page, rule) {
            if let Identity::Adopt { by, email_follows, .. } = identity {
                prop_assert_eq!(email_follows, by == MatchKey::Email);
            }
        }
    }

    #[test]
    fn a_user_linked_to_a_live_record_is_never_taken_over(
        users in any_candidates(), page in any_page(), rule in any_rule()
    ) {
        let ended_in_page: Vec<&str> =
            page.iter().filter(|a| a.ended).map(|a| a.kombo_id.as_str()).collect();
        for identity in resolve(&users, &page, rule) {
            if let Identity::Adopt { user, .. } = identity {
                let c = users.iter().find(|c| c.user == user);
                let taken = c.map(|c| match c.kombo_id.as_deref() {
                    None => true,
                    Some(k) => c.record_ended || ended_in_page.contains(&k),
                });
                prop_assert_eq!(taken, Some(true), "{:?} adopted", c);
            }
        }
    }

    #[test]
    fn kombo_id_only_never_adopts(users in any_candidates(), page in any_page()) {
        let adopted = resolve(&users, &page, IdentityMatch::KomboIdOnly)
            .into_iter()
            .any(|i| matches!(i, Identity::Adopt { .. }));
        prop_assert!(!adopted);
    }

    #[test]
    fn the_page_order_does_not_change_anyone(
        users in any_candidates(), page in any_page(), rule in any_rule()
    ) {
        let forward: BTreeMap<String, Identity> = page
            .iter()
            .map(|a| a.kombo_id.clone())
            .zip(resolve(&users, &page, rule))
            .collect();
        let mut reversed = page.clone();
        reversed.reverse();
        let backward: BTreeMap<String, Identity> = reversed
            .iter()
            .map(|a| a.kombo_id.clone())
            .zip(resolve(&users, &reversed, rule))
            .collect();
        prop_assert_eq!(forward, backward);
    }

    #[test]
    fn a_known_kombo_id_is_linked_unless_its_email_is_shared_held_or_superseded(
        users in any_candidates(), page in any_page(), rule in any_rule()
    ) {
        for (a, identity) in page.iter().zip(resolve(&users, &page, rule)) {
            if let Some(c) = users.iter().find(|c| c.kombo_id.as_deref() == Some(&a.kombo_id)) {
                // Held: another live user's current email is this record's.
                let held_by_another = |holder: UserId| {
                    users.iter().any(|o| {
                        o.user == holder && o.user != c.user && !o.record_ended
                            && o.emails.first() == a.email.as_ref()
                    })
                };
                let ok = identity == Identity::Linked(c.user)
                    || matches!(identity, Identity::Conflict(Conflict::SharedEmail { .. }))
                    || matches!(identity, Identity::Conflict(Conflict::EmailHeld { user }) if held_by_another(user))
                    || (a.ended && matches!(identity, Identity::Superseded { .. }));
                prop_assert!(ok, "{:?} for {:?}", identity, a);
            }
        }
    }
}

#[test]
fn a_late_copy_of_a_handed_over_record_writes_nothing() {
    let mut relinked = user(1, Some("K_NEW"), "ada@x.com", None);
    relinked.former_kombo_ids = vec!["K_OLD".into()];
    let mut old = record("K_OLD", Some("ada@x.com"), None);
    old.ended = true;
    assert_eq!(
        resolve(&[relinked], &[old], IdentityMatch::Email),
        vec![Identity::Superseded { by: "K_NEW".into() }]
    );
}

#[test]
fn an_earlier_email_of_a_live_user_is_free_for_someone_new() {
    // Ada moved to ada.l@x.com; a new hire gets ada@x.com.
    let mut ada = user(1, Some("K1"), "ada.l@x.com", None);
    ada.emails.push("ada@x.com".into());
    assert_eq!(
        resolve(
            &[ada],
            &[record("K2", Some("ada@x.com"), None)],
            IdentityMatch::Email
        ),
        vec![Identity::Create]
    );
}

#[test]
fn a_decision_overrides_matching() {
    let users = [user(1, None, "hr@x.com", None)];
    let mut create = record("K1", Some("hr@x.com"), None);
    create.decided = Some(Decided::Create);
    let mut ignore = record("K2", Some("hr@x.com"), None);
    ignore.decided = Some(Decided::Ignore);
    assert_eq!(
        resolve(&users, &[create, ignore], IdentityMatch::Email),
        vec![Identity::Create, Identity::Ignored]
    );
    // A linked record decided "on its own" keeps its user, email or not.
    let linked = [
        user(1, Some("K1"), "ada@x.com", None),
        user(2, Some("K2"), "bob@x.com", None),
    ];
    let mut own = record("K2", Some("ada@x.com"), None);
    own.decided = Some(Decided::Create);
    assert_eq!(
        resolve(&linked, &[own], IdentityMatch::Email),
        vec![Identity::Linked(UserId(2))]
    );
}

#[test]
fn a_linked_record_that_takes_an_email_another_live_user_holds_waits() {
    let users = [
        user(1, Some("K1"), "ada@x.com", None),
        user(2, Some("K2"), "bob@x.com", None),
    ];
    // Bob's record now says ada@: Ada is live and not in the page.
    assert_eq!(
        resolve(
            &users,
            &[record("K2", Some("ada@x.com"), None)],
            IdentityMatch::Email
        ),
        vec![Identity::Conflict(Conflict::EmailHeld { user: UserId(1) })]
    );
    // The same page moves Ada to another address: no conflict.
    assert_eq!(
        resolve(
            &users,
            &[
                record("K1", Some("ada2@x.com"), None),
                record("K2", Some("ada@x.com"), None)
            ],
            IdentityMatch::Email
        ),
        vec![Identity::Linked(UserId(1)), Identity::Linked(UserId(2))]
    );
}
