use super::*;
use hris_kombo::records::{EmbeddedLegalEntity, Location};
use proptest::prelude::*;

/// Noon UTC on 2026-06-15.
fn today() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

fn ada() -> Employee {
    Employee {
        id: "E1".into(),
        remote_id: Some("1001".into()),
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        job_title: Some("Engineer".into()),
        work_email: Some(" Ada@Example.com".into()),
        employment_status: Some("ACTIVE".into()),
        start_date: Some("2020-01-01T00:00:00.000Z".into()),
        changed_at: "2026-06-01T10:00:00.000Z".into(),
        manager_id: Some("E0".into()),
        groups: vec![
            group("G-dep", "DEPARTMENT"),
            group("G-cc", "COST_CENTER"),
            group("G-team", "TEAM"),
        ],
        work_location: Some(Location {
            id: "L1".into(),
            name: Some("Berlin".into()),
            changed_at: "2026-01-01T00:00:00Z".into(),
            ..Location::default()
        }),
        legal_entity: Some(EmbeddedLegalEntity {
            id: "LE1".into(),
            ..EmbeddedLegalEntity::default()
        }),
        avatar: Some("https://x/a.png".into()),
        employment_type: Some("FULL_TIME".into()),
        ..Employee::default()
    }
}

fn group(id: &str, t: &str) -> EmbeddedGroup {
    EmbeddedGroup {
        id: id.into(),
        name: Some(id.into()),
        group_type: Some(t.into()),
        ..EmbeddedGroup::default()
    }
}

#[test]
fn an_active_employee_maps_field_by_field() {
    let m = map_employee(&ada(), &TenantPolicy::default(), today());
    let u = &m.user;
    assert_eq!(u.first_name.as_deref(), Some("Ada"));
    assert_eq!(u.email.as_deref(), Some("ada@example.com"));
    assert_eq!(u.email_status, EmailStatus::Ok);
    assert_eq!(u.hire_date, NaiveDate::from_ymd_opt(2020, 1, 1));
    assert_eq!(u.status, UserStatus::Active);
    assert_eq!(u.manager_kombo_id.as_deref(), Some("E0"));
    // TEAM is preferred over DEPARTMENT by default.
    assert_eq!(u.primary_team_kombo_id.as_deref(), Some("G-team"));
    assert_eq!(m.team_kombo_ids, ["G-dep", "G-cc", "G-team"]);
    // Default scopes: work location only.
    assert_eq!(u.location_kombo_id.as_deref(), Some("L1"));
    assert_eq!(u.avatar_url, None);
    assert_eq!(u.legal_entity_kombo_id, None);
    assert_eq!(u.employment_type, None);
    assert!(m.embedded_legal_entity.is_none());
}

#[test]
fn optional_scopes_apply_only_when_enabled() {
    let policy = TenantPolicy {
        scopes: vec![Scope::Avatar, Scope::LegalEntity, Scope::EmploymentType],
        ..TenantPolicy::default()
    };
    let m = map_employee(&ada(), &policy, today());
    assert_eq!(m.user.location_kombo_id, None);
    assert!(m.embedded_location.is_none());
    assert_eq!(m.user.avatar_url.as_deref(), Some("https://x/a.png"));
    assert_eq!(m.user.legal_entity_kombo_id.as_deref(), Some("LE1"));
    assert_eq!(m.user.employment_type.as_deref(), Some("FULL_TIME"));
}

#[test]
fn primary_team_follows_the_tenant_preference() {
    let policy = TenantPolicy {
        primary_team_group_types: vec!["DEPARTMENT".into()],
        ..TenantPolicy::default()
    };
    let m = map_employee(&ada(), &policy, today());
    assert_eq!(m.user.primary_team_kombo_id.as_deref(), Some("G-dep"));
    let policy = TenantPolicy {
        primary_team_group_types: vec!["SQUAD".into()],
        ..TenantPolicy::default()
    };
    assert_eq!(
        map_employee(&ada(), &policy, today())
            .user
            .primary_team_kombo_id,
        None
    );
}

