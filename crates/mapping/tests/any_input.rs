//! "No string Kombo can send makes a write fail": whatever text a field of an
//! employee holds, the record decodes and maps to values PostgreSQL stores (no
//! NUL, within the indexed columns' limits). Any JSON at all, in any field of
//! any record type: any_json.rs.

mod common;

use common::all_scopes;
use hris_kombo::decode::decode_page;
use hris_kombo::records::Employee;
use hris_mapping::email::MAX_EMAIL_CHARS;
use hris_mapping::employee::{MAX_NAME_CHARS, MAX_REF_BYTES};
use hris_mapping::map_employee;
use proptest::prelude::*;
use serde_json::{Value, json};

const TEXT_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "job_title",
    "work_email",
    "employee_number",
    "remote_id",
    "employment_status",
    "employment_type",
    "manager_id",
    "work_location_id",
    "legal_entity_id",
    "avatar",
    "start_date",
    "termination_date",
    "remote_deleted_at",
];

fn page_of(record: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"status": "success", "data": {"next": null, "results": [record]}}))
        .unwrap_or_default()
}

fn base() -> Value {
    json!({"id": "E1", "changed_at": "2026-01-01T00:00:00.000Z", "groups": [{"id": "G1", "name": "Team", "type": "TEAM"}]})
}

fn storable(s: &str) -> bool {
    !s.contains('\0') && s.chars().all(|c| !c.is_control() || c == '\t' || c == '\n')
}

fn json_storable(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.contains('\0'),
        Value::Array(items) => items.iter().all(json_storable),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| !k.contains('\0') && json_storable(v)),
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any string in any text field: the record decodes and maps to storable,
    /// bounded values.
    #[test]
    fn any_text_in_any_field_maps_to_storable_values(
        field in prop::sample::select(TEXT_FIELDS),
        text in prop_oneof![any::<String>(), "[\u{0}-\u{1f}a-z@. ]{0,40}", "x{300,3000}"],
        custom_key in any::<String>(),
        custom_value in any::<String>(),
    ) {
        let mut record = base();
        record[field] = Value::String(text);
        record["custom_fields"] = json!({ custom_key: custom_value });
        let page = decode_page::<Employee>(&page_of(record)).expect("the envelope always decodes");
        prop_assert_eq!(page.records.len(), 1, "a string is never a wrong type: {:?}", page.bad);
        let mapped = map_employee(&page.records[0], &all_scopes(), chrono::Utc::now());
        let u = &mapped.user;
        for value in [&u.first_name, &u.last_name, &u.job_title, &u.employee_number, &u.remote_id,
                      &u.employment_status, &u.employment_type, &u.email, &u.avatar_url] {
            prop_assert!(value.as_deref().is_none_or(storable), "{:?}", value);
        }
        for name in [&u.first_name, &u.last_name, &u.job_title] {
            prop_assert!(name.as_ref().is_none_or(|n| n.chars().count() <= MAX_NAME_CHARS));
        }
        prop_assert!(u.email.as_ref().is_none_or(|e| e.chars().count() <= MAX_EMAIL_CHARS));
        for reference in [&u.manager_kombo_id, &u.location_kombo_id, &u.legal_entity_kombo_id] {
            prop_assert!(reference.as_ref().is_none_or(|r| r.len() <= MAX_REF_BYTES));
        }
        prop_assert!(u.custom_fields.as_ref().is_none_or(json_storable));
    }
}