#[test]
fn statuses_and_dates_decide_activation() {
    let policy = TenantPolicy::default();
    let mut e = ada();
    for (status, active) in [
        ("ACTIVE", true),
        ("LEAVE", true),
        ("PENDING", true),
        ("FURLOUGHED_SOMEHOW", true),
        ("INACTIVE", false),
    ] {
        e.employment_status = Some(status.into());
        let u = map_employee(&e, &policy, today()).user;
        assert_eq!(u.status == UserStatus::Active, active, "{status}");
        assert_eq!(u.employment_status.as_deref(), Some(status));
    }
    e.employment_status = Some("ACTIVE".into());
    e.termination_date = Some("2026-06-16T00:00:00Z".into());
    let future = map_employee(&e, &policy, today()).user;
    assert_eq!(future.status, UserStatus::Active);
    assert_eq!(future.leave_date, NaiveDate::from_ymd_opt(2026, 6, 16));
    // The leave day itself: active until its end in the tenant's zone.
    e.termination_date = Some("2026-06-15".into());
    assert_eq!(
        map_employee(&e, &policy, today()).user.status,
        UserStatus::Active
    );
    e.termination_date = Some("2026-06-14".into());
    let u = map_employee(&e, &policy, today()).user;
    assert_eq!(u.status, UserStatus::Deactivated);
    assert_eq!(u.deactivation_reason.as_deref(), Some(reason::LEFT));
    // Rehired: the termination is gone, the user is active again.
    e.termination_date = None;
    assert_eq!(
        map_employee(&e, &policy, today()).user.status,
        UserStatus::Active
    );
    e.remote_deleted_at = Some("2026-06-10T00:00:00Z".into());
    let u = map_employee(&e, &policy, today()).user;
    assert_eq!(
        u.deactivation_reason.as_deref(),
        Some(reason::DELETED_UPSTREAM)
    );
    // Deleted upstream keeps every other field (learning history needs them).
    assert_eq!(u.first_name.as_deref(), Some("Ada"));
}

#[test]
fn bad_emails_keep_the_user_and_flag_it() {
    let mut e = ada();
    e.work_email = None;
    let u = map_employee(&e, &TenantPolicy::default(), today()).user;
    assert_eq!((u.email, u.email_status), (None, EmailStatus::Missing));
    e.work_email = Some("not-an-email".into());
    let u = map_employee(&e, &TenantPolicy::default(), today()).user;
    assert_eq!(u.email_status, EmailStatus::Invalid);
    assert_eq!(u.status, UserStatus::Active);
}

#[test]
fn custom_fields_follow_the_tenant_mapping() {
    let mut e = ada();
    let mut fields = Map::new();
    fields.insert("shirt".into(), Value::from("M"));
    fields.insert("salary".into(), Value::from(1));
    e.custom_fields = Some(fields);
    let mut policy = TenantPolicy {
        scopes: vec![Scope::CustomFields],
        ..TenantPolicy::default()
    };
    let all = map_employee(&e, &policy, today()).user.custom_fields;
    assert_eq!(all, Some(serde_json::json!({"shirt": "M", "salary": 1})));
    policy
        .custom_field_mapping
        .insert("shirt".into(), "tshirt_size".into());
    let mapped = map_employee(&e, &policy, today()).user.custom_fields;
    assert_eq!(mapped, Some(serde_json::json!({"tshirt_size": "M"})));
}

#[test]
fn diff_reports_changed_fields_only() {
    let policy = TenantPolicy::default();
    let before = map_employee(&ada(), &policy, today()).user;
    assert!(crate::diff(Some(&before), &before).is_empty());
    let mut e = ada();
    e.job_title = Some("Staff Engineer".into());
    let after = map_employee(&e, &policy, today()).user;
    let changes = crate::diff(Some(&before), &after);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].field, "job_title");
    assert_eq!(changes[0].new, Value::from("Staff Engineer"));
    let created = crate::diff(None, &after);
    assert!(created.iter().all(|c| c.old.is_null() && !c.new.is_null()));
}

fn any_string() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(String::new())),
        "\\PC{0,24}".prop_map(Some),
        Just(Some("2024-02-29T00:00:00.000Z".to_owned())),
        Just(Some("INACTIVE".to_owned())),
    ]
}

fn any_group() -> impl Strategy<Value = EmbeddedGroup> {
    ("\\PC{0,8}", any_string(), any_string()).prop_map(|(id, name, group_type)| EmbeddedGroup {
        id,
        remote_id: None,
        name,
        group_type,
    })
}

prop_compose! {
    fn any_employee()(
        id in "\\PC{0,12}",
        names in (any_string(), any_string(), any_string()),
        email in any_string(),
        status in any_string(),
        dates in (any_string(), any_string(), any_string(), any_string()),
        manager in any_string(),
        groups in proptest::collection::vec(any_group(), 0..5),
    ) -> Employee {
        Employee {
            id,
            first_name: names.0,
            last_name: names.1,
            job_title: names.2,
            work_email: email,
            employment_status: status,
            start_date: dates.0,
            termination_date: dates.1,
            remote_deleted_at: dates.2,
            changed_at: dates.3.unwrap_or_default(),
            manager_id: manager,
            groups,
            ..Employee::default()
        }
    }
}

proptest! {
    #[test]
    fn any_employee_maps_without_panic_and_consistently(e in any_employee()) {
        let policy = TenantPolicy {
            scopes: vec![Scope::WorkLocation, Scope::Avatar, Scope::LegalEntity, Scope::EmploymentType, Scope::CustomFields],
            ..TenantPolicy::default()
        };
        let m = map_employee(&e, &policy, today());
        // Deactivated exactly when there is a reason, and a reason says why.
        prop_assert_eq!(m.user.status == UserStatus::Deactivated, m.user.deactivation_reason.is_some());
        // The primary team is one of the employee's groups.
        if let Some(team) = &m.user.primary_team_kombo_id {
            prop_assert!(m.team_kombo_ids.contains(team));
        }
        // Mapping is a function: same input, same output, and no spurious diff.
        let again = map_employee(&e, &policy, today());
        prop_assert!(crate::diff(Some(&m.user), &again.user).is_empty());
        // An email is either OK and normalised, or flagged.
        if m.user.email_status == EmailStatus::Ok {
            let email = m.user.email.clone().unwrap_or_default();
            prop_assert_eq!(email.to_lowercase(), email);
        }
    }
}

#[test]
fn the_first_name_comes_from_the_tenants_chosen_source() {
    let mut fields = serde_json::Map::new();
    fields.insert("preferred_name".into(), serde_json::json!(" Kate "));
    let employee = Employee {
        id: "E1".into(),
        first_name: Some("Katherine".into()),
        custom_fields: Some(fields),
        changed_at: "2026-01-01T00:00:00Z".into(),
        ..Employee::default()
    };
    let now = chrono::Utc::now();
    let plain = TenantPolicy::default();
    assert_eq!(
        map_employee(&employee, &plain, now)
            .user
            .first_name
            .as_deref(),
        Some("Katherine")
    );
    let preferred = TenantPolicy::default()
        .with_identity(&serde_json::json!({}), "custom_field:preferred_name");
    assert_eq!(
        map_employee(&employee, &preferred, now)
            .user
            .first_name
            .as_deref(),
        Some("Kate")
    );
    let missing =
        TenantPolicy::default().with_identity(&serde_json::json!({}), "custom_field:nickname");
    assert_eq!(
        map_employee(&employee, &missing, now)
            .user
            .first_name
            .as_deref(),
        Some("Katherine"),
        "an empty source falls back to first_name"
    );
}

#[test]
fn someone_outside_the_scope_filter_is_marked_out_of_scope() {
    let employee = Employee {
        id: "E1".into(),
        legal_entity_id: Some("LE2".into()),
        employment_status: Some("ACTIVE".into()),
        changed_at: "2026-01-01T00:00:00Z".into(),
        ..Employee::default()
    };
    let policy = TenantPolicy::default().with_identity(
        &serde_json::json!({"legal_entities": ["LE1"]}),
        "first_name",
    );
    let mapped = map_employee(&employee, &policy, chrono::Utc::now());
    assert!(!mapped.in_scope);
    assert_eq!(
        mapped.user.deactivation_reason.as_deref(),
        Some("out_of_scope")
    );
    let everyone = TenantPolicy::default();
    assert!(map_employee(&employee, &everyone, chrono::Utc::now()).in_scope);
}
